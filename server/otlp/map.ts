import { AppError } from '../errors.ts'
import { HostName, METRIC_NAME_MAX, METRIC_NAME_PATTERN } from '../protocol/index.ts'
import { segment } from '../sampler/index.ts'
import { type KeyValue, type Metric, type MetricsRequest, type NumberDataPoint, temporalityOf } from './schema.ts'

/** One OTLP point as a Vigil sample: a delta sum's value is added to its series' last value before it is stored. */
export interface OtlpPoint {
  /** Its metric's place in the request (`resourceMetrics.0.scopeMetrics.0.metrics.2`) and its own, for a refusal. */
  metric: string
  point: number
  name: string
  ts: number
  value: number
  delta: boolean
}

/** Units by their UCUM code (what OpenTelemetry's semantic conventions use) → the suffix Vigil's names end in. */
const UNIT_SUFFIX: Record<string, string> = {
  By: 'bytes',
  'By/s': 'bytes_per_s',
  s: 'seconds',
  ms: 'ms',
  '%': 'pct',
  Cel: 'celsius',
}

function attributeText(v: KeyValue['value']): string {
  if (!v) return ''
  if (v.stringValue !== undefined) return v.stringValue
  if (v.boolValue !== undefined) return String(v.boolValue)
  if (v.intValue !== undefined) return String(v.intValue)
  if (v.doubleValue !== undefined) return String(v.doubleValue)
  return 'complex'
}

/** Attribute keys and values repeat on every point: their segments are kept, up to a bound. */
const segments = new Map<string, string>()
function cachedSegment(raw: string): string {
  let s = segments.get(raw)
  if (s === undefined) {
    if (segments.size >= 10_000) segments.clear()
    s = segment(raw)
    segments.set(raw, s)
  }
  return s
}

/** A metric's part of its points' names: the segments before the last, and the last with its suffixes. */
function baseName(name: string, unit: string | undefined, monotonic: boolean): { head: string; last: string } {
  const parts = name
    .split('.')
    .filter((s) => s !== '')
    .map(segment)
  let last = parts.pop() ?? '_'
  const suffix = UNIT_SUFFIX[unit ?? '']
  if (suffix && !last.endsWith(`_${suffix}`) && last !== suffix) last += `_${suffix}`
  if (monotonic && !last.endsWith('_total')) last += '_total'
  return { head: parts.map((p) => `${p}.`).join(''), last }
}

function pointName(base: { head: string; last: string }, attributes: readonly KeyValue[]): string {
  if (attributes.length === 0) return base.head + base.last
  const attrs = [...attributes]
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((a) => `${cachedSegment(a.key)}_${cachedSegment(attributeText(a.value))}.`)
  return base.head + attrs.join('') + base.last
}

/**
 * An OpenTelemetry metric name, unit and point attributes → a Vigil name (docs/api.md, OpenTelemetry): the dotted
 * name in lower case with anything but `[a-z0-9_]` in a segment made `_`; the unit's suffix (`By` → `_bytes`, `s`
 * → `_seconds`, `ms`, `%` → `_pct`, `Cel` → `_celsius`) unless the name ends in it; `_total` for a monotonic sum;
 * each attribute, by key, as a `<key>_<value>` segment before the last one.
 * @example vigilName('http.server.requests', '{request}', true, [{key: 'method', value: {stringValue: 'GET'}}])
 *   → 'http.server.method_get.requests_total'
 */
export function vigilName(name: string, unit: string | undefined, monotonic: boolean, attributes: KeyValue[]): string {
  return pointName(baseName(name, unit, monotonic), attributes)
}

/** Nanoseconds since the epoch (a decimal string or a number) → milliseconds; 0 or absent is "now". */
function millis(nanos: string | number | undefined, now: number): number {
  if (nanos === undefined) return now
  const ms = typeof nanos === 'number' ? Math.floor(nanos / 1e6) : Number(BigInt(nanos) / 1_000_000n)
  return ms === 0 ? now : ms
}

function pointValue(p: NumberDataPoint): number | null {
  if (p.asInt !== undefined) return Number(p.asInt)
  if (p.asDouble === undefined) return null
  return typeof p.asDouble === 'number' ? p.asDouble : Number(p.asDouble)
}

/**
 * The points of a request, by the host each resource names (`host.name`, else `fallbackHost`). Throws `invalid`
 * (nothing of the request is taken) for histograms and summaries, a point without a value or with one JSON can't
 * store (NaN, infinity), a name the mapping can't make a Vigil name of, or a host name the rule refuses.
 */
export function pointsByHost(req: MetricsRequest, fallbackHost: string, now: number): Map<string, OtlpPoint[]> {
  const out = new Map<string, OtlpPoint[]>()
  for (const [ri, rm] of (req.resourceMetrics ?? []).entries()) {
    const named = rm.resource?.attributes?.find((a) => a.key === 'host.name')?.value?.stringValue
    const host = named ?? fallbackHost
    if (!HostName.safeParse(host).success) {
      throw new AppError(
        'invalid',
        `resourceMetrics.${ri}.resource: host.name ${JSON.stringify(host)} is not a host name`,
      )
    }
    const points = out.get(host) ?? []
    out.set(host, points)
    for (const [si, sm] of (rm.scopeMetrics ?? []).entries()) {
      for (const [mi, m] of (sm.metrics ?? []).entries()) {
        const where = `resourceMetrics.${ri}.scopeMetrics.${si}.metrics.${mi}`
        points.push(...metricPoints(m, where, now))
      }
    }
  }
  return out
}

function metricPoints(m: Metric, where: string, now: number): OtlpPoint[] {
  for (const kind of ['histogram', 'exponentialHistogram', 'summary'] as const) {
    if (m[kind] !== undefined) {
      throw new AppError(
        'invalid',
        `${where}: ${m.name} is a ${kind}; Vigil takes gauges and sums only, not histograms or summaries yet`,
      )
    }
  }
  const data = m.gauge ?? m.sum
  if (!data) throw new AppError('invalid', `${where}: ${m.name} has no gauge or sum`)
  const temporality = m.sum ? temporalityOf(m.sum.aggregationTemporality) : 'unspecified'
  if (m.sum && temporality === 'unspecified') {
    throw new AppError('invalid', `${where}: ${m.name} is a sum without an aggregation temporality`)
  }
  const base = baseName(m.name, m.unit, m.sum?.isMonotonic === true)
  return (data.dataPoints ?? []).map((p, pi) => {
    const value = pointValue(p)
    if (value === null || !Number.isFinite(value)) {
      throw new AppError('invalid', `${where}.dataPoints.${pi}: a point needs a finite asDouble or asInt`)
    }
    const name = pointName(base, p.attributes ?? [])
    if (name.length > METRIC_NAME_MAX || !METRIC_NAME_PATTERN.test(name)) {
      throw new AppError(
        'invalid',
        `${where}: ${m.name} maps to ${name}, which is not a Vigil metric name (at most ${METRIC_NAME_MAX} characters)`,
      )
    }
    return {
      metric: where,
      point: pi,
      name,
      ts: millis(p.timeUnixNano, now),
      value,
      delta: temporality === 'delta',
    }
  })
}
