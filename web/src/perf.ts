/** The summary `bench:web` reads: first chart paint and the main-thread cost of each live update. */
export interface PerfSummary {
  firstChartMs: number | null
  updates: number
  p50Ms: number
  p99Ms: number
  maxMs: number
}

const KEEP = 2048

/**
 * Records the main-thread time of live updates (event handling plus the frame that draws it), in a fixed ring so
 * it costs a few `performance.now()` calls per frame and no allocation.
 */
export class UpdateCost {
  firstChartMs: number | null = null
  #pending = 0
  readonly #ring = new Float64Array(KEEP)
  #count = 0

  /** Time spent handling an event, charged to the next drawn frame. */
  add(ms: number): void {
    this.#pending += ms
  }

  /** A drawn frame: its own time plus the event handling since the last one. */
  frame(ms: number): void {
    this.#ring[this.#count % KEEP] = this.#pending + ms
    this.#count++
    this.#pending = 0
  }

  summary(): PerfSummary {
    const n = Math.min(this.#count, KEEP)
    const sorted = Array.from(this.#ring.subarray(0, n)).sort((a, b) => a - b)
    const at = (p: number) => sorted[Math.min(n - 1, Math.ceil((p / 100) * n) - 1)] ?? 0
    const round = (v: number) => Math.round(v * 100) / 100
    return {
      firstChartMs: this.firstChartMs,
      updates: this.#count,
      p50Ms: round(at(50)),
      p99Ms: round(at(99)),
      maxMs: round(sorted.at(-1) ?? 0),
    }
  }
}
