import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { HUB_HOST, useE2eHub } from './harness.ts'

/**
 * The README's screenshot: a host's page after 30 s of live data, zoomed to its last 40 s, 1280 px wide. `npm run docs:screenshot` writes
 * it to docs/dashboard.png (VIGIL_SCREENSHOT names the file); otherwise it goes to a temp dir and is checked only.
 */
const hub = useE2eHub(['--sample-ms', '500', '--slow-sample-ms', '2000'])

describe('the dashboard screenshot', () => {
  it('shows a host page with its built-in charts, those in the window drawn, after 30 s of samples', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-shot-'))
    const path = process.env.VIGIL_SCREENSHOT ?? join(dir, 'dashboard.png')
    try {
      const page = await hub.browser.newPage({ viewport: { width: 1280, height: 1000 } })
      await page.goto(hub.hostPage)
      await expect
        .poll(() => page.evaluate("window.vigil.timestamps('cpu.usage_pct').length"), { timeout: 40_000 })
        .toBeGreaterThanOrEqual(60)
      const charts = (await page.evaluate('window.vigil.charts()')) as { id: string; seen: boolean; draws: number }[]
      // CPU, per core, memory, load, network, disk, disk operations, filesystems and the sampler's cost, each drawn
      expect(
        charts
          .map((c) => c.id)
          .filter((id) => !id.startsWith('custom:'))
          .sort(),
      ).toEqual(expect.arrayContaining(['cores', 'cpu', 'disk', 'diskops', 'fs', 'load', 'mem', 'net', 'self']))
      // The charts in the window are drawn; the ones below it wait until they are scrolled to
      const seen = charts.filter((c) => c.seen)
      expect(seen.length).toBeGreaterThanOrEqual(4)
      expect(seen.filter((c) => c.draws === 0).map((c) => c.id)).toEqual([])
      expect(await page.locator('#host').textContent()).toContain(HUB_HOST)
      // The last 40 s, dragged across the CPU chart as a user zooms: 40 s of data fill the charts, not a corner of
      // the 5-minute window
      const view = (await page.evaluate('window.vigil.view()')) as { from: number; to: number }
      const canvas = page.locator('[data-chart="cpu"] canvas').first()
      const box = await canvas.boundingBox()
      if (!box) throw new Error('the CPU chart has no box')
      // The plot spans the canvas less its axis labels: take the time under two points by their share of the span
      const share = 40_000 / (view.to - view.from)
      const left = box.x + 50
      const right = box.x + box.width - 30
      const y = box.y + box.height / 2
      await page.mouse.move(right - (right - left) * share, y)
      await page.mouse.down()
      await page.mouse.move(right - 10, y, { steps: 5 })
      await page.mouse.up()
      await expect.poll(() => page.evaluate('window.vigil.view().zoomed')).toBe(true)
      // No tooltip in the picture
      await page.mouse.move(0, 0)
      await page.waitForTimeout(500)
      await page.screenshot({ path })
      const png = readFileSync(path)
      // The PNG signature, then the IHDR width and height
      expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a')
      expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([1280, 1000])
      await page.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
