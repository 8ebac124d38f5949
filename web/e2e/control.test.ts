import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { useE2eHub } from './harness.ts'

const hub = useE2eHub(['--sample-ms', '1000', '--slow-sample-ms', '5000'])

async function loginWithToken(token: string): Promise<Page> {
  const page = await hub.browser.newPage()
  await page.goto(`${hub.server.url}/login`)
  await page.fill('#token', token)
  await page.click('button[type=submit]')
  await page.waitForURL(`${hub.server.url}/`)
  await page.goto(hub.hostPage)
  return page
}

const gapsAfter = (ts: number[], from: number) => {
  const after = ts.filter((x) => x > from)
  return after
    .slice(1)
    .map((x, i) => x - (after[i] as number))
    .sort((a, b) => a - b)
}

describe('sampling control in Chromium', () => {
  it('lets the admin from the printed link change the interval; the chart speeds up and the audit view shows it', async () => {
    const link = /(http:\/\/\S+\/login\?code=\S+)/.exec(hub.server.stdout())?.[1] as string
    const page = await hub.browser.newPage()
    await page.goto(link)
    await page.goto(hub.hostPage)
    await expect.poll(() => page.locator('#ctl-conn').textContent(), { timeout: 10_000 }).toBe('control open')
    // The state comes with the stream's `config` event, which may land after the control socket opens
    await expect
      .poll(() => page.locator('#ctl-state').textContent())
      .toMatch(/^Fast 1000 ms · slow 5000 ms · running · v0 by config$/)

    await page.fill('#ctl-interval', '200')
    await page.click('#ctl-apply')
    await expect.poll(() => page.locator('#ctl-result').textContent()).toBe('sampling.set acknowledged (version 1)')
    const ackAt = Date.now()
    expect(await page.locator('#ctl-state').textContent()).toMatch(
      /^Fast 200 ms · slow 5000 ms · running · v1 by admin$/,
    )
    await expect
      .poll(async () => gapsAfter(await page.evaluate(() => window.vigil.timestamps('cpu.usage_pct')), ackAt).length, {
        timeout: 10_000,
      })
      .toBeGreaterThanOrEqual(5)
    const gaps = gapsAfter(await page.evaluate(() => window.vigil.timestamps('cpu.usage_pct')), ackAt)
    expect(gaps[Math.floor(gaps.length / 2)]).toBeLessThan(500)

    const firstRow = page.locator('#audit-table tbody tr').first()
    await expect.poll(() => firstRow.locator('td').nth(2).textContent()).toBe('sampling.set')
    expect(await firstRow.locator('td').nth(1).textContent()).toBe('admin')
    expect(await firstRow.locator('td').nth(4).textContent()).toBe('accepted')

    await page.click('#ctl-pause')
    await expect.poll(() => page.locator('#ctl-state').textContent()).toMatch(/· paused · v2 by admin$/)
    await page.click('#ctl-resume')
    await expect.poll(() => page.locator('#ctl-state').textContent()).toMatch(/· running · v3 by admin$/)
    await page.close()
  })

  it('shows a refused change with its error message', async () => {
    const page = await loginWithToken(hub.createToken('operator', 'e2e-ops'))
    await expect.poll(() => page.locator('#ctl-conn').textContent(), { timeout: 10_000 }).toBe('control open')
    await page.selectOption('#ctl-group', 'slow')
    await page.fill('#ctl-interval', '500')
    await page.click('#ctl-apply')
    await expect
      .poll(() => page.locator('#ctl-result').textContent())
      .toBe('sampling.set failed: intervalMs: slow interval must be 1000–600000 ms (invalid)')
    expect(await page.locator('#ctl-result').getAttribute('data-kind')).toBe('error')
    await page.close()
  })

  it('disables the controls for a viewer and for an anonymous visitor', async () => {
    const viewer = await loginWithToken(hub.createToken('viewer', 'e2e-viewer'))
    await expect.poll(() => viewer.locator('#ctl-result').textContent()).toBe('Role viewer may not change sampling.')
    for (const sel of ['#ctl-apply', '#ctl-pause', '#ctl-resume', '#ctl-interval']) {
      expect(await viewer.locator(sel).isDisabled()).toBe(true)
    }
    expect(await viewer.locator('#audit').isHidden()).toBe(true)
    await viewer.close()
    const anon = await hub.browser.newPage()
    await anon.goto(hub.hostPage)
    await expect.poll(() => anon.locator('#ctl-result').textContent()).toBe('Log in as an operator to change sampling.')
    expect(await anon.locator('#ctl-apply').isDisabled()).toBe(true)
    await anon.close()
  })

  it('counts down to the next control reconnect while the hub is down, and reconnects by itself after a restart', async () => {
    const page = await loginWithToken(hub.createToken('operator', 'e2e-ops2'))
    await expect.poll(() => page.locator('#ctl-conn').textContent(), { timeout: 10_000 }).toBe('control open')
    const port = await hub.kill()
    await expect
      .poll(() => page.locator('#ctl-conn').textContent(), { timeout: 10_000 })
      .toMatch(/^control reconnecting in \d+ s$/)
    expect(await page.locator('#ctl-apply').isDisabled()).toBe(true)
    await hub.restart(port)
    await expect.poll(() => page.locator('#ctl-conn').textContent(), { timeout: 40_000 }).toBe('control open')
    expect(await page.locator('#ctl-apply').isDisabled()).toBe(false)
    await page.close()
  })
})
