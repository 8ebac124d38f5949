import type { PerfSummary } from './perf.ts'
import type { StreamState } from './stream.ts'

declare global {
  interface Window {
    /** Read-only view for browser tests and debugging. */
    vigil: {
      state(): StreamState
      timestamps(metric: string): number[]
      perf(): PerfSummary & { charts: number }
    }
  }
}
