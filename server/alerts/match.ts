import type { AlertRule, Severity } from '../protocol/index.ts'

/** A glob of name characters as a test: `*` is any run of characters, `?` any one. */
export function globTest(glob: string | undefined): (name: string) => boolean {
  if (glob === undefined || glob === '*') return () => true
  if (!/[*?]/.test(glob)) return (name) => name === glob
  const source = glob
    .replace(/[.+^${}()|[\]\\-]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')
  const re = new RegExp(`^${source}$`)
  return (name) => re.test(name)
}

/** A metric glob as a test: a `*` segment is any one whole segment (`fs.*.used_pct` takes `fs.root.used_pct`). */
export function metricTest(glob: string): (name: string) => boolean {
  if (!glob.includes('*')) return (name) => name === glob
  const source = glob
    .split('.')
    .map((s) => (s === '*' ? '[a-z0-9_]+' : s))
    .join('\\.')
  const re = new RegExp(`^${source}$`)
  return (name) => re.test(name)
}

/** What a silence picks: every given matcher must hold (a rule by name, a host by glob, a severity). */
export interface Matchers {
  rule?: string | undefined
  host?: string | undefined
  severity?: Severity | undefined
}

/** A silence's matchers as a test of an alert. */
export function silenceTest(m: Matchers): (a: { rule: string; host: string; severity: Severity }) => boolean {
  const host = globTest(m.host)
  return (a) =>
    (m.rule === undefined || m.rule === a.rule) &&
    (m.severity === undefined || m.severity === a.severity) &&
    host(a.host)
}

/** The labels a job must carry for a `job.failed` rule (each one equal). */
export function labelsMatch(
  want: Readonly<Record<string, string>> | undefined,
  have: Readonly<Record<string, string>>,
) {
  if (!want) return true
  for (const [k, v] of Object.entries(want)) if (have[k] !== v) return false
  return true
}

/** The rule's hosts test; `hub.degraded` is about hubs, so it takes every one. */
export function hostsOf(rule: AlertRule): (host: string) => boolean {
  return globTest(rule.kind === 'hub.degraded' ? undefined : rule.hosts)
}
