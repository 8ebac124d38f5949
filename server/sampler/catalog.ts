import type { CatalogEntry } from '../protocol/index.ts'

type Rule = [pattern: RegExp, unit: string, group: CatalogEntry['group'], describe: (m: RegExpExecArray) => string]

const RULES: Rule[] = [
  [/^cpu\.usage_pct$/, '%', 'fast', () => 'CPU busy time, all cores'],
  [/^cpu\.core\.(\d+)\.usage_pct$/, '%', 'fast', (m) => `CPU busy time, core ${m[1]}`],
  [/^mem\.used_bytes$/, 'bytes', 'fast', () => 'Memory in use (total minus available)'],
  [/^mem\.available_bytes$/, 'bytes', 'fast', () => 'Memory available to new work without swapping'],
  [/^mem\.total_bytes$/, 'bytes', 'fast', () => 'Physical memory'],
  [/^mem\.swap_used_bytes$/, 'bytes', 'fast', () => 'Swap in use'],
  [/^load\.(1m|5m|15m)$/, 'load', 'fast', (m) => `Load average over ${m[1]}`],
  [/^net\.(.+)\.rx_bytes_per_s$/, 'bytes/s', 'fast', (m) => `Bytes received on ${m[1]}`],
  [/^net\.(.+)\.tx_bytes_per_s$/, 'bytes/s', 'fast', (m) => `Bytes sent on ${m[1]}`],
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

/** Names with a variable part: the part becomes a Prometheus label instead of being mangled into the name. */
const LABELLED: [pattern: RegExp, label: string][] = [
  [/^(cpu\.core)\.(\d+)\.(.+)$/, 'core'],
  [/^(net)\.(.+)\.([a-z]+_bytes_per_s)$/, 'interface'],
  [/^(fs)\.(.+)\.(used_pct|used_bytes|size_bytes)$/, 'mount'],
  [/^(temp\.core)\.(\d+)_(celsius)$/, 'core'],
  [/^(job)\.([a-z0-9]+)\.(cpu_pct|rss_bytes)$/, 'job'],
]

/**
 * The Prometheus family and labels of a metric name: `cpu.core.3.usage_pct` → `vigil_cpu_core_usage_pct`
 * with `core="3"`; names without a variable part just swap dots for underscores.
 */
export function prometheusName(name: string): { family: string; labels: Record<string, string> } {
  for (const [pattern, label] of LABELLED) {
    const m = pattern.exec(name)
    if (m) return { family: `vigil_${m[1]}_${m[3]}`.replaceAll('.', '_'), labels: { [label]: m[2] ?? '' } }
  }
  return { family: `vigil_${name.replaceAll('.', '_')}`, labels: {} }
}
