import type { ServerResponse } from 'node:http'
import type { Http2ServerResponse } from 'node:http2'
import { type BusEvent, encodeComment, encodeFrame, encodeOpen, type Fanout, type Subscriber } from '../bus/index.ts'
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
  snapshot?(topic: string, tail: number): Snapshot | Promise<Snapshot>
}

/** What a fresh stream opens with for one topic. */
export type Snapshot = { event: string; data: unknown }[]

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
/** Events read from the log at a time when replaying, at most and at least. */
const REPLAY_BATCH = 256
const MIN_REPLAY_BATCH = 4
/** How often a congested queue too small to get a `drain` event is looked at. */
const DRAIN_POLL_MS = 5
/** A client whose queue does not go down at all for this long has stopped reading: it is cut off. */
const STALL_MS = 5000
const STALL_CHECK_MS = 100

/**
 * One SSE connection: a bounded queue in front of the socket. A live event that would overflow it is not queued:
 * the client falls behind and catches up from the event log as fast as it reads, then goes live again, so a
 * burst bigger than the queue costs a reading client some delay, never an event. One that stops reading is cut off.
 */
class SseClient implements Subscriber {
  /**
   * False while replaying: live events are then kept (in `held`), not written, since the log read in flight may
   * or may not have them; at the switch to live, those past the replay go out, in order.
   */
  live = false
  held: BusEvent[] = []
  #heldBytes = 0
  #overflowed = false
  /** The id a replay or reset covered: live events up to it are already sent (0: none, as on a fresh stream). */
  #sentThrough = 0
  /** The id of the last logged event written: where a client that fell behind catches up from. */
  position = 0
  closed = false
  readonly res: Response
  readonly tokenId: number | null
  readonly #maxBuffer: number
  readonly #onDrop: () => void
  readonly #onBehind: (client: SseClient) => void

  constructor(
    res: Response,
    tokenId: number | null,
    maxBuffer: number,
    on: { drop(): void; behind(client: SseClient): void },
  ) {
    this.res = res
    this.tokenId = tokenId
    this.#maxBuffer = maxBuffer
    this.#onDrop = on.drop
    this.#onBehind = on.behind
  }

  deliver(event: BusEvent): void {
    if (this.live) {
      // A replay read from a shared log can be ahead of this hub's own feed: what it sent is not sent again
      if (event.local || event.id > this.#sentThrough) this.#writeEvent(event)
      return
    }
    if (this.closed) return
    // Held events count against the same bound as queued bytes. Past it they are let go: they are in the log,
    // and the replay reads on instead of going live (a long replay of a busy topic chases the log, bounded)
    this.#heldBytes += event.frame.length
    if (this.res.writableLength + this.#heldBytes > this.#maxBuffer) {
      this.held = []
      this.#heldBytes = 0
      this.#overflowed = true
    } else this.held.push(event)
  }

  /** Writes a live event, or falls behind if it does not fit (an id-less one, in no log, is then lost to it). */
  #writeEvent(event: BusEvent): boolean {
    if (this.closed) return false
    if (this.res.writableLength + event.frame.length > this.#maxBuffer) {
      this.live = false
      this.#overflowed = true
      this.#onBehind(this)
      return false
    }
    this.#send(event.frame)
    if (!event.local) this.position = event.id
    return true
  }

  /** Whether held events were let go since the last call: the replay must read again before going live. */
  takeOverflow(): boolean {
    const was = this.#overflowed
    this.#overflowed = false
    return was
  }

  /**
   * Goes live: writes the held events with an id past `after` (what the replay or reset covered), and from then on
   * every delivered event past it.
   */
  goLive(after: number): void {
    const held = this.held
    this.held = []
    this.#heldBytes = 0
    this.#sentThrough = after
    this.position = Math.max(this.position, after)
    this.live = true
    for (const ev of held) if ((ev.local || ev.id > after) && !this.#writeEvent(ev)) return
  }

  #cutOff(): void {
    // Closed now, not on the 'close' event: later writes in this same turn must not count the drop again
    this.closed = true
    this.#onDrop()
    this.res.destroy()
  }

  /** Queues bytes, or cuts the client off if its queue would pass the bound. Never waits. */
  write(buf: Buffer, id?: number): boolean {
    if (this.closed) return false
    if (this.res.writableLength + buf.length > this.#maxBuffer) {
      this.#cutOff()
      return false
    }
    this.#send(buf)
    if (id !== undefined) this.position = id
    return true
  }

  /** A heartbeat comment, left out while the queue is well filled: the queue's own bytes keep the peer busy. */
  ping(): void {
    if (!this.closed && !this.congested) this.#send(PING)
  }

  #send(buf: Buffer): void {
    // Both response kinds accept a Buffer; the union of their overloads just does not type as callable
    ;(this.res as ServerResponse).write(buf)
  }

  get congested(): boolean {
    return this.res.writableLength > this.#maxBuffer / 2
  }

  /**
   * Waits until the queue is under half its bound; false if the client is gone, or was cut off because its queue
   * did not go down at all for STALL_MS. A response emits `drain` only after a write it refused (past its own
   * high-water mark, 16 KiB), and only once it is empty: the queue is looked at every few ms below that mark, and
   * every STALL_CHECK_MS above it, to tell a slow reader from one that stopped.
   */
  async room(): Promise<boolean> {
    let since = Date.now()
    let queued = this.res.writableLength
    while (this.congested && !this.closed) {
      if (this.res.writableLength < queued) since = Date.now()
      queued = this.res.writableLength
      if (Date.now() - since >= STALL_MS) {
        this.#cutOff()
        return false
      }
      await new Promise<void>((resolve) => {
        const needDrain = (this.res as { writableNeedDrain?: boolean }).writableNeedDrain
        const done = () => {
          clearTimeout(timer)
          this.res.off('drain', done)
          this.res.off('close', done)
          resolve()
        }
        const timer = setTimeout(done, needDrain ? STALL_CHECK_MS : DRAIN_POLL_MS)
        if (!needDrain) return
        this.res.on('drain', done)
        this.res.on('close', done)
      })
    }
    return !this.closed
  }
}

/** Every open SSE stream: opening with resume, heartbeats, slow-client cut-off and shutdown. */
export class Streams {
  readonly #clients = new Set<SseClient>()
  readonly #bus: Fanout
  readonly #log: EventLog
  readonly #opts: StreamOptions
  readonly #heartbeat: NodeJS.Timeout
  #dropped = 0

  constructor(bus: Fanout, log: EventLog, opts: StreamOptions) {
    this.#bus = bus
    this.#log = log
    this.#opts = opts
    this.#heartbeat = setInterval(() => {
      for (const client of this.#clients) client.ping()
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
    // `metrics` carries `metrics:<host>` already: subscribed to both, a client would get its events twice
    const topics = distinctTopics(req.topics)
    const client = new SseClient(res, req.tokenId, this.#opts.clientBufferBytes, {
      // Cut off: counted, and no longer one of the clients, at once (its socket closes a moment later)
      drop: () => {
        this.#dropped++
        this.#clients.delete(client)
      },
      // Fell behind a burst: it reads on from the log where it stands, then goes live again
      behind: (c) => {
        this.#replay(c, c.position, topics).catch(() => this.#end(c))
      },
    })
    this.#clients.add(client)
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
    client.position = from ?? this.#bus.lastId
    client.write(encodeOpen(this.#opts.retryMs, client.position))

    if (from === null && this.#opts.snapshot) {
      // Events up to `at` were stored before the snapshot is read, so it has them; later ones are held, then sent
      const at = this.#bus.lastId
      this.#snapshot(client, topics, req.tail)
        // Held events let go while the snapshot was read are in the log: read from there, as on a resume
        .then(() => (client.takeOverflow() ? this.#replay(client, at, topics) : client.goLive(at)))
        .catch(() => this.#end(client))
      return
    }
    if (from === null || from === this.#bus.lastId) {
      client.live = true
      return
    }
    // A log that cannot be read ends the stream: the client comes back with its Last-Event-ID, as after a restart
    this.#replay(client, from, topics).catch(() => this.#end(client))
  }

  async #snapshot(client: SseClient, topics: readonly string[], tail: number): Promise<void> {
    for (const topic of topics) {
      for (const s of (await this.#opts.snapshot?.(topic, tail)) ?? []) {
        if (client.closed) return
        client.write(encodeFrame(null, s.event, JSON.stringify(s.data)))
      }
    }
  }

  /**
   * Sends the logged events after `from`, pausing while the client's queue drains, or a reset when the log says
   * the replay cannot be exact. Every emitted event is in the log (stored, or queued to be) before it is emitted,
   * and the events emitted while a read is in flight are held: so once a read reaches the end of the log, the
   * held events past it are exactly the ones still to send, and the stream goes live.
   */
  async #replay(client: SseClient, from: number, topics: readonly string[]): Promise<void> {
    let cursor = from
    let limit = REPLAY_BATCH
    for (;;) {
      const batch = await this.#log.replay(cursor, topics, limit)
      if (client.closed) return
      if ('reset' in batch) {
        // The reset's id is where the client now is: every event held so far is at or before it
        const at = this.#bus.lastId
        const body: ResetEvent = { reason: batch.reset, lastEventId: String(from) }
        if (client.write(encodeFrame(String(at), 'reset', JSON.stringify(body)), at)) client.goLive(at)
        return
      }
      let bytes = 0
      for (const row of batch.events) {
        if (!(await client.room())) return
        if (!client.write(encodeFrame(String(row.id), row.event, row.data), row.id)) return
        bytes += row.data.length
      }
      // Big events are read fewer at a time: a read holds about two client buffers, whatever the events' size
      if (batch.events.length > 0) {
        const perEvent = bytes / batch.events.length
        limit = Math.max(
          MIN_REPLAY_BATCH,
          Math.min(REPLAY_BATCH, Math.floor((2 * this.#opts.clientBufferBytes) / perEvent)),
        )
      }
      cursor = batch.through
      // The log was read to its end: what came after was emitted since, and is held, unless held events had to be
      // let go meanwhile (then read on). Going live here, not on an empty read, keeps a busy topic from being
      // chased forever
      if (batch.complete && !client.takeOverflow()) {
        client.goLive(cursor)
        return
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

  /** Ends every stream: each client resumes by its Last-Event-ID, from the log (or gets a reset). */
  endAll(): number {
    const n = this.#clients.size
    for (const client of this.#clients) this.#end(client)
    return n
  }

  close(): void {
    clearInterval(this.#heartbeat)
    this.endAll()
  }
}
