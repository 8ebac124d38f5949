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
 * (nothing of the request is taken) for a point without a value or with one JSON can't store (NaN, infinity), a
 * sum or histogram without a temporality, a name the mapping can't make a Vigil name of, or a host name the rule
 * refuses.
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
  if (m.gauge || m.sum) return numberPoints(m, where, now)
  if (m.histogram || m.exponentialHistogram || m.summary) return distributionPoints(m, where, now)
  throw new AppError('invalid', `${where}: ${m.name} has no gauge, sum, histogram or summary`)
}

/** A delta or cumulative temporality; a sum or histogram without one is refused. */
function temporality(m: Metric, data: Parameters<typeof temporalityOf>[0], where: string): 'delta' | 'cumulative' {
  const t = temporalityOf(data)
  if (t === 'unspecified') throw new AppError('invalid', `${where}: ${m.name} has no aggregation temporality`)
  return t
}

/** A point's Vigil name, or `invalid` when the mapping made something the name rule refuses. */
function checkedName(name: string, m: Metric, where: string): string {
  if (name.length > METRIC_NAME_MAX || !METRIC_NAME_PATTERN.test(name)) {
    throw new AppError(
      'invalid',
      `${where}: ${m.name} maps to ${name}, which is not a Vigil metric name (at most ${METRIC_NAME_MAX} characters)`,
    )
  }
  return name
}

/** A finite number, or `invalid` naming point `pi` of the metric at `where` (its path built only for a refusal). */
function finite(v: number | string | undefined, where: string, pi: number, what: string): number {
  const n = typeof v === 'string' ? Number(v) : v
  if (n === undefined || !Number.isFinite(n)) throw new AppError('invalid', `${where}.dataPoints.${pi}: ${what}`)
  return n
}

/** A gauge's or sum's points, one sample each. */
function numberPoints(m: Metric, where: string, now: number): OtlpPoint[] {
  const data = (m.gauge ?? m.sum) as NonNullable<Metric['gauge']>
  const delta = m.sum !== undefined && temporality(m, m.sum.aggregationTemporality, where) === 'delta'
  const base = baseName(m.name, m.unit, m.sum?.isMonotonic === true)
  return (data.dataPoints ?? []).map((p, pi) => ({
    metric: where,
    point: pi,
    name: checkedName(pointName(base, p.attributes ?? []), m, where),
    ts: millis(p.timeUnixNano, now),
    value: finite(pointValue(p) ?? undefined, where, pi, 'a point needs a finite asDouble or asInt'),
    delta,
  }))
}

/**
 * A histogram's, exponential histogram's or summary's points: each one's count as `<name>_count` and its sum as
 * `<name>_sum`, added up like a delta sum's when the temporality is delta (the buckets are not kept); a summary's
 * quantiles as gauges with a `quantile_<q>` segment, as an attribute would make.
 */
function distributionPoints(m: Metric, where: string, now: number): OtlpPoint[] {
  const histogram = m.histogram ?? m.exponentialHistogram
  const delta = histogram !== undefined && temporality(m, histogram.aggregationTemporality, where) === 'delta'
  const base = baseName(m.name, m.unit, false)
  const out: OtlpPoint[] = []
  for (const [pi, p] of ((histogram ?? m.summary)?.dataPoints ?? []).entries()) {
    const attributes = p.attributes ?? []
    const name = pointName(base, attributes)
    const point = { metric: where, point: pi, ts: millis(p.timeUnixNano, now), delta }
    const count = Number(p.count ?? 0)
    if (count < 0) throw new AppError('invalid', `${where}.dataPoints.${pi}: count must not be negative`)
    out.push({ ...point, name: checkedName(`${name}_count`, m, where), value: count })
    if (p.sum !== undefined) {
      out.push({
        ...point,
        name: checkedName(`${name}_sum`, m, where),
        value: finite(p.sum, where, pi, 'sum must be finite'),
      })
    }
    for (const q of p.quantileValues ?? []) {
      const quantile = finite(q.quantile ?? 0, where, pi, 'a quantile must be finite')
      const named = [...attributes, { key: 'quantile', value: { stringValue: String(quantile) } }]
      out.push({
        ...point,
        delta: false,
        name: checkedName(pointName(base, named), m, where),
        value: finite(q.value ?? 0, where, pi, 'the value at a quantile must be finite'),
      })
    }
  }
  return out
}
