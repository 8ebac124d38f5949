import type { Devices, StatsResponse } from '../protocol/index.ts'
import { describeMetric, mountSegment, prometheusName, segment } from '../sampler/index.ts'

/** One line of the exposition: a family, its labels and a value. */
export interface PromSample {
  family: string
  help: string
  type: 'gauge' | 'counter' | 'summary'
  /** What a summary's line adds to its family's name: `_count` or `_sum`. */
  suffix?: '_count' | '_sum'
  labels: Record<string, string>
  value: number
}

const escapeLabel = (v: string): string => v.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')
const escapeHelp = (v: string): string => v.replaceAll('\\', '\\\\').replaceAll('\n', '\\n')

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Number.POSITIVE_INFINITY) return '+Inf'
  if (v === Number.NEGATIVE_INFINITY) return '-Inf'
  return String(v)
}

/** The unit a family's HELP names, after `prometheusName` took the value to a base unit. */
function helpUnit(unit: string, scale: number): string {
  if (scale === 0.01) return 'ratio, 0 to 1'
  if (scale === 0.001) return 'seconds'
  return unit.replace('/s', ' per second')
}

/** A host's segment → real name, per label: `var_lib` → `/var/lib` for `mount`, `br_1a2b` → `br-1a2b` for `interface`. */
type RealNames = Record<'interface' | 'mount', Map<string, string>>

function realNames(devices: Devices | null): RealNames {
  return {
    interface: new Map(devices?.interfaces.map((i) => [segment(i), i])),
    mount: new Map(devices?.mounts.map((m) => [mountSegment(m), m])),
  }
}

/**
 * Stored series, named and scaled as Prometheus' naming guide has it (see `prometheusName`): counters for `_total`
 * names, gauges for the rest, the `host` label first and the name's variable part as a second label. An interface
 * or mount label carries the real name from the host's `devices` (its agent's `devices` message, or the hub's own
 * slow tick), the name's segment until the hub has them.
 */
export function seriesSamples(
  latest: readonly { host: string; name: string; value: number }[],
  devices: (host: string) => Devices | null = () => null,
): PromSample[] {
  const names = new Map<string, RealNames>()
  const stored = new Set(latest.map((s) => `${s.host}\n${s.name}`))
  return latest.map((s) => {
    const pair = summaryPart(s, stored)
    const { family, labels, scale } = prometheusName(pair?.base ?? s.name)
    const d = describeMetric(pair?.base ?? s.name)
    // HELP is per family: "CPU busy time, core 3" becomes "CPU busy time, core <core>"
    let help = d.description
    for (const [k, v] of Object.entries(labels)) help = help.replace(v, `<${k}>`)
    const unit = helpUnit(d.unit, scale)
    if (unit) help += ` (${unit})`
    for (const k of ['interface', 'mount'] as const) {
      const seg = labels[k]
      if (seg === undefined) continue
      let real = names.get(s.host)
      if (!real) {
        real = realNames(devices(s.host))
        names.set(s.host, real)
      }
      labels[k] = real[k].get(seg) ?? seg
    }
    // A count is a count of observations, whatever unit their sum is in
    const scaled = scale === 1 || pair?.suffix === '_count' ? s.value : Number((s.value * scale).toPrecision(12))
    const all = { host: s.host, ...labels }
    if (pair) return { family, help, type: 'summary', suffix: pair.suffix, labels: all, value: scaled }
    return { family, help, type: family.endsWith('_total') ? 'counter' : 'gauge', labels: all, value: scaled }
  })
}

/**
 * `x_count` and `x_sum` stored side by side for a host (an OpenTelemetry histogram's or summary's, see
 * docs/api.md) are one Prometheus summary `x` without quantiles: its base name and this line's suffix.
 */
function summaryPart(
  s: { host: string; name: string },
  stored: ReadonlySet<string>,
): { base: string; suffix: '_count' | '_sum' } | null {
  const suffix = s.name.endsWith('_count') ? '_count' : s.name.endsWith('_sum') ? '_sum' : null
  if (!suffix) return null
  const base = s.name.slice(0, -suffix.length)
  const other = suffix === '_count' ? '_sum' : '_count'
  return stored.has(`${s.host}\n${base}${other}`) ? { base, suffix } : null
}

/** The exposition formats `/metrics` speaks, by the content type a scraper asks for. */
export const TEXT_FORMAT = 'text/plain; version=0.0.4; charset=utf-8'
export const OPENMETRICS_FORMAT = 'application/openmetrics-text; version=1.0.0; charset=utf-8'

/**
 * The Prometheus text exposition format (version 0.0.4), or OpenMetrics 1.0 with `openMetrics` (a counter's
 * family then drops its `_total`, which only its sample carries, and the text ends in `# EOF`): one HELP and TYPE
 * per family, then its samples. A second sample with the same family and labels is dropped, so two names that
 * map alike never clash.
 */
export function exposition(samples: readonly PromSample[], openMetrics = false): string {
  const families = new Map<string, { help: string; type: string; lines: Map<string, string> }>()
  for (const s of samples) {
    let f = families.get(s.family)
    if (!f) {
      f = { help: s.help, type: s.type, lines: new Map() }
      families.set(s.family, f)
    }
    // A name that maps onto a family of another type is dropped rather than mistyped
    if (f.type !== s.type) continue
    const labels = Object.entries(s.labels)
      .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
      .join(',')
    const suffix = s.suffix ?? ''
    const key = `${labels}\n${suffix}`
    if (!f.lines.has(key))
      f.lines.set(key, `${s.family}${suffix}${labels ? `{${labels}}` : ''} ${formatValue(s.value)}`)
  }
  const out: string[] = []
  for (const [name, f] of [...families].sort(([a], [b]) => a.localeCompare(b))) {
    const family = openMetrics && f.type === 'counter' ? name.replace(/_total$/, '') : name
    // A summary's `_count` and `_sum` for one label set stay together, as OpenMetrics asks
    const lines =
      f.type === 'summary' ? [...f.lines].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, l]) => l) : f.lines.values()
    out.push(`# HELP ${family} ${escapeHelp(f.help)}`, `# TYPE ${family} ${f.type}`, ...lines)
  }
  if (openMetrics) out.push('# EOF')
  return `${out.join('\n')}\n`
}

/** The hub's own figures, from the same numbers `/api/stats` reports. */
export function selfSamples(s: StatsResponse): PromSample[] {
  const gauge = (family: string, help: string, value: number, labels: Record<string, string> = {}): PromSample => ({
    family,
    help,
    type: 'gauge',
    labels,
    value,
  })
  const counter = (family: string, help: string, value: number): PromSample => ({
    family,
    help,
    type: 'counter',
    labels: {},
    value,
  })
  const st = s.storage
  return [
    gauge('vigil_clients', 'Open SSE streams', s.clients),
    gauge('vigil_control_sockets', 'Open control WebSockets', s.controlSockets),
    gauge('vigil_events_per_second', 'Events published per second', s.eventsPerS),
    counter('vigil_dropped_clients_total', 'SSE clients cut off for not reading', s.droppedClients),
    counter('vigil_store_errors_total', 'Failed history writes', s.storeErrors),
    gauge('vigil_db_bytes', 'Size of vigil.db', st.dbBytes),
    gauge('vigil_wal_bytes', 'Size of the write-ahead log', st.walBytes),
    gauge('vigil_series', 'Series stored', st.series),
    ...st.tiers.map((t) => gauge('vigil_storage_bytes', 'Bytes on disk per history tier', t.bytes, { tier: t.tier })),
    ...st.tiers.map((t) =>
      gauge('vigil_storage_samples', 'Samples (raw) or buckets (rollups) per tier', t.samples, { tier: t.tier }),
    ),
    gauge('vigil_process_rss_bytes', 'Resident memory of the hub', s.process.rssBytes),
    gauge('vigil_process_heap_bytes', 'V8 heap in use', s.process.heapUsedBytes),
  ]
}
