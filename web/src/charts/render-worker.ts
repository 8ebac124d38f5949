/// <reference lib="webworker" />
/**
 * The render worker: every chart of a host page drawn by Chart.js on an OffscreenCanvas, off the page's main
 * thread. The page sends each line's new points with every frame; the worker keeps its own copy of the lines,
 * draws, and answers with what the page needs back (the plot area for drag-to-zoom, the alert marks drawn, the
 * tooltip's text, and the draw's own time).
 */
import type { Chart } from 'chart.js'
import { type AlertMark, buildChart, type Gap, insertLine, paint, setWindow, type Theme } from './core.ts'
import type { FromWorker, PackedPoints, ToWorker } from './messages.ts'
import { type Point, SeriesBuffer } from './series.ts'

interface Drawn {
  chart: Chart<'line', Point[]>
  lines: Map<string, SeriesBuffer>
  buffers: SeriesBuffer[]
  metrics: Set<string>
  theme: Theme
  windowMs: number
  gaps: readonly Gap[]
  marks: readonly AlertMark[]
  drawnMarks: number
}

const charts = new Map<number, Drawn>()
const post = (msg: FromWorker) => (self as unknown as DedicatedWorkerGlobalScope).postMessage(msg)

function unpack(packed: PackedPoints): Point[] {
  const out: Point[] = []
  for (let i = 0; i < packed.length; i += 4) {
    const x = packed[i] as number
    const y = packed[i + 1] as number
    const lo = packed[i + 2] as number
    const hi = packed[i + 3] as number
    out.push(Number.isNaN(lo) || Number.isNaN(hi) ? { x, y } : { x, y, lo, hi })
  }
  return out
}

function onMessage(msg: ToWorker): void {
  if (msg.type === 'create') {
    const lines = new Map<string, SeriesBuffer>()
    const buffers: SeriesBuffer[] = []
    const metrics = new Set<string>()
    const d: Drawn = {
      chart: null as unknown as Drawn['chart'],
      lines,
      buffers,
      metrics,
      theme: msg.theme,
      windowMs: 300_000,
      gaps: [],
      marks: [],
      drawnMarks: 0,
    }
    d.chart = buildChart(msg.canvas, {
      unit: msg.unit,
      ...(msg.max === undefined ? {} : { max: msg.max }),
      theme: () => d.theme,
      buffers,
      metrics,
      gaps: () => d.gaps,
      marks: () => d.marks,
      onMarks: (n) => {
        d.drawnMarks = n
      },
      windowMs: () => d.windowMs,
      responsive: false,
    })
    paint(d.chart, d.theme)
    charts.set(msg.id, d)
    return
  }
  const d = charts.get(msg.id)
  if (!d) return
  switch (msg.type) {
    case 'line': {
      const buffer = new SeriesBuffer()
      d.lines.set(msg.metric, buffer)
      d.metrics.add(msg.metric)
      insertLine(d.chart, d.buffers, msg.at, msg.label, buffer, d.theme)
      return
    }
    case 'render': {
      for (const u of msg.lines) {
        const points = d.lines.get(u.metric)?.points
        if (!points) continue
        if (u.replace) points.length = 0
        for (const packed of [u.replace, u.append]) if (packed) for (const p of unpack(packed)) points.push(p)
        if (u.first !== undefined) {
          let drop = 0
          while (drop < points.length && (points[drop] as Point).x < u.first) drop++
          if (drop > 0) points.splice(0, drop)
        }
      }
      if (msg.gaps) d.gaps = msg.gaps
      if (msg.marks) d.marks = msg.marks
      d.windowMs = msg.windowMs
      setWindow(d.chart, msg.now, msg.windowMs)
      const t0 = performance.now()
      d.chart.update('none')
      const ms = performance.now() - t0
      const area = d.chart.chartArea
      const x = d.chart.scales.x
      post({
        type: 'drawn',
        id: msg.id,
        ms,
        at: performance.timeOrigin + performance.now(),
        newest: msg.newest,
        left: area?.left ?? 0,
        right: area?.right ?? 0,
        xMin: x?.min ?? 0,
        xMax: x?.max ?? 0,
        marks: d.drawnMarks,
      })
      return
    }
    case 'resize':
      d.chart.options.devicePixelRatio = msg.dpr
      d.chart.resize(msg.width, msg.height)
      return
    case 'theme':
      d.theme = msg.theme
      paint(d.chart, d.theme)
      d.chart.update('none')
      return
    case 'hover': {
      // No DOM events reach a worker: the page forwards the pointer, and the tooltip is set from it
      const event = { type: 'mousemove', x: msg.x, y: msg.y, native: null } as unknown as Event
      const active = d.chart.getElementsAtEventForMode(event, 'nearest', { axis: 'x', intersect: false }, true)
      d.chart.tooltip?.setActiveElements(active, { x: msg.x, y: msg.y })
      d.chart.update('none')
      const tip = d.chart.tooltip
      const text = active.length > 0 && tip ? [...tip.title, ...tip.body.flatMap((b) => b.lines)].join(' | ') : ''
      post({ type: 'tooltip', id: msg.id, text })
      return
    }
    case 'leave':
      d.chart.tooltip?.setActiveElements([], { x: 0, y: 0 })
      d.chart.update('none')
      post({ type: 'tooltip', id: msg.id, text: '' })
      return
    case 'destroy':
      d.chart.destroy()
      charts.delete(msg.id)
      return
  }
}

self.addEventListener('message', (e: MessageEvent<ToWorker>) => onMessage(e.data))
