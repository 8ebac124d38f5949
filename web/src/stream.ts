import { backoffMs } from '../../server/protocol/backoff.ts'

/**
 * The dashboard's one EventSource for all topics. The browser resumes by itself after a network drop
 * (sending Last-Event-ID); when the EventSource gives up for good (CLOSED, e.g. after a non-200 answer)
 * this re-creates it with capped exponential backoff and full jitter, resuming from the last id it saw.
 */
export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'offline'

export interface StreamOptions {
  url: string
  topics: readonly string[]
  /** More query parameters for the stream (`tail` for a job's log). */
  params?: Record<string, string>
  /** Handlers by event name; each gets the parsed `data`. */
  on: Record<string, (data: unknown) => void>
  onState(state: StreamState): void
  /**
   * Fires on every open. `resumed` is false when the stream could not resume from a known event id (the first
   * open, or a re-creation before any event arrived): whatever happened meanwhile must come from history.
   */
  onOpen?(resumed: boolean): void
}

/** Reconnecting this long without success is shown as offline. */
const OFFLINE_AFTER_MS = 30_000

export class Stream {
  #es: EventSource | null = null
  #lastId: string | null = null
  #attempt = 0
  #downSince: number | null = null
  #timer: ReturnType<typeof setTimeout> | null = null
  #state: StreamState = 'connecting'
  readonly #opts: StreamOptions

  constructor(opts: StreamOptions) {
    this.#opts = opts
    addEventListener('online', () => this.#reconnectNow())
    addEventListener('offline', () => this.#setState('offline'))
  }

  get state(): StreamState {
    return this.#state
  }

  start(): void {
    this.#open()
  }

  #setState(state: StreamState): void {
    if (state === 'reconnecting' && this.#downSince !== null && Date.now() - this.#downSince > OFFLINE_AFTER_MS) {
      state = 'offline'
    }
    if (!navigator.onLine && state !== 'live') state = 'offline'
    if (state === this.#state) return
    this.#state = state
    this.#opts.onState(state)
  }

  #open(): void {
    const params = new URLSearchParams({ ...this.#opts.params, topics: this.#opts.topics.join(',') })
    if (this.#lastId !== null) params.set('lastEventId', this.#lastId)
    const es = new EventSource(`${this.#opts.url}?${params}`)
    this.#es = es
    // The browser's own reconnects resume (the hub sends the newest id as the stream opens); a new
    // EventSource resumes only if we know an id to give it
    let resumes = this.#lastId !== null
    for (const [name, handler] of Object.entries(this.#opts.on)) {
      es.addEventListener(name, (e) => {
        const msg = e as MessageEvent<string>
        if (msg.lastEventId) this.#lastId = msg.lastEventId
        handler(JSON.parse(msg.data))
      })
    }
    es.onopen = () => {
      this.#attempt = 0
      this.#downSince = null
      this.#setState('live')
      this.#opts.onOpen?.(resumes)
      resumes = true
    }
    es.onerror = () => {
      this.#downSince ??= Date.now()
      if (es.readyState === EventSource.CLOSED) {
        es.close()
        this.#schedule()
      }
      this.#setState('reconnecting')
    }
  }

  #schedule(): void {
    if (this.#timer) return
    const wait = backoffMs(this.#attempt++)
    this.#timer = setTimeout(() => {
      this.#timer = null
      this.#open()
    }, wait)
  }

  #reconnectNow(): void {
    if (this.#state === 'live') return
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    this.#es?.close()
    this.#open()
  }
}
