import { describe, expect, it } from 'vitest'
import { useE2eHub } from './harness.ts'

const hub = useE2eHub(['--self-signed', '--sample-ms', '500', '--slow-sample-ms', '2000'])

describe('dashboard over HTTPS and HTTP/2 in Chromium', () => {
  it('shows live charts over h2 with a self-signed certificate, and WebSocket commands still work', async () => {
    const link = /(https:\/\/\S+\/login\?code=\S+)/.exec(hub.server.stdout())?.[1] as string
    expect(link).toBeDefined()
    const context = await hub.browser.newContext({ ignoreHTTPSErrors: true })
    const page = await context.newPage()
    page.on('pageerror', (err) => {
      throw err
    })
    await page.goto(link)
    expect(page.url()).toBe(`${hub.server.url}/`)
    await page.goto(hub.hostPage)
    const protocol = await page.evaluate(
      () => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol,
    )
    expect(protocol).toBe('h2')
    await expect.poll(() => page.locator('#conn').getAttribute('data-state'), { timeout: 10_000 }).toBe('live')
    const before = (await page.evaluate(() => window.vigil.timestamps('cpu.usage_pct'))).length
    await expect
      .poll(async () => (await page.evaluate(() => window.vigil.timestamps('cpu.usage_pct'))).length, {
        timeout: 10_000,
      })
      .toBeGreaterThan(before + 2)
    // API calls share the one HTTP/2 connection (an open EventSource has no timing entry until it ends)
    const apiProtocols = await page.evaluate(() =>
      (performance.getEntriesByType('resource') as PerformanceResourceTiming[])
        .filter((e) => e.name.includes('/api/'))
        .map((e) => e.nextHopProtocol),
    )
    expect(apiProtocols.length).toBeGreaterThan(0)
    expect(new Set(apiProtocols)).toEqual(new Set(['h2']))

    await expect.poll(() => page.locator('#ctl-conn').textContent(), { timeout: 10_000 }).toBe('control open')
    await page.fill('#ctl-interval', '700')
    await page.click('#ctl-apply')
    await expect.poll(() => page.locator('#ctl-result').textContent()).toBe('sampling.set acknowledged (version 1)')
    await context.close()
  })
})
