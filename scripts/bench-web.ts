/**
 * `npm run bench:web [-- --seconds 20 --sample-ms 100]`: loads the dashboard of a real `vigil serve` in Chromium
 * and reports when the first chart was painted (ms after navigation start), the main-thread time of each live
 * update (event handling plus the frame that draws it), and the time from a sample's `ts` to the frame that drew
 * it, against the budgets in ARCHITECTURE.md. Twice in the same run: in a window as tall as every chart (all
 * drawn, as before charts off screen were skipped) and in a 1400×1000 window (only those on screen drawn).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sqliteTokenAdmin } from '../server/auth/index.ts'
import type { HostEntry } from '../server/protocol/index.ts'
import { openDb } from '../server/store/index.ts'
import { spawnServe } from '../server/testing/process.ts'
import { launchChromium } from './lib/chromium.ts'
import { numberFlag, sleep, until } from './lib/proc.ts'
import { spawnSimFleet } from './lib/sim-fleet-process.ts'

const seconds = numberFlag('seconds', 20)
const sampleMs = numberFlag('sample-ms', 100)

const hosts = numberFlag('hosts', 200)
const fleetSeconds = numberFlag('fleet-seconds', 30)

const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-web-'))
// The simulated agents' tokens, made before the hub opens its data dir
const admin = sqliteTokenAdmin(openDb(dir))
const tokens: string[] = []
for (let i = 0; i < hosts; i++) tokens.push((await admin.create('agent', `sim-${i}`)).token)
await admin.close()
const tokensFile = join(dir, 'tokens')
writeFileSync(tokensFile, tokens.join('\n'))
const server = await spawnServe(
  ['--port', '0', '--data-dir', dir, '--sample-ms', String(sampleMs), '--hostname', 'bench'],
  {},
  true,
)
const browser = await launchChromium()
try {
  await sleep(3000) // some history to load, as a user opening a running hub would have
  console.log(`bench:web ${new Date().toISOString()} Chromium headless, one event per ${sampleMs} ms for ${seconds} s`)
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
  // The hub's own host page: its charts are what the budgets are about
  await page.goto(`${server.url}/hosts/bench`)
  await sleep(seconds * 1000)
  const p = await page.evaluate(() => window.vigil.perf())
  const all = await page.evaluate(() => window.vigil.charts().length)
  console.log(
    `first chart painted ${p.firstChartMs} ms after navigation (budget 1000 ms); ${p.charts} of ${all} charts drawn; ` +
      `${p.updates} live updates: main thread p50 ${p.p50Ms} ms, p99 ${p.p99Ms} ms, max ${p.maxMs} ms (budget 5 ms with 20 charts); ` +
      `sample → pixels p50 ${p.pixelsP50Ms} ms, p95 ${p.pixelsP95Ms} ms (budget p95 ≤ 50 ms beyond the tick)`,
  )
  await page.close()

  const sim = spawnSimFleet(
    { urls: [server.url], tokensFile, agents: hosts, metrics: 20, dir: join(dir, 'sim') },
    () => {},
  )
  try {
    await until(
      async () => {
        const list = (await (await fetch(`${server.url}/api/hosts`)).json()) as HostEntry[]
        return list.filter((h) => h.state === 'online' && h.host.startsWith('sim-')).length === hosts
      },
      120_000,
      'the simulated agents',
    )
    const fleet = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
    await fleet.goto(`${server.url}/`)
    await sleep(5000)
    const cdp = await fleet.context().newCDPSession(fleet)
    await cdp.send('Performance.enable')
    const taskSeconds = async () => {
      const { metrics } = (await cdp.send('Performance.getMetrics')) as { metrics: { name: string; value: number }[] }
      return metrics.find((m) => m.name === 'TaskDuration')?.value ?? Number.NaN
    }
    const t0 = await taskSeconds()
    const w0 = performance.now()
    await sleep(fleetSeconds * 1000)
    const busy = (await taskSeconds()) - t0
    const wall = (performance.now() - w0) / 1000
    const rows = await fleet.locator('#fleet-table tbody tr').count()
    console.log(
      `fleet overview, ${rows} hosts (${hosts} simulated agents at 1 Hz and the hub): main thread busy ${((busy / wall) * 100).toFixed(1)} % over ${wall.toFixed(0)} s (budget 10 %)`,
    )
    await fleet.close()
  } finally {
    sim.kill('SIGKILL')
  }
} finally {
  await browser.close()
  server.child.kill('SIGTERM')
  await server.exited
  rmSync(dir, { recursive: true, force: true })
}
