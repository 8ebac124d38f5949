import { describe, expect, it } from 'vitest'
import { useE2eHub } from './harness.ts'

const hub = useE2eHub(['--sample-ms', '1000', '--job-log-lines', '2000000'])

/** Chromium's limit on an element's height: a taller scroll space is cut short. */
const CHROMIUM_MAX_PX = 33_554_428
const LINES = 1_000_000
const NEEDLE = 123_456

describe('a job log of a million lines in Chromium', () => {
  it('scrolls to its first, middle and last lines, jumps to a search match far from the end, and follows live lines', async () => {
    const post = hub.poster('reporter', 'e2e-million')
    const id = ((await (await post('/api/jobs', { name: 'million' })).json()) as { id: string }).id
    const text = (seq: number) => (seq === NEEDLE ? 'the needle' : `line ${seq}`)
    // 50,000 lines a request, as one text each, as vigil run sends them
    for (let b = 0; b < LINES / 50_000; b++) {
      const body = Array.from({ length: 50_000 }, (_, i) => text(b * 50_000 + i + 1)).join('\n')
      expect((await post(`/api/jobs/${id}/logs?batch=${b}`, [{ text: body }])).status).toBe(200)
    }
    const page = await hub.browser.newPage({ viewport: { width: 1280, height: 900 } })
    await page.goto(`${hub.server.url}/jobs/${id}`)
    const state = () => page.evaluate(() => window.vigilLog?.())
    const row = (seq: number) => page.locator(`#job-log .log-line[data-seq="${seq}"]`)
    const scroll = (to: 'top' | 'middle' | 'bottom') =>
      page.locator('#job-log').evaluate((el, where) => {
        const max = el.scrollHeight - el.clientHeight
        el.scrollTop = where === 'top' ? 0 : where === 'middle' ? max / 2 : max
      }, to)

    // It opens at the end, following
    await expect.poll(async () => (await state())?.lastSeq, { timeout: 15_000 }).toBe(LINES)
    await expect.poll(() => row(LINES).textContent()).toBe(`line ${LINES}`)
    const opened = await state()
    expect(opened?.rows).toBe(LINES)
    // A million 18 px rows would be 18,000,000 px: the space is scaled under 8,000,000, far below the limit
    expect(opened?.spacePx).toBeLessThanOrEqual(8_000_000)
    expect(opened?.spacePx).toBeLessThan(CHROMIUM_MAX_PX)

    await scroll('top')
    await expect.poll(async () => (await state())?.firstSeq).toBe(1)
    await expect.poll(() => row(1).textContent()).toBe('line 1')
    expect(await row(1).isVisible()).toBe(true)

    await scroll('middle')
    await expect.poll(async () => Math.abs(((await state())?.firstSeq ?? 0) - LINES / 2)).toBeLessThan(50)
    const middle = (await state())?.firstSeq as number
    await expect.poll(() => row(middle).textContent()).toBe(`line ${middle}`)

    await scroll('bottom')
    await expect.poll(async () => (await state())?.lastSeq).toBe(LINES)
    await expect.poll(() => row(LINES).textContent()).toBe(`line ${LINES}`)
    expect(await row(LINES).isVisible()).toBe(true)

    // The hub's search finds the needle 876,544 lines before the end; the view goes there and reads its lines
    await page.fill('#job-search', 'NEEDLE')
    await expect.poll(() => page.locator('#job-search-count').textContent()).toBe('1 matches in the whole log')
    await expect.poll(() => row(NEEDLE).textContent()).toBe('the needle')
    expect(await row(NEEDLE).getAttribute('class')).toContain('match')
    expect(await row(NEEDLE).isVisible()).toBe(true)
    expect((await state())?.pagesHeld).toBeLessThanOrEqual(200)

    // Back to live: lines posted now show at the end
    await page.click('#job-live')
    expect((await post(`/api/jobs/${id}/logs?batch=100`, [{ text: 'one more\nand the last' }])).status).toBe(200)
    await expect.poll(async () => (await state())?.lastSeq).toBe(LINES + 2)
    await expect.poll(() => row(LINES + 2).textContent()).toBe('and the last')
    expect(await row(LINES + 2).isVisible()).toBe(true)
    await page.close()
  })
})
