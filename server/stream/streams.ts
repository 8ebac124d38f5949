import type { ServerResponse } from 'node:http'
import type { Http2ServerResponse } from 'node:http2'
import { type Bus, type BusEvent, encodeComment, encodeFrame, encodeOpen, type Subscriber } from '../bus/index.ts'
import { distinctTopics, type ResetEvent } from '../protocol/index.ts'
import type { EventLog } from '../store/index.ts'

type Response = ServerResponse | Http2ServerResponse

export interface StreamOptions {
  heartbeatMs: number
  retryMs: number
  /** Bytes a client may have queued before it is cut off. */
  clientBufferBytes: number
  /**
   * Events a fresh (not resuming) stream opens with for a topic, such as a job's state and its last log lines.
   * They carry no id: the stream's position stays the opening id, so a later resume neither repeats nor skips.
   */
  snapshot?(topic: string, tail: number): { event: string; data: unknown }[]
}

export interface OpenRequest {
  topics: readonly string[]
  /** From `Last-Event-ID` or `?lastEventId=`, already validated as decimal. */
  lastEventId: number | null
  /** The token the stream was opened with; revoking it ends the stream. Null for anonymous viewers. */
  tokenId: number | null
  /** Log lines a fresh `job:<id>` stream opens with. */
  tail: number
}

const HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
}
const PING = encodeComment('ping')
const REPLAY_BATCH = 256

/** One SSE connection: a bounded queue in front of the socket, cut off when the client stops reading. */
class SseClient implements Subscriber {
  /** False while replaying: live events then come from the log, in order, not from the bus. */
  live = false
  closed = false
  readonly res: Response
  readonly tokenId: number | null
  readonly #maxBuffer: number
  readonly #onDrop: () => void

  constructor(res: Response, tokenId: number | null, maxBuffer: number, onDrop: () => void) {
    this.res = res
    this.tokenId = tokenId
    this.#maxBuffer = maxBuffer
    this.#onDrop = onDrop
  }

  deliver(event: BusEvent): void {
    if (this.live) this.write(event.frame)
  }

  /** Queues bytes, or cuts the client off if its queue would pass the bound. Never waits. */
  write(buf: Buffer): boolean {
    if (this.closed) return false
    if (this.res.writableLength + buf.length > this.#maxBuffer) {
      // Closed now, not on the 'close' event: later writes in this same turn must not count the drop again
      this.closed = true
      this.#onDrop()
      this.res.destroy()
      return false
    }
    // Both response kinds accept a Buffer; the union of their overloads just does not type as callable
    ;(this.res as ServerResponse).write(buf)
    return true
  }

  get congested(): boolean {
    return this.res.writableLength > this.#maxBuffer / 2
  }

  drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('drain', done)
        this.res.off('close', done)
        resolve()
      }
      this.res.on('drain', done)
      this.res.on('close', done)
    })
  }
}

/** Every open SSE stream: opening with resume, heartbeats, slow-client cut-off and shutdown. */
export class Streams {
  readonly #clients = new Set<SseClient>()
  readonly #bus: Bus
  readonly #log: EventLog
  readonly #opts: StreamOptions
  readonly #heartbeat: NodeJS.Timeout
  #dropped = 0

  constructor(bus: Bus, log: EventLog, opts: StreamOptions) {
    this.#bus = bus
    this.#log = log
    this.#opts = opts
    this.#heartbeat = setInterval(() => {
      for (const client of this.#clients) client.write(PING)
    }, opts.heartbeatMs)
  }

  get clients(): number {
    return this.#clients.size
  }

  /** Clients cut off because they stopped reading. */
  get dropped(): number {
    return this.#dropped
  }

  /** Takes over `res`: writes the headers, then a replay or reset when resuming, then live events. */
  open(res: Response, req: OpenRequest): void {
    const client = new SseClient(res, req.tokenId, this.#opts.clientBufferBytes, () => {
      this.#dropped++
    })
    this.#clients.add(client)
    // `metrics` carries `metrics:<host>` already: subscribed to both, a client would get its events twice
    const topics = distinctTopics(req.topics)
    const unsubscribe = this.#bus.subscribe(topics, client)
    res.on('close', () => {
      client.closed = true
      this.#clients.delete(client)
      unsubscribe()
    })
    // A failed socket write is the peer's problem: the stream just ends, it never takes the hub down
    res.on('error', () => {
      client.closed = true
    })
    res.writeHead(200, HEADERS)
    const from = req.lastEventId
    client.write(encodeOpen(this.#opts.retryMs, from ?? this.#bus.lastId))

    if (from === null) {
      for (const topic of topics) {
        for (const s of this.#opts.snapshot?.(topic, req.tail) ?? [])
          client.write(encodeFrame(null, s.event, JSON.stringify(s.data)))
      }
    }
    if (from === null || from === this.#bus.lastId) {
      client.live = true
      return
    }
    const reason = this.#resetReason(from)
    if (reason) {
      const body: ResetEvent = { reason, lastEventId: String(from) }
      client.write(encodeFrame(String(this.#bus.lastId), 'reset', JSON.stringify(body)))
      client.live = true
      return
    }
    void this.#replay(client, from, topics)
  }

  #resetReason(from: number): ResetEvent['reason'] | null {
    if (from > this.#bus.lastId) return 'unknown_id'
    const oldest = this.#log.oldestEventId()
    if (oldest === null || from < oldest - 1) return 'too_old'
    // An event after `from` went live but was dropped before it could be stored: the replay would skip it
    if (from < this.#log.lostThrough()) return 'gap'
    return null
  }

  /**
   * Sends the logged events after `from`, pausing while the client's queue drains. Every emitted event is in the
   * log (stored, or queued to be) before it is emitted, so the read that finds nothing newer is the moment to
   * switch to live.
   */
  async #replay(client: SseClient, from: number, topics: readonly string[]): Promise<void> {
    let cursor = from
    for (;;) {
      const rows = this.#log.eventsAfter(cursor, topics, REPLAY_BATCH)
      if (rows.length === 0) {
        client.live = true
        return
      }
      for (const row of rows) {
        if (client.congested) await client.drained()
        if (!client.write(encodeFrame(String(row.id), row.event, row.data))) return
        cursor = row.id
      }
    }
  }

  #end(client: SseClient): void {
    // Closed first: a replay still running must not write after the end
    client.closed = true
    client.res.end()
    this.#clients.delete(client)
  }

  /** Ends the streams opened with any of these (revoked) tokens. */
  closeFor(tokenIds: ReadonlySet<number>): number {
    let ended = 0
    for (const client of this.#clients) {
      if (client.tokenId === null || !tokenIds.has(client.tokenId)) continue
      this.#end(client)
      ended++
    }
    return ended
  }

  /** Ends every stream so clients reconnect (and resume) against the next process. */
  close(): void {
    clearInterval(this.#heartbeat)
    for (const client of this.#clients) this.#end(client)
  }
}
