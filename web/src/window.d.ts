import type { PerfSummary } from './perf.ts'
import type { StreamState } from './stream.ts'
import type { LogViewState } from './views/log.ts'

declare global {
  interface Window {
    /** The job page's log view, for browser tests and `bench:web`. */
    vigilLog?: () => LogViewState
    /** Read-only view for browser tests and debugging. */
    vigil: {
      state(): StreamState
      timestamps(metric: string): number[]
      /** `worker`: the render worker's own time per update, when the charts are drawn there. */
      perf(): PerfSummary & { charts: number; worker: PerfSummary | null }
      /** The span the charts show: a drag-to-zoom selection, else the picked range. */
      view(): { from: number; to: number; zoomed: boolean }
      /** How many of a metric's points carry a min/max band. */
      band(metric: string): number
      /** The host page's charts with data: whether each is on screen, how often it was drawn, and up to when. */
      charts(): { id: string; metric: string | null; seen: boolean; draws: number; drawnTo: number }[]
    }
  }
}
