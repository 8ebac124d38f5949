/** Figures a sampling group reports about itself. */
export interface GroupStats {
  intervalMs: number
  ticks: number
  skipped: number
  errors: number
  lastMs: number
  avgMs: number
}

/**
 * Runs `tick` every `intervalMs`. A tick still running when the next is due makes that next one a counted skip,
 * so ticks never overlap.
 */
export class Group {
  readonly #tick: () => Promise<void>
  readonly #onError: (err: unknown) => void
  #intervalMs: number
  #timer: NodeJS.Timeout | null = null
  #running: Promise<void> | null = null
  #ticks = 0
  #skipped = 0
  #errors = 0
  #lastMs = 0
  #totalMs = 0

  constructor(intervalMs: number, tick: () => Promise<void>, onError: (err: unknown) => void) {
    this.#intervalMs = intervalMs
    this.#tick = tick
    this.#onError = onError
  }

  get intervalMs(): number {
    return this.#intervalMs
  }

  /** Starts ticking: the first tick after `firstDelayMs`, then on every multiple of the interval. */
  start(firstDelayMs = 0): void {
    this.stop()
    this.#timer = setTimeout(() => this.#loop(), firstDelayMs)
  }

  #loop(): void {
    this.#fire()
    // Each tick is scheduled for the next multiple of the interval on the wall clock, so ticks stay on the grid
    // (10:00:01.000 and a few ms) without drift, and survive a clock step
    this.#timer = setTimeout(() => this.#loop(), this.#intervalMs - (Date.now() % this.#intervalMs))
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
  }

  get started(): boolean {
    return this.#timer !== null
  }

  /**
   * Changes the interval. A running group ticks next after the shorter of the two intervals, so the change
   * shows from the next tick, at most one old interval later.
   */
  setInterval(ms: number): void {
    const old = this.#intervalMs
    this.#intervalMs = ms
    if (ms !== old && this.started) this.start(Math.min(ms, old))
  }

  /** Resolves once the tick in flight, if any, has finished. */
  async idle(): Promise<void> {
    await this.#running
  }

  #fire(): void {
    if (this.#running) {
      this.#skipped++
      return
    }
    const t0 = performance.now()
    this.#running = this.#tick()
      .catch((err: unknown) => {
        this.#errors++
        this.#onError(err)
      })
      .finally(() => {
        const ms = performance.now() - t0
        this.#ticks++
        this.#lastMs = ms
        this.#totalMs += ms
        this.#running = null
      })
  }

  stats(): GroupStats {
    return {
      intervalMs: this.#intervalMs,
      ticks: this.#ticks,
      skipped: this.#skipped,
      errors: this.#errors,
      lastMs: Math.round(this.#lastMs * 100) / 100,
      avgMs: this.#ticks ? Math.round((this.#totalMs / this.#ticks) * 100) / 100 : 0,
    }
  }
}
