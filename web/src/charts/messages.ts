import type { AlertMark, Gap, Theme } from './core.ts'

/**
 * Points in flight between the page and the render worker: `[x, y, lo, hi]` four numbers a point, NaN for a
 * missing `lo`/`hi`, in a buffer that is transferred, not copied.
 */
export type PackedPoints = Float64Array

/** What changed in one line since the worker last heard: everything again, new points, or a trimmed start. */
export interface LineUpdate {
  metric: string
  replace?: PackedPoints
  append?: PackedPoints
  /** The oldest point kept: the worker drops those before it. */
  first?: number
}

export type ToWorker =
  | { type: 'create'; id: number; canvas: OffscreenCanvas; unit: string; max?: number; theme: Theme }
  | { type: 'line'; id: number; metric: string; label: string; at: number }
  | {
      type: 'render'
      id: number
      now: number
      windowMs: number
      /** The newest sample in the frame, echoed back to time sample → pixels. */
      newest: number
      lines: LineUpdate[]
      gaps?: readonly Gap[]
      marks?: readonly AlertMark[]
    }
  | { type: 'resize'; id: number; width: number; height: number; dpr: number }
  | { type: 'theme'; id: number; theme: Theme }
  | { type: 'hover'; id: number; x: number; y: number }
  | { type: 'leave'; id: number }
  | { type: 'destroy'; id: number }

export type FromWorker =
  | {
      type: 'drawn'
      id: number
      /** The worker's time for the update, in ms. */
      ms: number
      /** Wall-clock ms (`timeOrigin + now`) when the frame was drawn. */
      at: number
      newest: number
      /** The plot area and the x range shown, in CSS px and epoch ms: the page maps a drag to a time span. */
      left: number
      right: number
      xMin: number
      xMax: number
      marks: number
    }
  | { type: 'tooltip'; id: number; text: string }
