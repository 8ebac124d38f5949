import { inTopics } from '../protocol/index.ts'
import type { EventLog } from '../store/index.ts'
import { encodeFrame } from './frame.ts'
import { RedisEventStream, type RedisEventStreamOptions, type StreamEvent } from './redis.ts'
import { type Fanout, type Subscriber, Topics } from './topics.ts'

export interface RedisBusOptions
  extends Pick<RedisEventStreamOptions, 'url' | 'key' | 'origin' | 'windowMs' | 'onFault'> {
  /**
   * Events this hub's follower will never see (Redis lost or trimmed them first): live clients missed them
   * without knowing, so the hub should end their streams; they resume and get a reset.
   */
  onGap?(afterId: number, nextId: number): void
}

/**
 * A hub's bus when several share one Redis: events are appended to the stream (ids cluster-wide) and come back
 * through this hub's follower, which encodes each frame once and fans it out to this hub's subscribers, so every
 * hub's clients see one order. A resume is read from the stream, so it may start on any hub.
 */
export class RedisBus implements Fanout {
  readonly #topics = new Topics()
  readonly #stream: RedisEventStream
  readonly #origin: string
  #emitted = 0

  private constructor(stream: RedisEventStream, origin: string) {
    this.#stream = stream
    this.#origin = origin
  }

  static async open(opts: RedisBusOptions): Promise<RedisBus> {
    let bus: RedisBus | null = null
    const pending: Parameters<RedisEventStreamOptions['onEvent']>[0][] = []
    const stream = await RedisEventStream.open({
      ...opts,
      onEvent: (e) => {
        if (bus) bus.#deliver(e)
        else pending.push(e)
      },
    })
    bus = new RedisBus(stream, opts.origin)
    for (const e of pending) bus.#deliver(e)
    return bus
  }

  #deliver(e: StreamEvent): void {
    this.#emitted++
    this.#topics.deliver({ ...e, frame: encodeFrame(String(e.id), e.event, e.data) })
  }

  /** The greatest id this hub's follower has handed on: what its clients can have seen. */
  get lastId(): number {
    return this.#stream.lastSeenId
  }

  /** This hub's id in the cluster, on every event it appends. */
  get origin(): string {
    return this.#origin
  }

  /** Events fanned out since start, for rate figures. */
  get emitted(): number {
    return this.#emitted
  }

  subscribe(topics: readonly string[], sub: Subscriber): () => void {
    return this.#topics.subscribe(topics, sub)
  }

  /**
   * Appends an event for every hub; it reaches this hub's subscribers through the follower, like any other's.
   * Resolves with its id once Redis has it; rejects at once while Redis is away.
   */
  publish(topic: string, event: string, payload: unknown, ts = Date.now()): Promise<number> {
    return this.append(topic, event, JSON.stringify(payload), ts)
  }

  /** `publish` for a payload already encoded as JSON `data`. */
  append(topic: string, event: string, data: string, ts: number): Promise<number> {
    return this.#stream.append({ ts, topic, event, data })
  }

  /**
   * Hands an event to this hub's subscribers only, without an id, for when Redis cannot take it: they keep
   * seeing what this hub produces, and resume from the last logged id.
   */
  deliverLocally(topic: string, event: string, data: string, ts: number): void {
    this.#emitted++
    this.#topics.deliver({
      id: this.lastId,
      ts,
      topic,
      event,
      data,
      frame: encodeFrame(null, event, data),
      local: true,
      origin: this.#origin,
    })
  }

  /** The stream as an event log, for resumes on this hub, whichever hub the client was on before. */
  log(): EventLog {
    return {
      replay: async (afterId, topics, limit) => {
        const raw = await this.#stream.after(afterId, limit)
        if (raw === null) return { reset: afterId > this.lastId ? 'unknown_id' : 'too_old' }
        return {
          events: raw.filter((e) => inTopics(topics, e.topic)),
          through: raw.at(-1)?.id ?? afterId,
          complete: raw.length < limit,
        }
      },
    }
  }

  close(): Promise<void> {
    return this.#stream.close()
  }
}
