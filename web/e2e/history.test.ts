import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { useE2eHub } from './harness.ts'

const hub = useE2eHub(['--sample-ms', '500', '--slow-sample-ms', '2000'])

async function open(): Promise<Page> {
  const page = await hub.browser.newPage()
  page.on('pageerror', (err) => {
    throw err
  })
  // Anything the CSP blocks is a test failure: it would be broken for users too
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      ;(window as unknown as { cspViolations: string[] }).cspViolations ??= []
      ;(window as unknown as { cspViolations: string[] }).cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`)
    })
  })
  await page.goto(hub.hostPage)
  await expect.poll(() => page.locator('#conn').getAttribute('data-state'), { timeout: 10_000 }).toBe('live')
  return page
}
const cpuPoints = (page: Page) => page.evaluate(() => window.vigil.timestamps('cpu.usage_pct').length)

describe('history on the dashboard in Chromium', () => {
  it('charts a custom metric posted by a reporter, and downloads its CSV from the card menu', async () => {
    const token = hub.createToken('reporter', 'etl')
    const now = Date.now()
    const samples = Array.from({ length: 20 }, (_, i) => ({
      name: 'etl.rows_imported',
      ts: now - 20_000 + i * 1000,
      value: i * 10,
    }))
    const res = await fetch(`${hub.server.url}/api/metrics`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ samples }),
    })
    expect(res.status).toBe(200)

    const page = await open()
    const card = page.locator('[data-chart="custom:etl.rows_imported"]')
    await expect.poll(() => card.isVisible(), { timeout: 10_000 }).toBe(true)
    expect(await card.locator('h2 span').first().textContent()).toBe('etl.rows_imported')
    await expect
      .poll(() => page.evaluate(() => window.vigil.timestamps('etl.rows_imported')), { timeout: 10_000 })
      .toEqual(samples.map((s) => s.ts))

    await card.locator('details.csv summary').click()
    const link = card.locator('details.csv .menu a')
    expect(await link.textContent()).toBe('etl.rows_imported')
    const href = (await link.getAttribute('href')) ?? ''
    expect(href).toMatch(
      /^\/api\/series\?metric=etl\.rows_imported&host=e2e-hub&from=\d+&to=\d+&points=1200&format=csv$/,
    )
    const csv = await page.evaluate((h) => fetch(h).then((r) => r.text()), href)
    const lines = csv.trim().split('\n')
    expect(lines[0]).toBe('ts,time,avg,min,max')
    expect(lines.slice(1).map((l) => Number(l.split(',')[2]))).toEqual(samples.map((s) => s.value))
    await page.close()
  })

  it('zooms every chart into a span dragged across the CPU chart, holds it, and resets to the live window', async () => {
    const page = await open()
    await expect.poll(() => cpuPoints(page), { timeout: 10_000 }).toBeGreaterThan(6)
    const box = await page.locator('[data-chart="cpu"] canvas').boundingBox()
    if (!box) throw new Error('no CPU canvas')
    const y = box.y + box.height / 2
    await page.mouse.move(box.x + box.width * 0.5, y)
    await page.mouse.down()
    await page.mouse.move(box.x + box.width * 0.7, y, { steps: 5 })
    await page.mouse.move(box.x + box.width * 0.9, y, { steps: 5 })
    await page.mouse.up()

    await expect.poll(() => page.locator('#zoom-reset').isVisible()).toBe(true)
    const zoomed = await page.evaluate(() => window.vigil.view())
    expect(zoomed.zoomed).toBe(true)
    // 40 % of a 5-minute window, give or take the chart's padding
    expect(zoomed.to - zoomed.from).toBeGreaterThan(90_000)
    expect(zoomed.to - zoomed.from).toBeLessThan(150_000)
    await new Promise((r) => setTimeout(r, 1500))
    expect(await page.evaluate(() => window.vigil.view())).toEqual(zoomed)
    // The span is in the address: a reload (or the link) shows the same zoomed view
    const url = new URL(page.url())
    expect([url.pathname, url.searchParams.get('from'), url.searchParams.get('to')]).toEqual([
      '/hosts/e2e-hub',
      String(Math.floor(zoomed.from)),
      String(Math.ceil(zoomed.to)),
    ])
    await page.reload()
    await expect.poll(() => page.locator('#zoom-reset').isVisible()).toBe(true)
    const again = await page.evaluate(() => window.vigil.view())
    expect([again.zoomed, again.from, again.to]).toEqual([true, Math.floor(zoomed.from), Math.ceil(zoomed.to)])

    expect(await page.evaluate(() => (window as unknown as { cspViolations?: string[] }).cspViolations ?? [])).toEqual(
      [],
    )
    await page.click('#zoom-reset')
    await expect.poll(() => page.locator('#zoom-reset').isVisible()).toBe(false)
    const live = await page.evaluate(() => window.vigil.view())
    expect([live.zoomed, live.to - live.from]).toEqual([false, 300_000])
    expect(new URL(page.url()).search).toBe('')
    await page.close()
  })

  it('offers 7 d, 30 d and 1 y ranges and shades a min/max band from bucketed history', async () => {
    const page = await open()
    await expect.poll(() => cpuPoints(page), { timeout: 10_000 }).toBeGreaterThan(6)
    for (const range of ['7d', '30d', '1y'] as const) {
      await page.click(`#ranges button[data-range="${range}"]`)
      expect(await page.getAttribute(`#ranges button[data-range="${range}"]`, 'aria-pressed')).toBe('true')
      const span = { '7d': 7, '30d': 30, '1y': 365 }[range] * 86_400_000
      await expect
        .poll(async () => {
          const v = await page.evaluate(() => window.vigil.view())
          return v.to - v.from
        })
        .toBe(span)
      // Every sample so far falls in one or two buckets of minutes, whose min and max differ
      await expect
        .poll(() => page.evaluate(() => window.vigil.band('cpu.usage_pct')), { timeout: 10_000 })
        .toBeGreaterThan(0)
    }
    await page.close()
  })

  it('shows Vigil’s own cost: database size, each tier with bytes per sample, sampler time and clients', async () => {
    const page = await open()
    await expect.poll(() => page.locator('#tier-table tbody tr').count(), { timeout: 10_000 }).toBe(3)
    const tiers = await page
      .locator('#tier-table tbody tr')
      .evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.tier))
    expect(tiers).toEqual(['raw', '1m', '1h'])
    expect(await page.locator('#tier-table tbody tr[data-tier="raw"] td').nth(4).textContent()).toBe('7 d')
    expect(await page.locator('#tier-table tbody tr[data-tier="1h"] td').nth(4).textContent()).toBe('2 y')
    const labels = await page.locator('#self-table th').allTextContents()
    expect(labels).toEqual(['Database', 'Series', 'Sampler', 'Clients', 'Events', 'Memory'])
    await expect
      .poll(() => page.locator('#self-table tr:has(th:text("Clients")) td').textContent(), { timeout: 10_000 })
      .toMatch(/^[1-9]\d* streams/)
    await page.close()
  })
})
