import { inTopics } from '../protocol/index.ts'
import type { Store, StoredEvent } from './store.ts'

interface PendingTick {
  host: string
  ts: number
  values: Readonly<Record<string, number>>
  event: StoredEvent | null
}

export interface RetryingWriterOptions {
  /** Ticks kept while storage fails; past it the oldest go, counted. */
  maxPending: number
  /** Told the current fault, or null once writes succeed again. */
  onFault(message: string | null): void
  firstRetryMs?: number
  maxRetryMs?: number
}

/**
 * Writes ticks to the store in order. When a write fails (a full disk, a database locked by another process),
 * the tick waits in a bounded queue and the queue is retried with exponential backoff, so live data keeps
 * flowing, nothing is written out of order, and a failing disk is not hammered.
 */
export class RetryingWriter {
  readonly #queue: PendingTick[] = []
  #timer: NodeJS.Timeout | null = null
  #delay: number
  #dropped = 0
  #failures = 0
  #lostThrough = 0

  constructor(
    private readonly store: Store,
    private readonly opts: RetryingWriterOptions,
  ) {
    this.#delay = opts.firstRetryMs ?? 250
  }

  get pending(): number {
    return this.#queue.length
  }

  /** Ticks lost because the queue was full while storage failed. */
  get dropped(): number {
    return this.#dropped
  }

  /** Writes that failed, retries included. */
  get failures(): number {
    return this.#failures
  }

  /**
   * The greatest id of an event that was emitted live but whose tick the full queue dropped, so it will never be
   * stored; 0 when none was. A resume from before it cannot be exact.
   */
  get lostThrough(): number {
    return this.#lostThrough
  }

  /** The id of the oldest event still waiting, or null. */
  oldestEventId(): number | null {
    for (const t of this.#queue) if (t.event) return t.event.id
    return null
  }

  /** Events still waiting in the queue with an id greater than `afterId`, on any of `topics`, oldest first. */
  eventsAfter(afterId: number, topics: readonly string[]): StoredEvent[] {
    const out: StoredEvent[] = []
    for (const t of this.#queue) {
      if (t.event && t.event.id > afterId && inTopics(topics, t.event.topic)) out.push(t.event)
    }
    return out
  }

  write(host: string, ts: number, values: Readonly<Record<string, number>>, event: StoredEvent | null): void {
    this.#queue.push({ host, ts, values, event })
    if (this.#queue.length > this.opts.maxPending) {
      const gone = this.#queue.shift()
      this.#dropped++
      if (gone?.event && gone.event.id > this.#lostThrough) this.#lostThrough = gone.event.id
    }
    // While a retry is scheduled the queue waits for it: writing now would put this tick before older ones
    if (!this.#timer) this.#flush()
  }

  /** One last attempt (at shutdown); what still fails stays unwritten. */
  close(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    this.#flush(false)
  }

  #flush(retry = true): void {
    this.#timer = null
    while (this.#queue.length > 0) {
      const t = this.#queue[0] as PendingTick
      try {
        this.store.writeTick(t.host, t.ts, t.values, t.event)
      } catch (err) {
        this.#failures++
        const code = (err as { code?: string }).code ?? (err as Error).message
        this.opts.onFault(
          `history writes failing (${code}); ${this.#queue.length} ticks waiting, ${this.#dropped} dropped`,
        )
        if (retry) {
          this.#timer = setTimeout(() => this.#flush(), this.#delay)
          this.#timer.unref()
          this.#delay = Math.min(this.#delay * 2, this.opts.maxRetryMs ?? 10_000)
        }
        return
      }
      this.#queue.shift()
    }
    this.#delay = this.opts.firstRetryMs ?? 250
    this.opts.onFault(null)
  }
}
