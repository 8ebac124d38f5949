import { type AlertMark, buildChart, type Gap, insertLine, paint, setWindow, type Theme } from './core.ts'
import type { SeriesBuffer } from './series.ts'

export type { AlertMark, Gap }

function css(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim()
}

/** The page's chart colours, as its CSS has them now (they follow the colour scheme). */
export function readTheme(): Theme {
  return {
    muted: css('--muted'),
    grid: css('--grid'),
    bad: css('--bad'),
    live: css('--live'),
    series: Array.from({ length: 8 }, (_, i) => css(`--series-${i}`)),
  }
}

/**
 * Drag across a chart to pick a time span: a shaded box follows the pointer and `onZoom(from, to)` gets the
 * span in data time on release. A click without a drag does nothing.
 */
export function dragToZoom(
  canvas: HTMLCanvasElement,
  valueAt: (px: number) => number | undefined,
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
    const from = valueAt(Math.min(x, startX))
    const to = valueAt(Math.max(x, startX))
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

export interface ChartOptions {
  max?: number
  onZoom?: (from: number, to: number) => void
  gaps?: () => readonly Gap[]
  marks?: () => readonly AlertMark[]
}

/**
 * The lines of a chart in legend order: each one's rank (lines without one go last, in the order they came) and
 * its key in the HTML legend, built once per series.
 */
export class Legend {
  readonly #el: HTMLElement
  readonly #ranks: number[] = []

  constructor(el: HTMLElement) {
    this.#el = el
  }

  /** Where a line of `rank` goes, its key added there and every key coloured by position. */
  insert(label: string, rank: number | undefined): number {
    const key = document.createElement('span')
    key.className = 'key'
    key.textContent = label
    const at = rank === undefined ? this.#ranks.length : this.#ranks.filter((r) => r <= rank).length
    this.#ranks.splice(at, 0, rank ?? Number.POSITIVE_INFINITY)
    this.#el.insertBefore(key, this.#el.children[at] ?? null)
    for (let i = 0; i < this.#el.children.length; i++) {
      ;(this.#el.children[i] as HTMLElement).style.setProperty('--key', `var(--series-${i % 8})`)
    }
    this.#el.hidden = this.#ranks.length < 2
    return at
  }
}

/** A chart drawn by Chart.js on the main thread (see `worker-chart.ts` for one drawn in a worker). */
export function createChart(
  canvas: HTMLCanvasElement,
  legendEl: HTMLElement,
  unit: string,
  opts: ChartOptions = {},
): StreamingChart {
  let windowMs = 300_000
  let theme = readTheme()
  const metrics = new Set<string>()
  const buffers: SeriesBuffer[] = []
  const legend = new Legend(legendEl)
  const chart = buildChart(canvas, {
    unit,
    ...(opts.max === undefined ? {} : { max: opts.max }),
    theme: () => theme,
    buffers,
    metrics,
    ...(opts.gaps ? { gaps: opts.gaps } : {}),
    ...(opts.marks ? { marks: opts.marks } : {}),
    onMarks: (drawn) => {
      if (canvas.dataset.alertMarks !== String(drawn)) canvas.dataset.alertMarks = String(drawn)
    },
    windowMs: () => windowMs,
    responsive: true,
  })
  if (opts.onZoom) dragToZoom(canvas, (px) => chart.scales.x?.getValueForPixel(px), opts.onZoom)
  const api: StreamingChart = {
    addSeries(metric, label, buffer, rank) {
      if (metrics.has(metric)) return
      metrics.add(metric)
      insertLine(chart, buffers, legend.insert(label, rank), label, buffer, theme)
    },
    has: (metric) => metrics.has(metric),
    metrics: () => [...metrics],
    render(now, w) {
      windowMs = w
      setWindow(chart, now, w)
      chart.update('none')
    },
    destroy: () => chart.destroy(),
    applyTheme() {
      theme = readTheme()
      paint(chart, theme)
      chart.update('none')
    },
  }
  api.applyTheme()
  return api
}
