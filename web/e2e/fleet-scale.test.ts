import type { Page } from 'playwright-core'
import { afterAll, describe, expect, it } from 'vitest'
import { sqliteTokenAdmin } from '../../server/auth/index.ts'
import { openDb } from '../../server/store/index.ts'
import { SimAgent, simTick } from '../../server/testing/sim-agent.ts'
import { useE2eHub } from './harness.ts'

const hub = useE2eHub(['--sample-ms', '1000', '--agent-heartbeat-ms', '1000'])
const sims: SimAgent[] = []
afterAll(() => {
  for (const a of sims) a.close()
})

async function open(path: string): Promise<Page> {
  const page = await hub.browser.newPage({ viewport: { width: 1300, height: 900 } })
  page.on('pageerror', (err) => {
    throw err
  })
  await page.goto(`${hub.server.url}${path}`)
  return page
}

describe('the overview at fleet scale in Chromium', () => {
  it('lists 200 simulated hosts live, paints only the rows on screen, filters and sorts them, and counts them online', async () => {
    // 200 tokens made at once through the data dir, as `vigil token create` does one at a time
    const tokens = sqliteTokenAdmin(openDb(hub.dataDir))
    for (let i = 0; i < 200; i++) {
      const host = `node-${String(i).padStart(3, '0')}`
      sims.push(new SimAgent({ url: hub.server.url, token: (await tokens.create('agent', `sim-${host}`)).token, host }))
    }
    await tokens.close()
    await Promise.all(sims.map((a) => a.hello()))
    const page = await open('/')
    let seq = 0
    const ticking = setInterval(() => {
      seq++
      const ts = Math.floor(Date.now() / 1000) * 1000
      sims.forEach((a, i) => {
        a.ticks([{ ...simTick(seq, ts), values: { 'cpu.usage_pct': (i * 7 + seq) % 100, 'load.1m': i / 100 } }])
      })
    }, 1000)
    try {
      await expect.poll(() => page.locator('#fleet-table tbody tr').count(), { timeout: 20_000 }).toBe(201)
      await expect
        .poll(() => page.locator('#fleet-counts').textContent(), { timeout: 10_000 })
        .toBe('201 online · 0 offline')
      // A row far below the window takes its figures but is not painted until it is scrolled to
      const far = page.locator('#fleet-table tbody tr[data-host="node-180"]')
      expect(await far.locator('td').nth(5).textContent()).toBe('')
      await far.scrollIntoViewIfNeeded()
      await expect.poll(() => far.locator('td').nth(5).textContent(), { timeout: 10_000 }).toBe('1.80')
      await page.locator('#fleet-table tbody tr[data-host="node-042"]').scrollIntoViewIfNeeded()
      await expect
        .poll(() => page.locator('#fleet-table tbody tr[data-host="node-042"] td').nth(5).textContent(), {
          timeout: 10_000,
        })
        .toBe('0.42')
      await page.fill('#fleet-filter', 'node-19')
      await expect.poll(() => page.locator('#fleet-table tbody tr').count()).toBe(10)
      await page.fill('#fleet-filter', '')
      await page.selectOption('#fleet-sort', 'cpu')
      await expect
        .poll(async () => {
          const cpus = await page.locator('#fleet-table tbody tr td:nth-child(2) .value').allTextContents()
          const values = cpus.map((t) => Number.parseFloat(t)).filter((v) => !Number.isNaN(v))
          // The rows on screen (and 200 px beyond) are painted, in descending CPU order
          return values.length >= 10 && values.every((v, i) => i === 0 || v <= (values[i - 1] as number))
        })
        .toBe(true)
    } finally {
      clearInterval(ticking)
      await page.close()
    }
  })

  it('warns on a host’s page of the ticks its agent lost from a full spool, with their span and count', async () => {
    const a = new SimAgent({ url: hub.server.url, token: hub.createToken('agent', 'sim-gappy'), host: 'gappy' })
    sims.push(a)
    await a.hello()
    const t0 = Math.floor(Date.now() / 1000) * 1000 - 60_000
    a.ticks([simTick(1, t0)])
    a.send({ type: 'gap', fromSeq: 2, toSeq: 31, from: t0 + 1000, to: t0 + 30_000, ticks: 30 })
    await a.next('gapAck', 0)
    a.ticks([simTick(32, t0 + 31_000), simTick(33, t0 + 32_000)])
    const page = await open('/hosts/gappy')
    await expect
      .poll(() => page.locator('#host-warnings').textContent(), { timeout: 10_000 })
      .toMatch(/^30 ticks lost .+ \(its spool was full\)$/)
    await page.close()
    const overview = await open('/')
    await expect
      .poll(() => overview.locator('#fleet-table tbody tr[data-host="gappy"] .warn').textContent(), { timeout: 10_000 })
      .toBe(' ⚠ 30 ticks lost from a full spool')
    await overview.close()
  })
})
