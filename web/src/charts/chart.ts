import {
  Chart,
  type ChartDataset,
  Decimation,
  LinearScale,
  LineController,
  LineElement,
  type Plugin,
  PointElement,
  Tooltip,
} from 'chart.js'
import { formatTime, formatValue } from '../format.ts'
import type { Point, SeriesBuffer } from './series.ts'

Chart.register(LineController, LineElement, PointElement, LinearScale, Tooltip, Decimation)

function css(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim()
}

/**
 * Shades each series' min–max band behind its line, for points that carry `lo`/`hi` (history buckets). Drawn
 * from the buffers directly, one path per series, only over the visible window.
 */
function bandPlugin(buffers: readonly SeriesBuffer[]): Plugin<'line'> {
  return {
    id: 'vigilBand',
    beforeDatasetsDraw(chart) {
      const { ctx, chartArea, scales } = chart
      const x = scales.x
      const y = scales.y
      if (!x || !y) return
      ctx.save()
      ctx.beginPath()
      ctx.rect(chartArea.left, chartArea.top, chartArea.right - chartArea.left, chartArea.bottom - chartArea.top)
      ctx.clip()
      buffers.forEach((buf, i) => {
        const pts = buf.points
        let start = 0
        while (start < pts.length && (pts[start] as Point).x < x.min) start++
        if (start > 0) start--
        const upper: number[] = []
        const lower: number[] = []
        for (let k = start; k < pts.length; k++) {
          const p = pts[k] as Point
          if (p.lo === undefined || p.hi === undefined) continue
          const px = x.getPixelForValue(p.x)
          upper.push(px, y.getPixelForValue(p.hi))
          lower.push(px, y.getPixelForValue(p.lo))
          if (p.x > x.max) break
        }
        if (upper.length < 4) return
        ctx.beginPath()
        ctx.moveTo(upper[0] as number, upper[1] as number)
        for (let k = 2; k < upper.length; k += 2) ctx.lineTo(upper[k] as number, upper[k + 1] as number)
        for (let k = lower.length - 2; k >= 0; k -= 2) ctx.lineTo(lower[k] as number, lower[k + 1] as number)
        ctx.closePath()
        ctx.globalAlpha = 0.18
        ctx.fillStyle = String(chart.data.datasets[i]?.borderColor ?? '#888')
        ctx.fill()
        ctx.globalAlpha = 1
      })
      ctx.restore()
    },
  }
}

/** A span with no data because the host's agent had to drop it (a full spool): shaded, so the hole is explained. */
export interface Gap {
  from: number
  to: number
}

/** Shades the gaps that fall in the visible window, behind the lines. */
function gapPlugin(gaps: () => readonly Gap[]): Plugin<'line'> {
  return {
    id: 'vigilGaps',
    beforeDatasetsDraw(chart) {
      const list = gaps()
      const { ctx, chartArea, scales } = chart
      const x = scales.x
      if (!x || list.length === 0) return
      ctx.save()
      ctx.fillStyle = css('--bad')
      ctx.globalAlpha = 0.12
      for (const g of list) {
        if (g.to < x.min || g.from > x.max) continue
        const left = Math.max(chartArea.left, x.getPixelForValue(g.from))
        const right = Math.min(chartArea.right, x.getPixelForValue(g.to))
        ctx.fillRect(left, chartArea.top, Math.max(1, right - left), chartArea.bottom - chartArea.top)
      }
      ctx.restore()
    },
  }
}

/** Where an alert on one of a chart's metrics fired or resolved: a vertical line at that time. */
export interface AlertMark {
  at: number
  state: 'firing' | 'resolved'
  metric: string
}

/**
 * Draws a line at each alert mark in the visible window whose metric the chart shows (red where it fired, green
 * where it resolved), and keeps their count in the canvas's `data-alert-marks`.
 */
function alertMarkPlugin(marks: () => readonly AlertMark[], metrics: ReadonlySet<string>): Plugin<'line'> {
  return {
    id: 'vigilAlertMarks',
    afterDatasetsDraw(chart) {
      const { ctx, chartArea, scales, canvas } = chart
      const x = scales.x
      let drawn = 0
      if (x) {
        ctx.save()
        ctx.lineWidth = 1.5
        ctx.setLineDash([4, 3])
        for (const m of marks()) {
          if (!metrics.has(m.metric) || m.at < x.min || m.at > x.max) continue
          const px = x.getPixelForValue(m.at)
          ctx.strokeStyle = css(m.state === 'firing' ? '--bad' : '--live')
          ctx.beginPath()
          ctx.moveTo(px, chartArea.top)
          ctx.lineTo(px, chartArea.bottom)
          ctx.stroke()
          drawn++
        }
        ctx.restore()
      }
      if (canvas.dataset.alertMarks !== String(drawn)) canvas.dataset.alertMarks = String(drawn)
    },
  }
}

/**
 * Drag across a chart to pick a time span: a shaded box follows the pointer and `onZoom(from, to)` gets the
 * span in data time on release. A click without a drag does nothing.
 */
function dragToZoom(
  chart: Chart<'line', Point[]>,
  canvas: HTMLCanvasElement,
  onZoom: (from: number, to: number) => void,
) {
  const box = document.createElement('div')
  box.className = 'zoom-box'
  box.hidden = true
  canvas.parentElement?.append(box)
  let startX: number | null = null
  const xAt = (e: PointerEvent) => e.clientX - canvas.getBoundingClientRect().left
  canvas.addEventListener('pointerdown', (e) => {
    if (e.button !== 0) return
    startX = xAt(e)
    canvas.setPointerCapture(e.pointerId)
  })
  canvas.addEventListener('pointermove', (e) => {
    if (startX === null) return
    const x = xAt(e)
    box.hidden = Math.abs(x - startX) < 3
    box.style.left = `${Math.min(x, startX)}px`
    box.style.width = `${Math.abs(x - startX)}px`
  })
  const end = (e: PointerEvent) => {
    if (startX === null) return
    const x = xAt(e)
    const from = chart.scales.x?.getValueForPixel(Math.min(x, startX))
    const to = chart.scales.x?.getValueForPixel(Math.max(x, startX))
    const dragged = Math.abs(x - startX) >= 5
    startX = null
    box.hidden = true
    if (dragged && from !== undefined && to !== undefined && to > from) onZoom(Math.round(from), Math.round(to))
  }
  canvas.addEventListener('pointerup', end)
  canvas.addEventListener('pointercancel', () => {
    startX = null
    box.hidden = true
  })
}

export interface StreamingChart {
  /** Adds a line for a metric, sharing its buffer's points in place; placed among the others by `rank` if given. */
  addSeries(metric: string, label: string, buffer: SeriesBuffer, rank?: number): void
  has(metric: string): boolean
  /** Moves the window to [now - windowMs, now] and redraws without animation. */
  render(now: number, windowMs: number): void
  /** The series' metric names, in legend order. */
  metrics(): string[]
  applyTheme(): void
  destroy(): void
}

/**
 * A line chart tuned for streaming: no animation, no parsing, min-max decimation, data updated in place
 * and redrawn with `update('none')`. The legend is HTML in `legend`, built once per series: Chart.js's own
 * legend is laid out and measured again on every update.
 */
export function createChart(
  canvas: HTMLCanvasElement,
  legend: HTMLElement,
  unit: string,
  opts: {
    max?: number
    onZoom?: (from: number, to: number) => void
    gaps?: () => readonly Gap[]
    marks?: () => readonly AlertMark[]
  } = {},
): StreamingChart {
  let windowMs = 300_000
  const metrics = new Set<string>()
  const buffers: SeriesBuffer[] = []
  /** Each line's rank, in dataset order (lines without one go last, in the order they came). */
  const ranks: number[] = []
  const chart = new Chart<'line', Point[]>(canvas, {
    type: 'line',
    data: { datasets: [] },
    options: {
      animation: false,
      parsing: false,
      normalized: true,
      spanGaps: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      elements: { point: { radius: 0, hitRadius: 4 }, line: { borderWidth: 1.5, tension: 0 } },
      scales: {
        x: {
          type: 'linear',
          ticks: {
            maxTicksLimit: 6,
            maxRotation: 0,
            minRotation: 0,
            sampleSize: 2,
            callback: (v) => formatTime(Number(v), windowMs),
          },
        },
        y: {
          type: 'linear',
          beginAtZero: true,
          ...(opts.max === undefined ? {} : { max: opts.max }),
          ticks: { maxTicksLimit: 5, sampleSize: 2, callback: (v) => formatValue(unit, Number(v)) },
        },
      },
      plugins: {
        decimation: { enabled: true, algorithm: 'min-max' },
        tooltip: {
          callbacks: {
            title: (items) => (items[0] ? new Date(items[0].parsed.x ?? 0).toLocaleTimeString() : ''),
            label: (item) => `${item.dataset.label}: ${formatValue(unit, item.parsed.y ?? 0)}`,
          },
        },
      },
    },
    plugins: [
      bandPlugin(buffers),
      ...(opts.gaps ? [gapPlugin(opts.gaps)] : []),
      ...(opts.marks ? [alertMarkPlugin(opts.marks, metrics)] : []),
    ],
  })
  if (opts.onZoom) dragToZoom(chart, canvas, opts.onZoom)

  const api: StreamingChart = {
    addSeries(metric, label, buffer, rank) {
      if (metrics.has(metric)) return
      metrics.add(metric)
      const ds: ChartDataset<'line', Point[]> = { label, data: buffer.points }
      const key = document.createElement('span')
      key.className = 'key'
      key.textContent = label
      const at = rank === undefined ? ranks.length : ranks.filter((r) => r <= rank).length
      ranks.splice(at, 0, rank ?? Number.POSITIVE_INFINITY)
      chart.data.datasets.splice(at, 0, ds)
      buffers.splice(at, 0, buffer)
      legend.insertBefore(key, legend.children[at] ?? null)
      // Colours follow the position, so a line placed before others takes its slot and they move on one
      chart.data.datasets.forEach((d, i) => {
        d.borderColor = css(`--series-${i % 8}`)
        d.backgroundColor = d.borderColor
        ;(legend.children[i] as HTMLElement).style.setProperty('--key', `var(--series-${i % 8})`)
      })
      legend.hidden = chart.data.datasets.length < 2
    },
    has: (metric) => metrics.has(metric),
    metrics: () => [...metrics],
    render(now, w) {
      windowMs = w
      const x = chart.options.scales?.x
      if (x) {
        x.min = now - w
        x.max = now
      }
      chart.update('none')
    },
    destroy: () => chart.destroy(),
    applyTheme() {
      const text = css('--muted')
      const grid = css('--grid')
      for (const axis of ['x', 'y'] as const) {
        const scale = chart.options.scales?.[axis]
        if (!scale) continue
        if (scale.ticks) scale.ticks.color = text
        scale.grid = { color: grid }
      }
      chart.data.datasets.forEach((ds, i) => {
        ds.borderColor = css(`--series-${i % 8}`)
        ds.backgroundColor = ds.borderColor
      })
      chart.update('none')
    },
  }
  api.applyTheme()
  return api
}
