import { describe, expect, it } from 'vitest'
import { useE2eHub } from './harness.ts'

const hub = useE2eHub(['--sample-ms', '1000'])

describe('jobs in Chromium', () => {
  it('shows a job run by vigil run with its progress bar and live log, and cancels it from the page', async () => {
    const link = /(http:\/\/\S+\/login\?code=\S+)/.exec(hub.server.stdout())?.[1] as string
    const page = await hub.browser.newPage()
    await page.goto(link)

    const script =
      'echo "::step 1/2 load"; for i in $(seq 1 30); do echo "row $i"; done; echo "::progress 40"; echo "slow disk" >&2; exec sleep 300'
    const { exited } = hub.run('e2e restore', ['bash', '-c', script])

    const row = page.locator('#jobs-table tbody tr', { hasText: 'e2e restore' })
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(1)
    await expect.poll(() => row.locator('td').nth(1).textContent()).toBe('running')
    // The list's mini progress bar is sized through CSSOM, which the CSP allows (a style attribute it would block)
    await expect.poll(() => row.locator('.mini-bar i').evaluate((el) => (el as HTMLElement).style.width)).toBe('40%')
    await row.click()
    // The job opens on its own page, whose address is the one vigil run printed
    await page.waitForURL(/\/jobs\/j[0-9a-f]+$/)
    await expect.poll(() => page.locator('#job-conn').textContent(), { timeout: 10_000 }).toBe('control open')
    await expect
      .poll(() => page.locator('#job-summary').textContent(), { timeout: 10_000 })
      .toBe('running · 40.0% · step 1/2 load')
    expect(await page.locator('#job-bar').evaluate((el) => (el as HTMLElement).style.width)).toBe('40%')
    await expect.poll(() => page.locator('#job-log .log-line').count()).toBeGreaterThanOrEqual(31)
    expect(await page.locator('#job-log .log-line.stderr').textContent()).toBe('slow disk')
    expect(await page.locator('#job-log .log-line').first().textContent()).toBe('row 1')

    // The chart overlays the host's CPU; the job's own line fills in from heartbeats
    await expect.poll(() => page.locator('#job-chart-legend .key').allTextContents()).toEqual(['job processes', 'host'])
    await page.fill('#job-search', 'row 2')
    await expect.poll(() => page.locator('#job-search-count').textContent()).toBe('11 matches in the whole log')

    page.once('dialog', (d) => void d.accept('wrong dataset'))
    await page.click('#job-cancel')
    await expect.poll(() => page.locator('#job-result').textContent()).toBe('job.cancel accepted')
    await expect
      .poll(() => page.locator('#job-summary').textContent(), { timeout: 15_000 })
      .toMatch(/^cancelled · 40\.0% · step 1\/2 load · exit 130$/)
    expect(await exited).toBe(130)
    await page.goBack()
    await expect.poll(() => row.locator('td').nth(1).textContent(), { timeout: 10_000 }).toBe('cancelled')
    await page.goForward()
    await page.click('#job details summary')
    await expect
      .poll(() => page.locator('#job-audit li').first().textContent())
      .toMatch(/admin · job\.cancel \(“wrong dataset”\) · accepted$/)
    await page.close()
  })
})
