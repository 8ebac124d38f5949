import type { Browser, Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import type { SeriesResponse } from '../../server/protocol/index.ts'
import { useE2eHub } from './harness.ts'

const hub = useE2eHub(['--sample-ms', '500', '--slow-sample-ms', '2000'])

const cpuTimestamps = (page: Page) => page.evaluate(() => window.vigil.timestamps('cpu.usage_pct'))
const indicator = (page: Page) => page.locator('#conn')

async function open(options: Parameters<Browser['newPage']>[0] = {}): Promise<Page> {
  const page = await hub.browser.newPage(options)
  page.on('pageerror', (err) => {
    throw err
  })
  await page.goto(hub.hostPage)
  return page
}

describe('dashboard in Chromium', () => {
  it('logs the admin in with the one-time link printed at first start, which strips the code from the address', async () => {
    const link = /(http:\/\/\S+\/login\?code=\S+)/.exec(hub.server.stdout())?.[1] as string
    expect(link).toBeDefined()
    const page = await hub.browser.newPage()
    await page.goto(link)
    expect(new URL(page.url()).pathname).toBe('/')
    expect(page.url()).not.toContain('code=')
    await expect.poll(() => page.locator('#who').textContent()).toBe('admin (admin)log out')
    await page.click('#who button')
    await expect.poll(() => page.locator('#who').textContent()).toBe('anonymous viewer log in')
    await page.close()
  })

  it('logs in with a pasted token on /login, and explains a used link', async () => {
    const token = hub.createToken('operator', 'e2e-op')
    const page = await hub.browser.newPage()
    await page.goto(`${hub.server.url}/login?error=expired`)
    expect(await page.locator('#error').textContent()).toBe(
      'That login link has been used or has expired. Paste a token instead.',
    )
    await page.fill('#token', 'vgl_wrong')
    await page.click('button[type=submit]')
    await expect.poll(() => page.locator('#error').textContent()).toBe('Invalid or revoked token')
    await page.fill('#token', token)
    await page.click('button[type=submit]')
    await expect.poll(() => page.locator('#who').textContent()).toBe('e2e-op (operator)log out')
    await page.close()
  })

  it('loads, says live, and its CPU chart gains points', async () => {
    const page = await open()
    await expect.poll(() => indicator(page).getAttribute('data-state'), { timeout: 10_000 }).toBe('live')
    await expect.poll(() => indicator(page).locator('.label').textContent()).toBe('live')
    await expect.poll(async () => (await cpuTimestamps(page)).length, { timeout: 10_000 }).toBeGreaterThan(1)
    const before = (await cpuTimestamps(page)).length
    await expect.poll(async () => (await cpuTimestamps(page)).length, { timeout: 10_000 }).toBeGreaterThan(before)
    expect(await page.locator('[data-chart="cpu"]').isVisible()).toBe(true)
    expect(await page.locator('[data-chart="mem"]').isVisible()).toBe(true)
    await expect.poll(() => page.locator('#top-cpu tbody tr').count(), { timeout: 10_000 }).toBe(5)
    await page.close()
  })

  it('says reconnecting when the server dies, then live again after a restart with no gap in the chart', async () => {
    const page = await open()
    await expect.poll(() => indicator(page).getAttribute('data-state'), { timeout: 10_000 }).toBe('live')
    await expect.poll(async () => (await cpuTimestamps(page)).length, { timeout: 10_000 }).toBeGreaterThan(3)

    const port = await hub.kill()
    await expect.poll(() => indicator(page).getAttribute('data-state'), { timeout: 10_000 }).toBe('reconnecting')

    const restartedAt = Date.now()
    await hub.restart(port)
    await expect.poll(() => indicator(page).getAttribute('data-state'), { timeout: 20_000 }).toBe('live')
    await expect
      .poll(async () => (await cpuTimestamps(page)).filter((ts) => ts > restartedAt).length, { timeout: 10_000 })
      .toBeGreaterThan(2)

    // Every sample the hub stored over the chart's span is on the chart, once, and nothing else is
    const shown = await cpuTimestamps(page)
    const from = shown[0] as number
    const to = shown.at(-1) as number
    const res = await fetch(`${hub.server.url}/api/series?metric=cpu.usage_pct&from=${from}&to=${to}&points=10000`)
    const stored = ((await res.json()) as SeriesResponse).points.map((p) => p[0])
    expect(shown).toEqual(stored)
    await page.close()
  })

  it('reloads history for a picked range and keeps the line free of duplicates', async () => {
    const page = await open()
    await expect.poll(async () => (await cpuTimestamps(page)).length, { timeout: 10_000 }).toBeGreaterThan(2)
    await page.click('#ranges button[data-range="1h"]')
    expect(await page.getAttribute('#ranges button[data-range="1h"]', 'aria-pressed')).toBe('true')
    expect(await page.getAttribute('#ranges button[data-range="live"]', 'aria-pressed')).toBe('false')
    const before = (await cpuTimestamps(page)).at(-1) as number
    await expect.poll(async () => (await cpuTimestamps(page)).at(-1), { timeout: 10_000 }).toBeGreaterThan(before)
    const ts = await cpuTimestamps(page)
    for (let i = 1; i < ts.length; i++) expect(ts[i]).toBeGreaterThan(ts[i - 1] as number)
    await page.close()
  })

  it('follows a dark OS theme and lays cards out in one column on a phone', async () => {
    const page = await open({ colorScheme: 'dark', viewport: { width: 390, height: 844 } })
    await expect.poll(() => page.locator('[data-chart="cpu"]').isVisible(), { timeout: 10_000 }).toBe(true)
    expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(15, 18, 22)')
    const columns = await page.evaluate(
      () => getComputedStyle(document.querySelector('#grid') as Element).gridTemplateColumns,
    )
    expect(columns.split(' ')).toHaveLength(1)
    await page.close()
  })
})
