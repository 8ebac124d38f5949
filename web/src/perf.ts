/** The summary `bench:web` reads: first chart paint and the main-thread cost of each live update. */
export interface PerfSummary {
  firstChartMs: number | null
  updates: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  /** From a sample's `ts` to the frame that drew it (the clock of the page against the hub's), p50 and p95. */
  pixelsP50Ms: number | null
  pixelsP95Ms: number | null
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
  readonly #pixels = new Float64Array(KEEP)
  #pixelCount = 0
  #drawnSample = 0

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

  /**
   * A frame drew samples up to `ts` (at wall-clock `at`, now unless a worker drew it): the first frame that drew
   * a new one records how long it took to get there.
   */
  drew(ts: number, at = performance.timeOrigin + performance.now()): void {
    if (ts <= this.#drawnSample) return
    this.#drawnSample = ts
    this.#pixels[this.#pixelCount % KEEP] = at - ts
    this.#pixelCount++
  }

  summary(): PerfSummary {
    const frames = percentiles(this.#ring, this.#count)
    const pixels = percentiles(this.#pixels, this.#pixelCount)
    return {
      firstChartMs: this.firstChartMs,
      updates: this.#count,
      p50Ms: frames(50) ?? 0,
      p99Ms: frames(99) ?? 0,
      maxMs: frames(100) ?? 0,
      pixelsP50Ms: pixels(50),
      pixelsP95Ms: pixels(95),
    }
  }
}

/** The p-th percentile of a ring's first `count` values (all of them once it wrapped), to 0.01; null when empty. */
function percentiles(ring: Float64Array, count: number): (p: number) => number | null {
  const n = Math.min(count, KEEP)
  const sorted = Array.from(ring.subarray(0, n)).sort((a, b) => a - b)
  return (p) => {
    const v = sorted[Math.min(n - 1, Math.ceil((p / 100) * n) - 1)]
    return v === undefined ? null : Math.round(v * 100) / 100
  }
}
