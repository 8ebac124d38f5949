import { type ChartOptions, dragToZoom, Legend, readTheme, type StreamingChart } from './chart.ts'
import type { FromWorker, LineUpdate, PackedPoints, ToWorker } from './messages.ts'
import type { Point, SeriesBuffer } from './series.ts'

/** What a worker-drawn chart reports of each frame it drew. */
export interface DrawnReport {
  /** The worker's time for the draw. */
  ms: number
  /** Wall-clock ms when it was drawn, and the newest sample the frame had: sample → pixels. */
  at: number
  newest: number
}

/** Whether this browser can draw charts in a worker (OffscreenCanvas with a 2D context). */
export function canDrawInWorker(): boolean {
  return typeof OffscreenCanvas !== 'undefined' && 'transferControlToOffscreen' in HTMLCanvasElement.prototype
}

let worker: Worker | null = null
let nextId = 1
const handlers = new Map<number, (msg: FromWorker) => void>()

/** The one render worker every chart of the page shares, started with the first. */
function renderWorker(): Worker {
  if (worker) return worker
  worker = new Worker(new URL('./render-worker.ts', import.meta.url), { type: 'module' })
  worker.addEventListener('message', (e: MessageEvent<FromWorker>) => handlers.get(e.data.id)?.(e.data))
  return worker
}

function send(msg: ToWorker, transfer: Transferable[] = []): void {
  renderWorker().postMessage(msg, transfer)
}

function pack(points: readonly Point[], from: number): PackedPoints {
  const out = new Float64Array((points.length - from) * 4)
  for (let i = from, k = 0; i < points.length; i++, k += 4) {
    const p = points[i] as Point
    out[k] = p.x
    out[k + 1] = p.y
    out[k + 2] = p.lo ?? Number.NaN
    out[k + 3] = p.hi ?? Number.NaN
  }
  return out
}

/** A line as the worker last heard of it: the buffer's version, and the first and last points it holds. */
interface Sent {
  metric: string
  buffer: SeriesBuffer
  version: number
  first: number
  last: number
}

/**
 * A chart drawn by Chart.js in the render worker, on the canvas handed over to it: the same interface as
 * `createChart`, so the page keeps its buffers and calls `render` per frame; what the main thread does is send
 * each line's new points (packed, transferred) and forward the pointer for the tooltip and drag-to-zoom.
 */
export function createWorkerChart(
  canvas: HTMLCanvasElement,
  legendEl: HTMLElement,
  unit: string,
  opts: ChartOptions & { onDrawn?: (r: DrawnReport) => void } = {},
): StreamingChart {
  const id = nextId++
  const legend = new Legend(legendEl)
  const lines: Sent[] = []
  // Filled by the worker's first report: until then a drag has no span to map to
  let area: { left: number; right: number; xMin: number; xMax: number } | null = null
  canvas.classList.add('offscreen')
  const offscreen = canvas.transferControlToOffscreen()
  send(
    {
      type: 'create',
      id,
      canvas: offscreen,
      unit,
      ...(opts.max === undefined ? {} : { max: opts.max }),
      theme: readTheme(),
    },
    [offscreen],
  )
  handlers.set(id, (msg) => {
    if (msg.type === 'tooltip') {
      if (msg.text) canvas.dataset.tooltip = msg.text
      else delete canvas.dataset.tooltip
      return
    }
    area = msg
    if (canvas.dataset.alertMarks !== String(msg.marks)) canvas.dataset.alertMarks = String(msg.marks)
    opts.onDrawn?.(msg)
  })
  const resize = () => {
    const box = canvas.getBoundingClientRect()
    if (box.width > 0 && box.height > 0) {
      send({ type: 'resize', id, width: box.width, height: box.height, dpr: devicePixelRatio })
    }
  }
  const sizes = new ResizeObserver(resize)
  sizes.observe(canvas)
  resize()
  if (opts.onZoom) {
    dragToZoom(
      canvas,
      (px) =>
        area && area.right > area.left
          ? area.xMin + ((px - area.left) / (area.right - area.left)) * (area.xMax - area.xMin)
          : undefined,
      opts.onZoom,
    )
  }
  let hover: { x: number; y: number } | null = null
  canvas.addEventListener('pointermove', (e) => {
    const queued = hover !== null
    hover = { x: e.offsetX, y: e.offsetY }
    if (queued) return
    // One hover a frame at most
    requestAnimationFrame(() => {
      if (hover) send({ type: 'hover', id, ...hover })
      hover = null
    })
  })
  canvas.addEventListener('pointerleave', () => {
    hover = null
    send({ type: 'leave', id })
  })

  return {
    addSeries(metric, label, buffer, rank) {
      if (lines.some((l) => l.metric === metric)) return
      const at = legend.insert(label, rank)
      lines.splice(at, 0, { metric, buffer, version: -1, first: Number.NaN, last: Number.NEGATIVE_INFINITY })
      send({ type: 'line', id, metric, label, at })
    },
    has: (metric) => lines.some((l) => l.metric === metric),
    metrics: () => lines.map((l) => l.metric),
    render(now, windowMs) {
      const updates: LineUpdate[] = []
      const transfer: Transferable[] = []
      let newest = 0
      for (const l of lines) {
        const pts = l.buffer.points
        const head = pts[0]
        const tail = pts.at(-1)
        if (tail && tail.x > newest) newest = tail.x
        if (l.buffer.version !== l.version) {
          const replace = pack(pts, 0)
          updates.push({ metric: l.metric, replace })
          transfer.push(replace.buffer)
        } else {
          // New points are those after the last one sent: found from the end, so a frame costs what it adds
          let from = pts.length
          while (from > 0 && (pts[from - 1] as Point).x > l.last) from--
          const u: LineUpdate = { metric: l.metric }
          if (from < pts.length) {
            u.append = pack(pts, from)
            transfer.push(u.append.buffer)
          }
          if (head && head.x > l.first) u.first = head.x
          if (u.append || u.first !== undefined) updates.push(u)
        }
        l.version = l.buffer.version
        l.first = head?.x ?? Number.NaN
        l.last = tail?.x ?? Number.NEGATIVE_INFINITY
      }
      send(
        {
          type: 'render',
          id,
          now,
          windowMs,
          newest,
          lines: updates,
          ...(opts.gaps ? { gaps: opts.gaps() } : {}),
          ...(opts.marks ? { marks: opts.marks() } : {}),
        },
        transfer,
      )
    },
    applyTheme: () => send({ type: 'theme', id, theme: readTheme() }),
    destroy() {
      sizes.disconnect()
      handlers.delete(id)
      send({ type: 'destroy', id })
    },
  }
}
