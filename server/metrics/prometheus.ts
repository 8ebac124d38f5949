import { describeMetric, prometheusName } from '../sampler/index.ts'

/** One line of the exposition: a family, its labels and a value. */
export interface PromSample {
  family: string
  help: string
  type: 'gauge' | 'counter'
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

/** Stored series as gauges, the `host` label first and the name's variable part as a second label. */
export function seriesSamples(latest: readonly { host: string; name: string; value: number }[]): PromSample[] {
  return latest.map((s) => {
    const { family, labels } = prometheusName(s.name)
    const d = describeMetric(s.name)
    // HELP is per family: "CPU busy time, core 3" becomes "CPU busy time, core <core>"
    let help = d.description
    for (const [k, v] of Object.entries(labels)) help = help.replace(v, `<${k}>`)
    if (d.unit) help += ` (${d.unit})`
    return { family, help, type: 'gauge', labels: { host: s.host, ...labels }, value: s.value }
  })
}

/**
 * The Prometheus text exposition format (version 0.0.4): one HELP and TYPE per family, then its samples.
 * A second sample with the same family and labels is dropped, so two names that map alike never clash.
 */
export function exposition(samples: readonly PromSample[]): string {
  const families = new Map<string, { help: string; type: string; lines: Map<string, string> }>()
  for (const s of samples) {
    let f = families.get(s.family)
    if (!f) {
      f = { help: s.help, type: s.type, lines: new Map() }
      families.set(s.family, f)
    }
    const labels = Object.entries(s.labels)
      .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
      .join(',')
    if (!f.lines.has(labels)) f.lines.set(labels, `${s.family}${labels ? `{${labels}}` : ''} ${formatValue(s.value)}`)
  }
  const out: string[] = []
  for (const [name, f] of [...families].sort(([a], [b]) => a.localeCompare(b))) {
    out.push(`# HELP ${name} ${escapeHelp(f.help)}`, `# TYPE ${name} ${f.type}`, ...f.lines.values())
  }
  return `${out.join('\n')}\n`
}
