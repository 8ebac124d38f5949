/** Addresses tracked at most; past it the oldest entries go, so a spray from many addresses can't grow memory. */
const MAX_TRACKED = 100_000

/**
 * Failed credential checks per client address: a bucket of `burst` failures that refills at `perMinute`. An
 * address with an empty bucket is refused before its credentials are even looked at, right or wrong, so
 * guessing gets no faster than the refill.
 */
export class FailureThrottle {
  readonly #buckets = new Map<string, { left: number; at: number }>()

  constructor(
    readonly perMinute: number,
    readonly burst: number = perMinute,
  ) {}

  /** Whole seconds until the address may try again; 0 when it may now. */
  blockedFor(ip: string, now: number): number {
    const b = this.#refill(ip, now)
    if (!b || b.left >= 1) return 0
    return Math.ceil(((1 - b.left) * 60) / this.perMinute)
  }

  fail(ip: string, now: number): void {
    const b = this.#refill(ip, now) ?? { left: this.burst, at: now }
    b.left = Math.max(0, b.left - 1)
    this.#buckets.delete(ip)
    this.#buckets.set(ip, b)
    if (this.#buckets.size > MAX_TRACKED) {
      const oldest = this.#buckets.keys().next().value
      if (oldest !== undefined) this.#buckets.delete(oldest)
    }
  }

  #refill(ip: string, now: number): { left: number; at: number } | undefined {
    const b = this.#buckets.get(ip)
    if (!b) return undefined
    b.left = Math.min(this.burst, b.left + ((now - b.at) / 60_000) * this.perMinute)
    b.at = now
    if (b.left >= this.burst) {
      this.#buckets.delete(ip)
      return undefined
    }
    return b
  }
}
