import { describe, expect, it } from 'vitest'
import { useE2eHub } from './harness.ts'

const hub = useE2eHub(['--sample-ms', '500'])

describe('the dashboard draws only what is seen', () => {
  it('does not draw an off-screen chart while its events arrive, and catches it up in one draw when scrolled into view, with no gap', async () => {
    const page = await hub.browser.newPage({ viewport: { width: 1280, height: 480 } })
    await page.goto(hub.hostPage)
    const charts = () => page.evaluate(() => window.vigil.charts())
    await expect
      .poll(async () => (await charts()).filter((c) => !c.seen).length, { timeout: 15_000 })
      .toBeGreaterThan(0)
    await page.waitForTimeout(1000)
    const off = (await charts()).filter((c) => !c.seen).at(-1)
    if (!off?.metric) throw new Error('no chart off screen')
    const times = () => page.evaluate((m) => window.vigil.timestamps(m), off.metric as string)
    const before = await times()
    await page.waitForTimeout(3000)
    // Its events kept arriving into its buffer; the chart was not drawn once
    expect((await times()).length).toBeGreaterThan(before.length + 3)
    expect((await charts()).find((c) => c.id === off.id)?.draws).toBe(off.draws)

    await page.locator(`[data-chart="${off.id}"]`).scrollIntoViewIfNeeded()
    await expect
      .poll(async () => (await charts()).find((c) => c.id === off.id)?.draws, { timeout: 5000 })
      .toBeGreaterThan(off.draws)
    const now = (await charts()).find((c) => c.id === off.id)
    const held = await times()
    expect(now?.seen).toBe(true)
    // One draw shows everything that arrived meanwhile: up to the newest point, no hole between
    expect(now?.drawnTo).toBeGreaterThanOrEqual(held.at(-2) as number)
    const steps = held.slice(1).map((t, i) => t - (held[i] as number))
    expect(Math.max(...steps)).toBeLessThan(1000)
    // Each new sample drawn is timed from its ts to the frame that drew it (what bench:web reports)
    const perf = await page.evaluate(() => window.vigil.perf())
    expect([perf.pixelsP50Ms, perf.pixelsP95Ms].every((ms) => typeof ms === 'number' && ms > 0)).toBe(true)
    await page.close()
  })
})

describe('charts drawn in the render worker', () => {
  it('draws the host page in a worker: the main thread only forwards points; tooltips show on hover, and ?render=main draws on the page', async () => {
    const page = await hub.browser.newPage({ viewport: { width: 1280, height: 900 } })
    await page.goto(hub.hostPage)
    const cpu = page.locator('[data-chart="cpu"] canvas')
    await expect
      .poll(async () => (await page.evaluate(() => window.vigil.perf())).worker?.updates ?? 0, { timeout: 15_000 })
      .toBeGreaterThan(3)
    expect(await cpu.getAttribute('class')).toBe('offscreen')
    const perf = await page.evaluate(() => window.vigil.perf())
    expect(perf.updates).toBeGreaterThan(3)
    // The pointer is forwarded to the worker, whose tooltip says the time and the value under it
    const box = await cpu.boundingBox()
    if (!box) throw new Error('no CPU chart')
    await page.mouse.move(box.x + box.width * 0.95, box.y + box.height / 2)
    await expect
      .poll(() => cpu.getAttribute('data-tooltip'))
      .toMatch(/^\d{1,2}:\d{2}:\d{2}.* \| all cores: \d+(\.\d)?%$/)
    await page.mouse.move(box.x + box.width / 2, box.y + box.height + 80)
    await expect.poll(() => cpu.getAttribute('data-tooltip')).toBeNull()
    await page.close()

    const main = await hub.browser.newPage({ viewport: { width: 1280, height: 900 } })
    await main.goto(`${hub.hostPage}?render=main`)
    await expect
      .poll(async () => (await main.evaluate(() => window.vigil.perf())).updates, { timeout: 15_000 })
      .toBeGreaterThan(3)
    expect((await main.evaluate(() => window.vigil.perf())).worker).toBeNull()
    expect(await main.locator('[data-chart="cpu"] canvas').getAttribute('class')).toBeNull()
    await main.close()
  })

  it('does not draw again a chart whose lines got nothing new while its window moved less than a pixel', async () => {
    // One point of a custom metric, never another: its chart has nothing new to draw
    const res = await hub.poster('reporter', 'e2e-still')('/api/metrics', {
      samples: [{ name: 'e2e.still.value', value: 42 }],
    })
    expect(res.status).toBe(200)
    const page = await hub.browser.newPage({ viewport: { width: 1280, height: 2000 } })
    // An hour across about 600 px is 6 s a pixel: a 500 ms tick moves the window a twelfth of one
    await page.goto(`${hub.hostPage}?range=1h`)
    const draws = async (id: string) =>
      (await page.evaluate(() => window.vigil.charts())).find((c) => c.id === id)?.draws ?? 0
    await expect.poll(() => draws('custom:e2e.still.value'), { timeout: 15_000 }).toBeGreaterThan(0)
    await page.waitForTimeout(1000)
    const [still, cpu] = [await draws('custom:e2e.still.value'), await draws('cpu')]
    await page.waitForTimeout(4000)
    // The CPU chart took a point every tick and was drawn each time; the still one at most once, as a pixel passed
    expect((await draws('cpu')) - cpu).toBeGreaterThanOrEqual(5)
    expect((await draws('custom:e2e.still.value')) - still).toBeLessThanOrEqual(1)
    await page.close()
  })
})

describe('the dashboard as a new user tries it', () => {
  it('keeps each range label on one line on a phone, lists load as 1m, 5m, 15m, and puts the sampling panel below the charts', async () => {
    const page = await hub.browser.newPage({ viewport: { width: 390, height: 844 } })
    await page.goto(hub.hostPage)
    await expect.poll(() => page.locator('[data-chart="load"] .legend .key').count(), { timeout: 15_000 }).toBe(3)
    expect(await page.locator('[data-chart="load"] .legend .key').allTextContents()).toEqual(['1m', '5m', '15m'])
    const heights = await page
      .locator('#ranges button:not([hidden])')
      .evaluateAll((els) => els.map((el) => Math.round(el.getBoundingClientRect().height)))
    expect(new Set(heights).size).toBe(1)
    const [grid, panel] = await Promise.all([
      page.locator('#grid').boundingBox(),
      page.locator('#control').boundingBox(),
    ])
    expect(panel?.y).toBeGreaterThanOrEqual((grid?.y ?? 0) + (grid?.height ?? 0))
    await page.close()
  })

  it('shows the whole log search placeholder on a job page, on a phone too', async () => {
    const run = hub.run('polish', ['true'])
    await run.exited
    const id = /job (j[0-9a-f]+)/.exec(run.stderr())?.[1] as string
    for (const width of [1280, 390]) {
      const page = await hub.browser.newPage({ viewport: { width, height: 800 } })
      await page.goto(`${hub.server.url}/jobs/${id}`)
      const fit = await page.locator('#job-search').evaluate((el) => {
        const input = el as HTMLInputElement
        const style = getComputedStyle(input)
        const ctx = document.createElement('canvas').getContext('2d') as CanvasRenderingContext2D
        ctx.font = `${style.fontSize} ${style.fontFamily}`
        const room = input.clientWidth - Number.parseFloat(style.paddingLeft) - Number.parseFloat(style.paddingRight)
        return { text: ctx.measureText(input.placeholder).width, room }
      })
      expect(fit.text).toBeLessThanOrEqual(fit.room)
      await page.close()
    }
  })

  it('opens a job page on the one EventSource of the dashboard, carrying the job, its log and its host', async () => {
    const run = hub.run('one-stream', ['bash', '-c', 'echo first; echo second'])
    await run.exited
    const id = /job (j[0-9a-f]+)/.exec(run.stderr())?.[1] as string
    const page = await hub.browser.newPage()
    await page.addInitScript(() => {
      const Native = window.EventSource
      const urls: string[] = []
      ;(window as unknown as { streams: string[] }).streams = urls
      window.EventSource = class extends Native {
        constructor(url: string | URL, init?: EventSourceInit) {
          super(url, init)
          urls.push(String(url))
        }
      }
    })
    await page.goto(`${hub.server.url}/jobs/${id}`)
    await expect
      .poll(() => page.locator('#job-log .log-line').allTextContents(), { timeout: 10_000 })
      .toEqual(['first', 'second'])
    const streams = await page.evaluate(() => (window as unknown as { streams: string[] }).streams)
    expect(streams).toHaveLength(1)
    const q = new URL(streams[0] as string, hub.server.url).searchParams
    expect(q.get('topics')?.split(',')).toEqual([`job:${id}`, 'metrics:e2e-hub', 'alerts'])
    expect(q.get('tail')).toBe('10000')
    await page.close()
  })

  it('searches the whole stored log from the job page and jumps to a match far outside the loaded lines, then back to live', async () => {
    const post = hub.poster('reporter', 'e2e-search')
    const id = ((await (await post('/api/jobs', { name: 'long-log' })).json()) as { id: string }).id
    for (let b = 0; b < 3; b++) {
      const lines = Array.from({ length: 10_000 }, (_, i) => {
        const seq = b * 10_000 + i + 1
        return { text: seq === 5000 ? 'the needle at 5000' : `line ${seq}` }
      })
      expect((await post(`/api/jobs/${id}/logs?batch=${b}`, lines)).status).toBe(200)
    }
    const page = await hub.browser.newPage()
    await page.goto(`${hub.server.url}/jobs/${id}`)
    // It opens on the last 10,000 lines: line 5000 is not among them
    await expect
      .poll(() => page.locator('#job-log .log-line').last().getAttribute('data-seq'), { timeout: 10_000 })
      .toBe('30000')
    await page.fill('#job-search', 'NEEDLE')
    await expect.poll(() => page.locator('#job-search-count').textContent()).toBe('1 matches in the whole log')
    const needle = page.locator('#job-log .log-line[data-seq="5000"]')
    await expect.poll(() => needle.textContent()).toBe('the needle at 5000')
    expect(await needle.getAttribute('class')).toContain('match')
    expect(await needle.isVisible()).toBe(true)
    await page.click('#job-live')
    await expect.poll(() => page.locator('#job-log .log-line').last().getAttribute('data-seq')).toBe('30000')
    await page.close()
  })
})
