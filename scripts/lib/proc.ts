import { readFileSync } from 'node:fs'

/** Linux clock ticks per second for /proc/<pid>/stat times. */
const CLK_TCK = 100

/** CPU seconds used by a process plus its waited-for children (the `df` calls of the slow group count here). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])
  return ticks / CLK_TCK
}

/** Resident and peak resident memory of a process, in bytes. */
export function rss(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1')
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024
  return { rss: kb('VmRSS'), peak: kb('VmHWM') }
}

/**
 * Where a process's resident memory is: anonymous (its own heap and stacks) and file-backed (mapped files, mostly
 * the node binary's pages, shared with every node process), and its proportional share (PSS, shared pages divided
 * among their sharers), in bytes.
 */
export function memoryParts(pid: number): { anon: number; file: number; pss: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1')
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1')
  const kb = (text: string, key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(text)?.[1] ?? 0) * 1024
  return { anon: kb(status, 'RssAnon'), file: kb(status, 'RssFile'), pss: kb(rollup, 'Pss') }
}

export function mib(bytes: number): string {
  return `${(bytes / 1_048_576).toFixed(1)} MiB`
}

/** `--name value` flags with numeric defaults. */
export function numberFlag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  if (i < 0) return fallback
  const v = Number(process.argv[i + 1])
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`)
  return v
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i] as number
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Resolves once `pred` holds, checking every 200 ms; rejects naming `what` after `timeoutMs`. */
export async function until(
  pred: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what = 'a condition',
): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(200)
  }
}
