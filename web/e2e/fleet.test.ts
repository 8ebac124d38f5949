import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, describe, expect, it } from 'vitest'
import { ROOT } from '../../server/paths.ts'
import type { SeriesResponse } from '../../server/protocol/index.ts'
import { useE2eHub } from './harness.ts'

const hub = useE2eHub(['--sample-ms', '1000', '--slow-sample-ms', '2000', '--agent-heartbeat-ms', '1000'])
const started: { child: ChildProcess; spool: string }[] = []
afterAll(() => {
  for (const a of started) {
    a.child.kill('SIGKILL')
    rmSync(a.spool, { recursive: true, force: true })
  }
})

/** `vigil agent` (built) reporting `hostname` to the hub. */
function agent(hostname: string): ChildProcess {
  const spool = mkdtempSync(join(tmpdir(), 'vigil-e2e-spool-'))
  const token = hub.createToken('agent', `agent-${hostname}`)
  const child = spawn(
    process.execPath,
    [join(ROOT, 'dist/server/main.js'), 'agent', '--hub', hub.server.url, '--hostname', hostname, '--spool-dir', spool],
    { env: { ...process.env, VIGIL_TOKEN: token }, stdio: 'ignore' },
  )
  started.push({ child, spool })
  return child
}

async function open(path: string): Promise<Page> {
  const page = await hub.browser.newPage()
  page.on('pageerror', (err) => {
    throw err
  })
  await page.goto(`${hub.server.url}${path}`)
  return page
}

const row = (page: Page, host: string) => page.locator(`#fleet-table tbody tr[data-host="${host}"]`)
const cpuTimes = (page: Page) => page.evaluate(() => window.vigil.timestamps('cpu.usage_pct'))

describe('the fleet in Chromium', () => {
  let edgeB: ChildProcess
  it('shows two live agent hosts beside the hub on the overview, and opens a host’s live charts at /hosts/<name>, kept across a reload', async () => {
    agent('edge-a')
    edgeB = agent('edge-b')
    const page = await open('/')
    for (const host of ['edge-a', 'edge-b', 'e2e-hub']) {
      await expect.poll(() => row(page, host).getAttribute('data-state'), { timeout: 20_000 }).toBe('online')
    }
    await expect.poll(() => page.locator('#fleet-counts').textContent()).toBe('3 online · 0 offline')
    await expect.poll(() => row(page, 'edge-a').locator('td').nth(1).textContent(), { timeout: 10_000 }).toMatch(/%$/)
    expect(await row(page, 'edge-a').locator('td').nth(7).textContent()).toBe('0.1.0')
    await page.fill('#fleet-filter', 'edge')
    await expect.poll(() => page.locator('#fleet-table tbody tr').count()).toBe(2)
    await page.fill('#fleet-filter', '')

    await row(page, 'edge-a').locator('td').nth(2).click()
    await page.waitForURL(`${hub.server.url}/hosts/edge-a`)
    await expect.poll(() => page.locator('#host-picker').inputValue(), { timeout: 10_000 }).toBe('edge-a')
    await expect.poll(async () => (await cpuTimes(page)).length, { timeout: 15_000 }).toBeGreaterThan(2)
    const before = (await cpuTimes(page)).length
    await expect.poll(async () => (await cpuTimes(page)).length, { timeout: 10_000 }).toBeGreaterThan(before)

    await page.click('#ranges button[data-range="1h"]')
    expect(new URL(page.url()).search).toBe('?range=1h')
    await page.reload()
    await expect.poll(() => page.locator('#host-picker').inputValue(), { timeout: 10_000 }).toBe('edge-a')
    expect(await page.getAttribute('#ranges button[data-range="1h"]', 'aria-pressed')).toBe('true')
    await expect.poll(async () => (await cpuTimes(page)).length, { timeout: 10_000 }).toBeGreaterThan(2)
    const view = await page.evaluate(() => window.vigil.view())
    expect(view.to - view.from).toBe(3_600_000)
    await page.close()
  })

  it('fills the chart gap of an agent host without a reload once its backfill lands after a hub outage', async () => {
    const page = await open('/hosts/edge-a')
    await expect.poll(async () => (await cpuTimes(page)).length, { timeout: 15_000 }).toBeGreaterThan(3)
    const port = await hub.kill()
    await new Promise((r) => setTimeout(r, 6000))
    await hub.restart(port)
    await expect.poll(() => page.locator('#backfill').textContent(), { timeout: 45_000 }).toMatch(/^back-filled /)
    await new Promise((r) => setTimeout(r, 1500))
    // Every tick the hub stored for the host over the chart's span is on the chart, the outage included
    const shown = await cpuTimes(page)
    const from = shown[0] as number
    const to = shown.at(-1) as number
    const res = await fetch(
      `${hub.server.url}/api/series?metric=cpu.usage_pct&host=edge-a&from=${from}&to=${to}&points=10000`,
    )
    const stored = ((await res.json()) as SeriesResponse).points.map((p) => p[0])
    expect(shown).toEqual(stored)
    const gaps = stored.slice(1).map((t, i) => t - (stored[i] as number))
    expect(Math.max(...gaps)).toBeLessThan(1500)
    await page.close()
  })

  it('opens a job’s page from the link vigil run prints', async () => {
    const run = hub.run('linked', ['bash', '-c', 'echo hello; sleep 1'])
    await run.exited
    const err = run.stderr()
    const link = /vigil run: job j[0-9a-f]+: (\S+)/.exec(err)?.[1] as string
    expect(link).toMatch(new RegExp(`^${hub.server.url}/jobs/j[0-9a-f]+$`))
    const page = await hub.browser.newPage()
    await page.goto(link)
    await expect.poll(() => page.locator('#job-title').textContent(), { timeout: 10_000 }).toBe('linked')
    await expect.poll(() => page.locator('#job-summary').textContent(), { timeout: 10_000 }).toMatch(/^succeeded · /)
    expect(await page.locator('#job-log .log-line').first().textContent()).toBe('hello')
    expect(await page.locator('#job-host').textContent()).toBe('on e2e-hub')
    await page.close()
  })

  it('turns a killed agent’s dot offline on the overview', async () => {
    const page = await open('/')
    await expect.poll(() => row(page, 'edge-b').getAttribute('data-state'), { timeout: 30_000 }).toBe('online')
    edgeB.kill('SIGKILL')
    await expect.poll(() => row(page, 'edge-b').getAttribute('data-state'), { timeout: 15_000 }).toBe('offline')
    await expect.poll(() => page.locator('#fleet-counts').textContent()).toBe('2 online · 1 offline')
    const dot = await row(page, 'edge-b')
      .locator('.dot')
      .evaluate((el) => getComputedStyle(el).backgroundColor)
    expect(dot).toBe('rgb(198, 40, 40)')
    await page.close()
  })
})
