import {
  Chart,
  type ChartDataset,
  Decimation,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from 'chart.js'
import { formatTime, formatValue } from '../format.ts'
import type { Point, SeriesBuffer } from './series.ts'

Chart.register(LineController, LineElement, PointElement, LinearScale, Tooltip, Decimation)

function css(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim()
}

export interface StreamingChart {
  /** Adds a line for a metric, sharing its buffer's points in place. */
  addSeries(metric: string, label: string, buffer: SeriesBuffer): void
  has(metric: string): boolean
  /** Moves the window to [now - windowMs, now] and redraws without animation. */
  render(now: number, windowMs: number): void
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
  opts: { max?: number } = {},
): StreamingChart {
  let windowMs = 300_000
  const metrics = new Set<string>()
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
  })

  const api: StreamingChart = {
    addSeries(metric, label, buffer) {
      if (metrics.has(metric)) return
      metrics.add(metric)
      const slot = `--series-${chart.data.datasets.length % 8}`
      const color = css(slot)
      const ds: ChartDataset<'line', Point[]> = {
        label,
        data: buffer.points,
        borderColor: color,
        backgroundColor: color,
      }
      chart.data.datasets.push(ds)
      const key = document.createElement('span')
      key.className = 'key'
      key.style.setProperty('--key', `var(${slot})`)
      key.textContent = label
      legend.append(key)
      legend.hidden = chart.data.datasets.length < 2
    },
    has: (metric) => metrics.has(metric),
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
