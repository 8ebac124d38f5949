import { Hono } from 'hono'
import { type AuthEnv, authenticate, READ_ROLES, requireRole, type Tokens } from '../auth/index.ts'
import type { Hosts } from '../hosts/index.ts'
import type { Pipeline } from '../ingest/index.ts'
import { describeRoute, limitBody, validate } from '../openapi/index.ts'
import { MetricsBatch } from '../protocol/index.ts'
import type { Store } from '../store/index.ts'
import { admitSamples, INGEST_ROLES } from './admit.ts'
import { exposition, OPENMETRICS_FORMAT, type PromSample, seriesSamples, TEXT_FORMAT } from './prometheus.ts'

const MAX_BODY = 1024 * 1024
/** Series without a sample this recent are left out of /metrics, as Prometheus treats them as stale. */
const STALE_MS = 5 * 60_000

export interface MetricRouteDeps {
  store: Store
  pipeline: Pipeline
  /** Who may speak for a host (an agent token posts only for the host it is bound to), and its device names. */
  hosts: Pick<Hosts, 'speaksFor' | 'get'>
  /** The hub's own host name: the default for samples that name none. */
  host: string
  tokens: Tokens
  allowAnonymous: boolean
  maxSeriesPerHost: number
  /** The hub's own figures (clients, events/s, storage…) for /metrics. */
  selfMetrics(): Promise<PromSample[]>
}

/** `POST /api/metrics` (custom-metric ingest) and `GET /metrics` (Prometheus exposition). */
export function metricRoutes(deps: MetricRouteDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>()
  const auth = authenticate(deps.tokens, deps.allowAnonymous)

  app.get(
    '/metrics',
    describeRoute({
      tag: 'metrics',
      summary: 'Prometheus exposition',
      description:
        "Every fresh series and the hub's own figures in Prometheus' naming: the text format 0.0.4, or OpenMetrics 1.0 when `Accept` asks for `application/openmetrics-text`.",
      response: { description: 'The exposition', type: 'text/plain' },
    }),
    auth,
    requireRole(READ_ROLES, 'read metrics'),
    async (c) => {
      const fresh = await deps.store.latest(Date.now() - STALE_MS)
      // A scraper that asks for OpenMetrics (Prometheus does, first) gets it; anything else the classic text format
      const openMetrics = (c.req.header('accept') ?? '').includes('application/openmetrics-text')
      return c.body(
        exposition(
          [...seriesSamples(fresh, (h) => deps.hosts.get(h)?.devices ?? null), ...(await deps.selfMetrics())],
          openMetrics,
        ),
        200,
        {
          'content-type': openMetrics ? OPENMETRICS_FORMAT : TEXT_FORMAT,
        },
      )
    },
  )

  app.post(
    '/api/metrics',
    describeRoute({
      tag: 'metrics',
      summary: 'Push samples of custom metrics',
      description:
        'All or nothing: stored in one transaction before the answer, then the newest value of each series is streamed.',
      response: { description: '`{accepted, host}`' },
      errors: ['cardinality_limit', 'unavailable'],
    }),
    auth,
    requireRole(INGEST_ROLES, 'report custom metrics'),
    limitBody(MAX_BODY),
    validate('json', MetricsBatch),
    async (c) => {
      const batch = c.req.valid('json')
      const host = batch.host ?? deps.host
      const now = Date.now()
      const samples = batch.samples.map((s) => ({ name: s.name, ts: s.ts ?? now, value: s.value }))
      const who = { role: c.get('identity').role, tokenId: c.get('principal')?.tokenId }
      await admitSamples(deps, who, host, samples, (i) => `samples.${i}`, now)
      await deps.pipeline.samples(host, samples)
      return c.json({ accepted: samples.length, host })
    },
  )

  return app
}
