import type { CatalogEntry } from '../protocol/index.ts'

type Rule = [pattern: RegExp, unit: string, group: CatalogEntry['group'], describe: (m: RegExpExecArray) => string]

const RULES: Rule[] = [
  [/^cpu\.usage_pct$/, '%', 'fast', () => 'CPU busy time, all cores'],
  [/^cpu\.core\.(\d+)\.usage_pct$/, '%', 'fast', (m) => `CPU busy time, core ${m[1]}`],
  [/^cpu\.(busy|idle)_seconds_total$/, 'seconds', 'fast', (m) => `CPU time spent ${m[1]}, all cores, since boot`],
  [/^mem\.used_bytes$/, 'bytes', 'fast', () => 'Memory in use (total minus available)'],
  [/^mem\.available_bytes$/, 'bytes', 'fast', () => 'Memory available to new work without swapping'],
  [/^mem\.total_bytes$/, 'bytes', 'fast', () => 'Physical memory'],
  [/^mem\.swap_used_bytes$/, 'bytes', 'fast', () => 'Swap in use'],
  [/^load\.(1m|5m|15m)$/, 'load', 'fast', (m) => `Load average over ${m[1]}`],
  [/^net\.(.+)\.rx_bytes_per_s$/, 'bytes/s', 'fast', (m) => `Bytes received on ${m[1]}`],
  [/^net\.(.+)\.tx_bytes_per_s$/, 'bytes/s', 'fast', (m) => `Bytes sent on ${m[1]}`],
  [/^net\.(.+)\.rx_bytes_total$/, 'bytes', 'fast', (m) => `Bytes received on ${m[1]} since boot`],
  [/^net\.(.+)\.tx_bytes_total$/, 'bytes', 'fast', (m) => `Bytes sent on ${m[1]} since boot`],
  [
    /^disk\.(read|write)_bytes_total$/,
    'bytes',
    'fast',
    (m) => `Disk bytes ${m[1] === 'read' ? 'read' : 'written'} since boot`,
  ],
  [/^disk\.(read|write)_ops_total$/, 'operations', 'fast', (m) => `Disk ${m[1]} operations completed since boot`],
  [/^disk\.(read|write)_bytes_per_s$/, 'bytes/s', 'fast', (m) => `Disk bytes ${m[1] === 'read' ? 'read' : 'written'}`],
  [/^disk\.(read|write)_ops_per_s$/, 'ops/s', 'fast', (m) => `Disk ${m[1]} operations completed`],
  [/^fs\.(.+)\.used_pct$/, '%', 'slow', (m) => `Filesystem ${m[1]} used`],
  [/^fs\.(.+)\.used_bytes$/, 'bytes', 'slow', (m) => `Filesystem ${m[1]} bytes used`],
  [/^fs\.(.+)\.size_bytes$/, 'bytes', 'slow', (m) => `Filesystem ${m[1]} size`],
  [/^temp\.cpu_celsius$/, '°C', 'slow', () => 'CPU package temperature'],
  [/^temp\.core\.(\d+)_celsius$/, '°C', 'slow', (m) => `CPU core ${m[1]} temperature`],
  [/^proc\.count$/, 'processes', 'slow', () => 'Processes running'],
  [/^job\.([a-z0-9]+)\.cpu_pct$/, '%', 'custom', (m) => `CPU of job ${m[1]}'s process tree (percent of one core)`],
  [/^job\.([a-z0-9]+)\.rss_bytes$/, 'bytes', 'custom', (m) => `Resident memory of job ${m[1]}'s process tree`],
  [/^vigil\.sampler_ms$/, 'ms', 'self', () => "Time the fast group's tick took"],
  [/^vigil\.sampler_slow_ms$/, 'ms', 'self', () => "Time the slow group's tick took"],
]

/** Unit, group and description for a metric name; unknown names are custom metrics. */
export function describeMetric(name: string): CatalogEntry {
  for (const [pattern, unit, group, describe] of RULES) {
    const m = pattern.exec(name)
    if (m) return { name, unit, group, description: describe(m) }
  }
  return { name, unit: '', group: 'custom', description: 'Custom metric' }
}

/** How a metric is exposed to Prometheus: its family, its labels, and the factor its value is multiplied by. */
export interface PrometheusName {
  family: string
  labels: Record<string, string>
  scale: number
}

/**
 * Vigil's names that Prometheus' naming guide spells otherwise: whole words for the direction, base units (seconds,
 * ratios), no `_count` on a gauge. `$1` is the name's variable part, which becomes the label.
 */
const RENAMED: [pattern: RegExp, family: string, label: string | null][] = [
  [/^cpu\.core\.(\d+)\.usage_pct$/, 'cpu_core_usage_ratio', 'core'],
  [/^cpu\.(busy|idle)_seconds_total$/, 'cpu_seconds_total', 'mode'],
  [/^net\.(.+)\.rx_bytes_total$/, 'network_receive_bytes_total', 'interface'],
  [/^net\.(.+)\.tx_bytes_total$/, 'network_transmit_bytes_total', 'interface'],
  [/^disk\.(read|write)_ops_total$/, 'disk_$1_operations_total', null],
  [/^net\.(.+)\.rx_bytes_per_s$/, 'network_receive_bytes_per_second', 'interface'],
  [/^net\.(.+)\.tx_bytes_per_s$/, 'network_transmit_bytes_per_second', 'interface'],
  [/^disk\.(read|write)_ops_per_s$/, 'disk_$1_operations_per_second', null],
  [/^fs\.(.+)\.used_pct$/, 'filesystem_used_ratio', 'mount'],
  [/^fs\.(.+)\.used_bytes$/, 'filesystem_used_bytes', 'mount'],
  [/^fs\.(.+)\.size_bytes$/, 'filesystem_size_bytes', 'mount'],
  [/^temp\.core\.(\d+)_celsius$/, 'temp_core_celsius', 'core'],
  [/^temp\.cpu_celsius$/, 'temp_cpu_celsius', null],
  [/^proc\.count$/, 'processes', null],
  [/^job\.([a-z0-9]+)\.cpu_pct$/, 'job_cpu_usage_ratio', 'job'],
  [/^job\.([a-z0-9]+)\.rss_bytes$/, 'job_resident_memory_bytes', 'job'],
  [/^vigil\.sampler_ms$/, 'sampler_tick_seconds', null],
  [/^vigil\.sampler_slow_ms$/, 'sampler_slow_tick_seconds', null],
]

/**
 * A name's unit suffix in Prometheus' spelling: rates per second, milliseconds as seconds, percentages as ratios
 * (0 to 1), and the factor that takes the value there. Custom metrics get the same treatment.
 */
function baseUnit(family: string): { family: string; scale: number } {
  if (family.endsWith('_pct')) return { family: `${family.slice(0, -4)}_ratio`, scale: 0.01 }
  if (family.endsWith('_ms')) return { family: `${family.slice(0, -3)}_seconds`, scale: 0.001 }
  if (family.endsWith('_per_s')) return { family: `${family.slice(0, -6)}_per_second`, scale: 1 }
  if (family.endsWith('_count')) return { family: family.slice(0, -6), scale: 1 }
  return { family, scale: 1 }
}

/**
 * The Prometheus family, labels and scale of a metric name, as Prometheus' naming guide has them:
 * `cpu.core.3.usage_pct` → `vigil_cpu_core_usage_ratio{core="3"}` (times 0.01), `net.eth0.rx_bytes_per_s` →
 * `vigil_network_receive_bytes_per_second{interface="eth0"}`; other names swap dots for underscores, with their
 * unit suffix made a base unit (`_ms` → `_seconds`, `_pct` → `_ratio`, `_per_s` → `_per_second`).
 */
export function prometheusName(name: string): PrometheusName {
  for (const [pattern, family, label] of RENAMED) {
    const m = pattern.exec(name)
    if (!m) continue
    const part = m[1] ?? ''
    const unit = baseUnit(name.replaceAll('.', '_'))
    return {
      family: `vigil_${label ? family : family.replace('$1', part)}`,
      labels: label ? { [label]: part } : {},
      scale: unit.scale,
    }
  }
  const { family, scale } = baseUnit(name.replaceAll('.', '_'))
  return { family: `vigil_${family}`, labels: {}, scale }
}
