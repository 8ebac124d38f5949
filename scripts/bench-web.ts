/**
 * `npm run bench:web [-- --seconds 20 --sample-ms 100]`: loads the dashboard of a real `vigil serve` in Chromium
 * and reports when the first chart was painted (ms after navigation start), the main-thread time of each live
 * update (event handling plus the frame that draws it; the render worker's own time beside it), and the time from
 * a sample's `ts` to the frame that drew it, against the budgets in ARCHITECTURE.md: for the host page as it is
 * (9 charts) and with 11 custom metrics at the same rate (20 charts), each drawn on the main thread
 * (`?render=main`, as before the worker) and in the worker, in the same run; then a job page on a 1,000,000-line log (`--log-lines`) taking a
 * live batch of 1,000 lines every 100 ms: the main-thread time of each appended batch, and scrolls to its first
 * and last lines; then the fleet overview with 200 simulated agents (`--hosts`): the main thread's busy share.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sqliteTokenAdmin } from '../server/auth/index.ts'
import type { HostEntry } from '../server/protocol/index.ts'
import { openDb } from '../server/store/index.ts'
import { spawnServe } from '../server/testing/process.ts'
import { launchChromium } from './lib/chromium.ts'
import { numberFlag, percentile, sleep, until } from './lib/proc.ts'
import { spawnSimFleet } from './lib/sim-fleet-process.ts'

const seconds = numberFlag('seconds', 20)
const sampleMs = numberFlag('sample-ms', 100)

const hosts = numberFlag('hosts', 200)
const fleetSeconds = numberFlag('fleet-seconds', 30)
const logLines = numberFlag('log-lines', 1_000_000)

const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-web-'))
// The simulated agents' tokens, made before the hub opens its data dir
const admin = sqliteTokenAdmin(openDb(dir))
const tokens: string[] = []
for (let i = 0; i < hosts; i++) tokens.push((await admin.create('agent', `sim-${i}`)).token)
const reporter = (await admin.create('reporter', 'bench-log')).token
await admin.close()
const tokensFile = join(dir, 'tokens')
writeFileSync(tokensFile, tokens.join('\n'))
const server = await spawnServe(
  [
    '--port',
    '0',
    '--data-dir',
    dir,
    '--sample-ms',
    String(sampleMs),
    '--hostname',
    'bench',
    '--job-log-lines',
    String(2 * logLines),
  ],
  {},
  true,
)
const browser = await launchChromium()
const headers = { authorization: `Bearer ${reporter}`, 'content-type': 'application/json' }
const post = (path: string, body: unknown) =>
  fetch(`${server.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) })

/** The host page for `seconds`, its charts drawn on the main thread or in the render worker. */
async function hostPage(render: 'main' | 'worker', height: number): Promise<void> {
  const page = await browser.newPage({ viewport: { width: 1400, height } })
  await page.goto(`${server.url}/hosts/bench${render === 'main' ? '?render=main' : ''}`)
  await sleep(seconds * 1000)
  const p = await page.evaluate(() => window.vigil.perf())
  const all = await page.evaluate(() => window.vigil.charts().length)
  const w = p.worker
  console.log(
    `host page, ${all} charts, drawn ${render === 'main' ? 'on the main thread' : 'in the render worker'}: first chart painted ${p.firstChartMs} ms after navigation (budget 1000 ms); ` +
      `${p.charts} of ${all} charts drawn; ${p.updates} live updates: main thread p50 ${p.p50Ms} ms, p99 ${p.p99Ms} ms, max ${p.maxMs} ms (budget p99 ≤ 5 ms with 20 charts)` +
      (w ? `; the worker p50 ${w.p50Ms} ms, p99 ${w.p99Ms} ms an update` : '') +
      `; sample → pixels p50 ${p.pixelsP50Ms} ms, p95 ${p.pixelsP95Ms} ms (budget p95 ≤ 50 ms beyond the tick)`,
  )
  await page.close()
}

/**
 * The job page on a log of `logLines` lines: the main-thread cost of each appended live batch (1,000 lines every
 * 100 ms), and whether scrolling reaches the first and the last line.
 */
async function logView(): Promise<void> {
  const id = ((await (await post('/api/jobs', { name: 'bench-log' })).json()) as { id: string }).id
  let batch = 0
  for (let at = 0; at < logLines; at += 50_000) {
    const text = Array.from({ length: Math.min(50_000, logLines - at) }, (_, i) => `line ${at + i + 1}`).join('\n')
    await post(`/api/jobs/${id}/logs?batch=${batch++}`, [{ text }])
  }
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
  await page.goto(`${server.url}/jobs/${id}`)
  const state = () => page.evaluate(() => window.vigilLog?.())
  await until(async () => (await state())?.lastSeq === logLines, 30_000, 'the log view at its end')
  let lines = logLines
  const until10s = Date.now() + 10_000
  while (Date.now() < until10s) {
    const text = Array.from({ length: 1000 }, (_, i) => `live line ${lines + i + 1}`).join('\n')
    await post(`/api/jobs/${id}/logs?batch=${batch++}`, [{ text }])
    lines += 1000
    await sleep(100)
  }
  await until(async () => (await state())?.lastSeq === lines, 10_000, 'the last live line')
  const cost = (await state())?.appends
  const scrollTo = (top: boolean) =>
    page.locator('#job-log').evaluate((el, t) => {
      el.scrollTop = t ? 0 : el.scrollHeight
    }, top)
  await scrollTo(true)
  await until(
    async () => (await page.locator('#job-log .log-line[data-seq="1"]').textContent()) === 'line 1',
    10_000,
    'line 1',
  )
  await scrollTo(false)
  await until(
    async () => (await page.locator(`#job-log .log-line[data-seq="${lines}"]`).textContent()) === `live line ${lines}`,
    10_000,
    'the last line',
  )
  const s = await state()
  console.log(
    `job log view, ${logLines.toLocaleString('en')} lines then 1,000 more every 100 ms: ${cost?.updates} appended batches drawn, ` +
      `main thread p50 ${cost?.p50Ms} ms, p99 ${cost?.p99Ms} ms, max ${cost?.maxMs} ms (budget p99 ≤ 8 ms); ` +
      `scroll space ${s?.spacePx.toLocaleString('en')} px for ${s?.rows.toLocaleString('en')} rows (Chromium's limit 33,554,428); scrolled to line 1 and to line ${lines.toLocaleString('en')}`,
  )
  await page.close()
}

try {
  await sleep(3000) // some history to load, as a user opening a running hub would have
  console.log(`bench:web ${new Date().toISOString()} Chromium headless, one event per ${sampleMs} ms for ${seconds} s`)
  // The hub's own host page as it is (9 charts in a 1400×1000 window), then with 11 custom metrics at 10 Hz too
  // (20 charts, in a window tall enough to show them all): each drawn on the main thread, then in the worker
  for (const render of ['main', 'worker'] as const) await hostPage(render, 1000)
  const custom = setInterval(() => {
    const samples = Array.from({ length: 11 }, (_, i) => ({
      name: `bench.custom_${i}.value`,
      value: Math.random() * 100,
    }))
    void post('/api/metrics', { samples })
  }, sampleMs)
  try {
    await sleep(2000)
    for (const render of ['main', 'worker'] as const) await hostPage(render, 2900)
  } finally {
    clearInterval(custom)
  }

  await logView()

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
    // Scrolled down the whole table and back by the wheel, 10 s: how long each frame took to come
    await fleet.mouse.move(700, 500)
    // A string, not a function: the loader's name helpers do not exist in the page
    await fleet.evaluate(`{
      const frames = []
      let last = performance.now()
      const tick = (t) => {
        frames.push(t - last)
        last = t
        if (frames.length < 100000) requestAnimationFrame(tick)
      }
      requestAnimationFrame(tick)
      window.frames_ = frames
    }`)
    const scrollUntil = Date.now() + 10_000
    let travelled = 0
    let was = 0
    for (let down = true; Date.now() < scrollUntil; ) {
      await fleet.mouse.wheel(0, down ? 240 : -240)
      await sleep(50)
      const y = await fleet.evaluate(() => ({ at: scrollY, max: document.documentElement.scrollHeight - innerHeight }))
      travelled += Math.abs(y.at - was)
      was = y.at
      if (down && y.at >= y.max) down = false
      else if (!down && y.at <= 0) down = true
    }
    const frames = (await fleet.evaluate(() => (window as unknown as { frames_: number[] }).frames_.slice(1))).sort(
      (a, b) => a - b,
    )
    const at = (p: number) => percentile(frames, p).toFixed(1)
    const slow = frames.filter((f) => f > 1000 / 30).length
    console.log(
      `fleet overview scrolled by the wheel for 10 s (${Math.round(travelled).toLocaleString('en')} px, down and up): ${frames.length} frames, frame interval p50 ${at(50)} ms, p99 ${at(99)} ms, ` +
        `${((slow / frames.length) * 100).toFixed(1)} % of frames over 33 ms`,
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
