import { gunzipSync } from 'node:zlib'
import { Hono } from 'hono'
import { type AuthEnv, authenticate, requireRole, type Tokens } from '../auth/index.ts'
import { AppError, issueMessage, refuse } from '../errors.ts'
import type { Hosts } from '../hosts/index.ts'
import type { Pipeline } from '../ingest/index.ts'
import { admitSamples, INGEST_ROLES } from '../metrics/index.ts'
import { describeRoute, limitBody } from '../openapi/index.ts'
import { keyedSerial } from '../serial.ts'
import type { NamedSample, Store } from '../store/index.ts'
import { type OtlpPoint, pointsByHost } from './map.ts'
import { decodeMetricsRequest, ProtobufError } from './protobuf.ts'
import { MetricsRequest } from './schema.ts'
import { mediaType, PROTOBUF, protobufRefusals } from './status.ts'

const MAX_BODY = 1024 * 1024
/** A gzip body may inflate to this much at most. */
const MAX_INFLATED = 8 * 1024 * 1024

export interface OtlpRouteDeps {
  store: Pick<Store, 'acceptsFrom' | 'countSeries' | 'latestOf'>
  pipeline: Pick<Pipeline, 'samples'>
  hosts: Pick<Hosts, 'speaksFor'>
  /** The hub's own host: where a resource without `host.name` reports. */
  host: string
  tokens: Tokens
  allowAnonymous: boolean
  maxSeriesPerHost: number
}

/** The request's bytes, inflated when it is gzip (OTLP exporters' `compression: 'gzip'`). */
function inflate(body: Uint8Array, encoding: string | undefined): Uint8Array {
  const e = (encoding ?? 'identity').trim().toLowerCase()
  if (e === 'identity') return body
  if (e !== 'gzip') throw new AppError('invalid', `Content-Encoding ${e} is not supported: send gzip or none`)
  try {
    return gunzipSync(body, { maxOutputLength: MAX_INFLATED })
  } catch (err) {
    throw new AppError(
      'invalid',
      `The gzip body does not inflate (at most ${MAX_INFLATED} bytes): ${(err as Error).message}`,
    )
  }
}

/** The body as OTLP/JSON's shape, from protobuf or JSON by its content type. */
function parse(body: Uint8Array, type: string): unknown {
  if (type === PROTOBUF) {
    try {
      return decodeMetricsRequest(body)
    } catch (err) {
      if (err instanceof ProtobufError) throw new AppError('invalid', `The protobuf body is malformed: ${err.message}`)
      throw err
    }
  }
  if (type === 'application/json') {
    try {
      return JSON.parse(new TextDecoder().decode(body))
    } catch {
      throw new AppError('invalid', 'Body is not valid JSON')
    }
  }
  throw new AppError('invalid', `Content-Type must be ${PROTOBUF} or application/json, not ${type || 'absent'}`)
}

/**
 * A host's points as samples: gauges and cumulative sums as they are; a delta sum's points added, in time order,
 * onto its series' last stored value, so it is stored as the running total a cumulative sum would be. A delta
 * point not newer than that value was taken already (an exporter's retry) and is left out.
 */
async function samplesOf(store: OtlpRouteDeps['store'], host: string, points: OtlpPoint[]): Promise<NamedSample[]> {
  const deltas = points.filter((p) => p.delta).sort((a, b) => a.ts - b.ts)
  const last = deltas.length > 0 ? await store.latestOf(host, new Set(deltas.map((p) => p.name))) : new Map()
  const out: NamedSample[] = []
  for (const p of points) if (!p.delta) out.push({ name: p.name, ts: p.ts, value: p.value })
  for (const p of deltas) {
    const before = last.get(p.name)
    if (before && before.ts >= p.ts) continue
    const total = (before?.value ?? 0) + p.value
    last.set(p.name, { ts: p.ts, value: total })
    out.push({ name: p.name, ts: p.ts, value: total })
  }
  return out
}

/**
 * `POST /v1/metrics`: OTLP/HTTP from OpenTelemetry SDKs and collectors, protobuf or JSON (gzip or not), for
 * reporter, agent and admin tokens. Gauges and sums become Vigil series of the host each resource's `host.name`
 * names, histograms and summaries their count and sum (and a summary's quantiles). The same rules as
 * `POST /api/metrics` (reserved names, times, `VIGIL_MAX_SERIES`) apply to every host of the request before
 * anything is stored. A protobuf request's refusal is a protobuf `Status` (`protobufRefusals`).
 */
export function otlpRoutes(deps: OtlpRouteDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>()
  // One request at a time per host: a delta sum's running total is read, then written
  const serially = keyedSerial()

  app.post(
    '/v1/metrics',
    describeRoute({
      tag: 'metrics',
      summary: 'OpenTelemetry metrics in (OTLP/HTTP)',
      description:
        "An `ExportMetricsServiceRequest` as `application/x-protobuf` or `application/json`, gzip or not. Gauges and sums (cumulative or delta) become series of the host its resource's `host.name` names (the hub's own without one); histograms and summaries become their `_count` and `_sum` (and a summary's quantiles). The name mapping is in docs/api.md. A protobuf request's refusal is a protobuf `google.rpc.Status`, as OTLP asks, whose `ErrorInfo` reason is the error code below; a JSON request's is the JSON error body.",
      response: { description: 'An empty `ExportMetricsServiceResponse`: no bytes for protobuf, `{}` for JSON' },
      body: { schema: MetricsRequest, required: true, types: [PROTOBUF, 'application/json'] },
      errors: ['cardinality_limit', 'unavailable'],
    }),
    protobufRefusals(),
    authenticate(deps.tokens, deps.allowAnonymous),
    requireRole(INGEST_ROLES, 'push metrics'),
    limitBody(MAX_BODY),
    async (c) => {
      const type = mediaType(c)
      const body = inflate(new Uint8Array(await c.req.arrayBuffer()), c.req.header('content-encoding'))
      const parsed = MetricsRequest.safeParse(parse(body, type))
      if (!parsed.success) return refuse(c, 'invalid', issueMessage(parsed.error))
      const now = Date.now()
      const byHost = pointsByHost(parsed.data, deps.host, now)
      const who = { role: c.get('identity').role, tokenId: c.get('principal')?.tokenId }
      // Every host's points pass before any is stored
      for (const [host, points] of byHost) {
        const at = (i: number) => `${points[i]?.metric}.dataPoints.${points[i]?.point}`
        await admitSamples(deps, who, host, points, at, now)
      }
      for (const [host, points] of byHost) {
        if (points.length === 0) continue
        await serially(host, async () => {
          const samples = await samplesOf(deps.store, host, points)
          if (samples.length > 0) await deps.pipeline.samples(host, samples)
        })
      }
      if (type === PROTOBUF) return c.body(new Uint8Array(0), 200, { 'content-type': PROTOBUF })
      return c.json({})
    },
  )
  return app
}
