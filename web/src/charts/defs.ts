/** Which metrics each dashboard chart shows, and how their lines are labelled. */
export interface ChartDef {
  id: string
  title: string
  unit: string
  max?: number
  match: RegExp
  /** The metric whose latest value the card's header shows; the first line added when absent. */
  primary?: string
  label(metric: string): string
  /** Where a metric's line goes among the chart's (lowest first); in the order they arrive when absent. */
  rank?(metric: string): number
}

const MEM_LABELS: Record<string, string> = {
  'mem.used_bytes': 'used',
  'mem.available_bytes': 'available',
  'mem.swap_used_bytes': 'swap used',
}

export const CHARTS: readonly ChartDef[] = [
  { id: 'cpu', title: 'CPU', unit: '%', max: 100, match: /^cpu\.usage_pct$/, label: () => 'all cores' },
  {
    id: 'cores',
    title: 'CPU per core',
    unit: '%',
    max: 100,
    match: /^cpu\.core\.\d+\.usage_pct$/,
    label: (m) => `core ${m.split('.')[2]}`,
  },
  {
    id: 'mem',
    title: 'Memory',
    unit: 'bytes',
    match: /^mem\.(used|available|swap_used)_bytes$/,
    primary: 'mem.used_bytes',
    label: (m) => MEM_LABELS[m] ?? m,
  },
  {
    id: 'load',
    title: 'Load average',
    unit: 'load',
    match: /^load\.\d+m$/,
    label: (m) => m.slice(5),
    // 1m, 5m, 15m: by minutes, not as the names sort
    rank: (m) => Number.parseInt(m.slice(5), 10),
  },
  {
    id: 'net',
    title: 'Network',
    unit: 'bytes/s',
    match: /^net\..+\.(rx|tx)_bytes_per_s$/,
    label: (m) => m.replace(/^net\.(.+)\.(rx|tx)_bytes_per_s$/, '$1 $2'),
  },
  {
    id: 'disk',
    title: 'Disk IO',
    unit: 'bytes/s',
    match: /^disk\.(read|write)_bytes_per_s$/,
    label: (m) => m.replace(/^disk\.(read|write)_bytes_per_s$/, '$1'),
  },
  {
    id: 'diskops',
    title: 'Disk operations',
    unit: 'ops/s',
    match: /^disk\.(read|write)_ops_per_s$/,
    label: (m) => m.replace(/^disk\.(read|write)_ops_per_s$/, '$1'),
  },
  {
    id: 'fs',
    title: 'Filesystem usage',
    unit: '%',
    max: 100,
    match: /^fs\..+\.used_pct$/,
    label: (m) => m.replace(/^fs\.(.+)\.used_pct$/, '$1').replace(/^root$/, '/'),
  },
  {
    id: 'temp',
    title: 'Temperatures',
    unit: '°C',
    match: /^temp\./,
    label: (m) => m.slice(5).replace(/_celsius$/, ''),
  },
  { id: 'self', title: 'Vigil sampler cost', unit: 'ms', match: /^vigil\.sampler_ms$/, label: () => 'fast tick' },
]

/** Vigil's own name spaces: a name under one that no chart above matches is not charted on the overview. */
const RESERVED = /^(cpu|mem|load|net|disk|fs|temp|proc|vigil|job)\./
const custom = new Map<string, ChartDef>()

/** A custom metric's unit, read from its name's suffix (`_bytes`, `_pct`…), as the naming rule puts it last. */
function unitOf(metric: string): string {
  if (/_bytes_per_s$/.test(metric)) return 'bytes/s'
  if (/_bytes$/.test(metric)) return 'bytes'
  if (/_pct$/.test(metric)) return '%'
  if (/_celsius$/.test(metric)) return '°C'
  return ''
}

/** The chart a metric belongs on: a built-in one, a card of its own for a custom metric, or null. */
export function chartFor(metric: string): ChartDef | null {
  const def = CHARTS.find((c) => c.match.test(metric))
  if (def) return def
  if (RESERVED.test(metric)) return null
  let c = custom.get(metric)
  if (!c) {
    c = { id: `custom:${metric}`, title: metric, unit: unitOf(metric), match: /$^/, label: () => metric }
    custom.set(metric, c)
  }
  return c
}
