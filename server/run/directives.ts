import type { ProgressUpdate } from '../protocol/index.ts'

/**
 * Reads a progress directive from one output line: `::progress 42`, `::progress 420/1000 rows`,
 * `::step 2/5 Restore tables`, or a match of the user's `--progress-regex` (named groups `percent`, or
 * `current` and `total`, optionally `unit`). Null for an ordinary line.
 */
export function parseDirective(line: string, custom: RegExp | null = null): ProgressUpdate | null {
  if (custom === null && !line.startsWith('::')) return null
  const progress = /^::progress\s+(\d+(?:\.\d+)?)(?:\s*\/\s*(\d+(?:\.\d+)?))?(?:\s+(\S.*))?\s*$/.exec(line)
  if (progress) {
    const [, a = '0', b, unit] = progress
    if (b === undefined) return { percent: Math.min(100, Number(a)) }
    if (Number(b) <= 0) return null
    return { current: Number(a), total: Number(b), ...(unit ? { unit: unit.slice(0, 32) } : {}) }
  }
  const step = /^::step\s+(\d+)\s*\/\s*(\d+)(?:\s+(\S.*))?\s*$/.exec(line)
  if (step) {
    const index = Number(step[1])
    const count = Number(step[2])
    if (index < 1 || count < 1) return null
    return { step: { index, count, name: (step[3] ?? '').slice(0, 200) } }
  }
  if (!custom) return null
  const g = custom.exec(line)?.groups
  if (!g) return null
  if (g.percent !== undefined) return { percent: Math.min(100, Number(g.percent)) }
  if (g.current !== undefined && g.total !== undefined && Number(g.total) > 0) {
    return { current: Number(g.current), total: Number(g.total), ...(g.unit ? { unit: g.unit } : {}) }
  }
  return null
}
