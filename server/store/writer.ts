import { inTopics } from '../protocol/index.ts'
import type { Store, StoredEvent } from './store.ts'

/** A tick (`host` set, its event optional) or an event that is not part of one (`host` null, `event` set). */
interface Pending {
  host: string | null
  ts: number
  values: Readonly<Record<string, number>>
  event: StoredEvent | null
}

export interface RetryingWriterOptions {
  /**
   * Writes kept while storage fails; past it the oldest go, counted. While it works, a burst (events published in
   * one go, a slow database) may queue BURST_FACTOR times as many before any goes.
   */
  maxPending: number
  /** Told the current fault, or null once writes succeed again. */
  onFault(message: string | null): void
  firstRetryMs?: number
  maxRetryMs?: number
}

const NO_VALUES: Readonly<Record<string, number>> = Object.freeze({})
/** How many times `maxPending` may wait while storage works: writes queue behind the one in flight. */
const BURST_FACTOR = 16
/** Events written in one transaction at most. */
const EVENT_BATCH = 1000

/**
 * Writes ticks and events to the store in order, one write in flight. When a write fails (a full disk, a database
 * locked by another process, PostgreSQL restarting), it waits in a bounded queue and the queue is retried with
 * exponential backoff, so live data keeps flowing, nothing is written out of order, and a failing store is not
 * hammered. Events that wait here are still part of the log: `eventsAfter` replays them.
 */
export class RetryingWriter {
  #queue: Pending[] = []
  /** The write in flight, out of the queue until it settles; put back in front if it fails. */
  #inflight: Pending[] = []
  #flushing: Promise<void> | null = null
  #timer: NodeJS.Timeout | null = null
  #delay: number
  #dropped = 0
  #failures = 0
  #lostThrough = 0
  /** Whether the last write failed: the queue is then held to `maxPending`. */
  #failing = false

  constructor(
    private readonly store: Store,
    private readonly opts: RetryingWriterOptions,
  ) {
    this.#delay = opts.firstRetryMs ?? 250
  }

  /** Writes not yet committed, the one in flight included. */
  get pending(): number {
    return this.#queue.length + this.#inflight.length
  }

  /** Writes lost because the queue was full while storage failed. */
  get dropped(): number {
    return this.#dropped
  }

  /** Writes that failed, retries included. */
  get failures(): number {
    return this.#failures
  }

  /**
   * The greatest id of an event that was emitted live but that the full queue dropped, so it will never be
   * stored; 0 when none was. A resume from before it cannot be exact.
   */
  get lostThrough(): number {
    return this.#lostThrough
  }

  /** The id of the oldest event not yet committed, or null. */
  oldestEventId(): number | null {
    for (const t of this.#inflight) if (t.event) return t.event.id
    for (const t of this.#queue) if (t.event) return t.event.id
    return null
  }

  /** Events not yet committed with an id greater than `afterId`, on any of `topics`, oldest first. */
  eventsAfter(afterId: number, topics: readonly string[]): StoredEvent[] {
    const out: StoredEvent[] = []
    for (const list of [this.#inflight, this.#queue]) {
      for (const t of list) {
        if (t.event && t.event.id > afterId && inTopics(topics, t.event.topic)) out.push(t.event)
      }
    }
    return out
  }

  /** Queues one tick of a host, with the event it went out as (or null). */
  write(host: string, ts: number, values: Readonly<Record<string, number>>, event: StoredEvent | null): void {
    this.#push({ host, ts, values, event })
  }

  /** Queues an event that is not part of a tick, for the log. */
  append(event: StoredEvent): void {
    this.#push({ host: null, ts: event.ts, values: NO_VALUES, event })
  }

  /** Waits for the write in flight, then makes one last attempt (at shutdown); what still fails stays unwritten. */
  async close(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    await this.#flushing
    await this.#flush(false)
  }

  #push(p: Pending): void {
    this.#queue.push(p)
    this.#trim()
    // While a retry is scheduled the queue waits for it: writing now would put this write before older ones
    if (!this.#timer && !this.#flushing) this.#run()
  }

  #run(): void {
    // `finally` runs in a later microtask, so the promise is set before it is cleared, even for a write that
    // settles at once
    this.#flushing = this.#flush().finally(() => {
      this.#flushing = null
    })
  }

  #trim(): void {
    const max = this.#failing ? this.opts.maxPending : this.opts.maxPending * BURST_FACTOR
    while (this.pending > max && this.#queue.length > 0) {
      const gone = this.#queue.shift() as Pending
      this.#dropped++
      if (gone.event && gone.event.id > this.#lostThrough) this.#lostThrough = gone.event.id
    }
  }

  async #flush(retry = true): Promise<void> {
    this.#timer = null
    while (this.#queue.length > 0) {
      const first = this.#queue[0] as Pending
      let n = 1
      if (first.host === null) {
        while (n < this.#queue.length && n < EVENT_BATCH && (this.#queue[n] as Pending).host === null) n++
      }
      this.#inflight = this.#queue.splice(0, n)
      try {
        if (first.host === null) await this.store.appendEvents(this.#inflight.map((p) => p.event as StoredEvent))
        else await this.store.writeTick(first.host, first.ts, first.values, first.event)
      } catch (err) {
        this.#queue = this.#inflight.concat(this.#queue)
        this.#inflight = []
        this.#trim()
        this.#failed(err, retry)
        return
      }
      this.#inflight = []
    }
    this.#delay = this.opts.firstRetryMs ?? 250
    this.#failing = false
    this.opts.onFault(null)
  }

  #failed(err: unknown, retry: boolean): void {
    this.#failures++
    const code = (err as { code?: string }).code ?? (err as Error).message
    this.opts.onFault(`history writes failing (${code}); ${this.pending} writes waiting, ${this.#dropped} dropped`)
    if (!retry) return
    this.#timer = setTimeout(() => this.#run(), this.#delay)
    this.#timer.unref()
    this.#delay = Math.min(this.#delay * 2, this.opts.maxRetryMs ?? 10_000)
  }
}
