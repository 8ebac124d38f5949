import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { alertId } from '../../server/alerts/index.ts'
import type { AlertView } from '../../server/protocol/index.ts'
import { Receiver } from '../../server/testing/receiver.ts'
import { HUB_HOST, useE2eHub } from './harness.ts'

const hub = useE2eHub(['--sample-ms', '500'])
let receiver: Receiver
beforeAll(async () => {
  receiver = await Receiver.start()
})
afterAll(() => receiver.close())

async function login(role: string, name: string): Promise<Page> {
  const page = await hub.browser.newPage()
  await page.goto(`${hub.server.url}/login`)
  await page.fill('#token', hub.createToken(role, name))
  await page.click('button[type=submit]')
  await page.waitForURL(`${hub.server.url}/`)
  return page
}

const id = alertId('cpu-any', HUB_HOST, 'cpu.usage_pct')

describe('alerts in Chromium', () => {
  it('sets up a channel with a test and a rule from the alerts page; the firing alert shows in the banner, on the fleet row and on the CPU chart', async () => {
    const page = await login('admin', 'e2e-alerts-admin')
    await page.goto(`${hub.server.url}/alerts`)
    await expect.poll(() => page.locator('#alerts-conn').textContent(), { timeout: 10_000 }).toBe('control open')
    await page.fill('#channel-name', 'hook')
    await page.fill('#channel-url', receiver.url('/hook'))
    await page.click('#channel-save')
    await expect
      .poll(() => page.locator('#channels-table tbody tr[data-channel="hook"] td').nth(2).textContent())
      .toBe(new URL(receiver.url()).host)
    await page.click('#channels-table tr[data-channel="hook"] button.test')
    await expect
      .poll(() => page.locator('#channels-result').textContent())
      .toMatch(/^test delivered to hook \(200\) in \d+ ms$/)

    const rule = {
      name: 'cpu-any',
      metric: 'cpu.usage_pct',
      op: '>=',
      threshold: 0,
      severity: 'critical',
      channels: ['hook'],
    }
    await page.fill('#rule-json', JSON.stringify(rule))
    await page.click('#rule-save')
    await expect
      .poll(() => page.locator('#rules-table tr[data-rule="cpu-any"] td').nth(3).textContent())
      .toBe('cpu.usage_pct >= 0')
    const banner = page.locator(`#alert-banner li[data-alert="${id}"]`)
    await expect
      .poll(() => banner.textContent(), { timeout: 10_000 })
      .toMatch(/^critical cpu-any on e2e-hub · cpu\.usage_pct = /)
    expect(await page.locator('#alert-banner strong').textContent()).toBe('1 firing')
    await expect
      .poll(() => page.locator(`#alerts-table tr[data-alert="${id}"]`).getAttribute('data-state'))
      .toBe('firing')
    await expect.poll(() => receiver.requests.filter((r) => r.path === '/hook').length, { timeout: 10_000 }).toBe(2)
    expect(receiver.requests[1]?.headers['idempotency-key']).toBe(`${id}:firing:1`)

    await page.goto(`${hub.server.url}/`)
    await expect.poll(() => page.locator(`tr[data-host="${HUB_HOST}"] .alerts-badge`).textContent()).toBe('1 firing')
    await page.goto(hub.hostPage)
    await expect
      .poll(async () => Number(await page.locator('[data-chart="cpu"] canvas').getAttribute('data-alert-marks')), {
        timeout: 10_000,
      })
      .toBe(1)
    await page.close()
  })

  it('silences the alert from the alerts page with a duration and a reason, and shows it silenced', async () => {
    const page = await login('operator', 'e2e-alerts-ops')
    await page.goto(`${hub.server.url}/alerts/${id}`)
    await expect.poll(() => page.locator('#alerts-conn').textContent(), { timeout: 10_000 }).toBe('control open')
    await expect.poll(() => page.locator('#alert-history li').count()).toBe(2)
    await expect.poll(() => page.locator('#alert-notifications tbody tr').getAttribute('data-status')).toBe('delivered')
    await page.click(`#alerts-table tr[data-alert="${id}"] button.silence`)
    await page.selectOption('#silence-duration', '900000')
    await page.fill('#silence-reason', 'known load test')
    await page.click('#silence-apply')
    await expect.poll(() => page.locator('#alerts-result').textContent()).toBe('alert.silence: done')
    await expect.poll(() => page.locator(`#alerts-table tr[data-alert="${id}"] .tag`).textContent()).toBe('silenced')
    expect(await page.locator('#silences-table tbody tr td').nth(1).textContent()).toBe('known load test')
    expect(await page.locator('#silences-table tbody tr td').first().textContent()).toBe(
      `rule=cpu-any, host=${HUB_HOST}`,
    )
    const res = await page.evaluate(async () => (await fetch('/api/alerts?state=firing')).json())
    expect((res as { alerts: AlertView[] }).alerts.map((a) => [a.id, a.silenced])).toEqual([[id, true]])
    await page.reload()
    await expect
      .poll(() => page.locator(`#alert-banner li[data-alert="${id}"]`).getAttribute('data-silenced'), {
        timeout: 10_000,
      })
      .toBe('')
    // The operator may not manage channels
    expect(await page.locator('#channel-save').isDisabled()).toBe(true)
    await page.close()
  })
})
