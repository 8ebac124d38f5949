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

/** The colours a chart draws with, read from the page's CSS (a worker has no CSS to read). */
export interface Theme {
  muted: string
  grid: string
  bad: string
  live: string
  /** The eight series colours, by position. */
  series: string[]
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
function gapPlugin(gaps: () => readonly Gap[], theme: () => Theme): Plugin<'line'> {
  return {
    id: 'vigilGaps',
    beforeDatasetsDraw(chart) {
      const list = gaps()
      const { ctx, chartArea, scales } = chart
      const x = scales.x
      if (!x || list.length === 0) return
      ctx.save()
      ctx.fillStyle = theme().bad
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
 * where it resolved), and tells `onMarks` how many it drew.
 */
function alertMarkPlugin(
  marks: () => readonly AlertMark[],
  metrics: ReadonlySet<string>,
  theme: () => Theme,
  onMarks: (drawn: number) => void,
): Plugin<'line'> {
  return {
    id: 'vigilAlertMarks',
    afterDatasetsDraw(chart) {
      const { ctx, chartArea, scales } = chart
      const x = scales.x
      let drawn = 0
      if (x) {
        ctx.save()
        ctx.lineWidth = 1.5
        ctx.setLineDash([4, 3])
        for (const m of marks()) {
          if (!metrics.has(m.metric) || m.at < x.min || m.at > x.max) continue
          const px = x.getPixelForValue(m.at)
          ctx.strokeStyle = m.state === 'firing' ? theme().bad : theme().live
          ctx.beginPath()
          ctx.moveTo(px, chartArea.top)
          ctx.lineTo(px, chartArea.bottom)
          ctx.stroke()
          drawn++
        }
        ctx.restore()
      }
      onMarks(drawn)
    },
  }
}

/** What a chart is built with, on the main thread or in the render worker. */
export interface ChartSpec {
  unit: string
  max?: number
  theme: () => Theme
  /** The lines' buffers, in dataset order: the band is drawn from them. */
  buffers: SeriesBuffer[]
  /** The metrics the chart shows: the alert marks drawn are theirs. */
  metrics: ReadonlySet<string>
  gaps?: () => readonly Gap[]
  marks?: () => readonly AlertMark[]
  onMarks?: (drawn: number) => void
  /** The window shown, for the time axis' labels. */
  windowMs: () => number
  /** Sized by the page (a canvas in the page), or by `resize` calls (an OffscreenCanvas in a worker). */
  responsive: boolean
}

/**
 * A line chart tuned for streaming: no animation, no parsing, min-max decimation, data updated in place and
 * redrawn with `update('none')`. No Chart.js legend: it is laid out and measured again on every update.
 */
export function buildChart(canvas: HTMLCanvasElement | OffscreenCanvas, spec: ChartSpec): Chart<'line', Point[]> {
  const { unit } = spec
  return new Chart<'line', Point[]>(canvas as HTMLCanvasElement, {
    type: 'line',
    data: { datasets: [] },
    options: {
      animation: false,
      parsing: false,
      normalized: true,
      spanGaps: false,
      responsive: spec.responsive,
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
            callback: (v) => formatTime(Number(v), spec.windowMs()),
          },
        },
        y: {
          type: 'linear',
          beginAtZero: true,
          ...(spec.max === undefined ? {} : { max: spec.max }),
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
      bandPlugin(spec.buffers),
      ...(spec.gaps ? [gapPlugin(spec.gaps, spec.theme)] : []),
      ...(spec.marks ? [alertMarkPlugin(spec.marks, spec.metrics, spec.theme, spec.onMarks ?? (() => {}))] : []),
    ],
  })
}

/**
 * Adds a line to a chart at `at` (its buffer at the same place in `buffers`), then colours every line by its
 * position, so a line placed before others takes its slot and they move on one.
 */
export function insertLine(
  chart: Chart<'line', Point[]>,
  buffers: SeriesBuffer[],
  at: number,
  label: string,
  buffer: SeriesBuffer,
  theme: Theme,
): void {
  const ds: ChartDataset<'line', Point[]> = { label, data: buffer.points }
  chart.data.datasets.splice(at, 0, ds)
  buffers.splice(at, 0, buffer)
  paint(chart, theme)
}

/** Colours the axes and lines from the theme (the lines by position). */
export function paint(chart: Chart<'line', Point[]>, theme: Theme): void {
  for (const axis of ['x', 'y'] as const) {
    const scale = chart.options.scales?.[axis]
    if (!scale) continue
    if (scale.ticks) scale.ticks.color = theme.muted
    scale.grid = { color: theme.grid }
  }
  chart.data.datasets.forEach((ds, i) => {
    ds.borderColor = theme.series[i % 8]
    ds.backgroundColor = ds.borderColor
  })
}

/** Moves a chart's window to [now - windowMs, now]. */
export function setWindow(chart: Chart<'line', Point[]>, now: number, windowMs: number): void {
  const x = chart.options.scales?.x
  if (x) {
    x.min = now - windowMs
    x.max = now
  }
}
