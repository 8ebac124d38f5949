/**
 * `npm run bench:sampler [-- --seconds 60]`: the CPU share of one core (children included) and the RSS of a real
 * `vigil serve` with no viewers, sampling at 1 Hz and at 10 Hz.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnServe } from '../server/testing/process.ts'
import { cpuSeconds, mib, numberFlag, rss, sleep } from './lib/proc.ts'

const seconds = numberFlag('seconds', 60)
const WARMUP_MS = 5000

interface Stats {
  sampler: { fast: { ticks: number; skipped: number; avgMs: number }; slow: { ticks: number; avgMs: number } }
}

async function measure(sampleMs: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-sampler-'))
  const p = await spawnServe(['--port', '0', '--data-dir', dir, '--sample-ms', String(sampleMs)], {}, true)
  const pid = p.child.pid as number
  try {
    await sleep(WARMUP_MS)
    const before = (await (await fetch(`${p.url}/api/stats`)).json()) as Stats
    const cpu0 = cpuSeconds(pid)
    const t0 = performance.now()
    await sleep(seconds * 1000)
    const cpu = cpuSeconds(pid) - cpu0
    const elapsed = (performance.now() - t0) / 1000
    const after = (await (await fetch(`${p.url}/api/stats`)).json()) as Stats
    const mem = rss(pid)
    const hz = 1000 / sampleMs
    return (
      `sampler @ ${hz} Hz: cpu ${((cpu / elapsed) * 100).toFixed(2)} % of one core (children included), ` +
      `rss ${mib(mem.rss)} (peak ${mib(mem.peak)}), fast ticks ${after.sampler.fast.ticks - before.sampler.fast.ticks} ` +
      `(skipped ${after.sampler.fast.skipped - before.sampler.fast.skipped}, avg ${after.sampler.fast.avgMs} ms), ` +
      `slow tick avg ${after.sampler.slow.avgMs} ms, over ${elapsed.toFixed(1)} s`
    )
  } finally {
    p.child.kill('SIGTERM')
    await p.exited
    rmSync(dir, { recursive: true, force: true })
  }
}

console.log(
  `bench:sampler ${new Date().toISOString()} node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model})`,
)
for (const ms of [1000, 100]) console.log(await measure(ms))
