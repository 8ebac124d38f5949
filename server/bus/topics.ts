import type { StoredEvent } from '../store/index.ts'

/** A published event with its SSE frame, encoded once and shared by every client. */
export interface BusEvent extends StoredEvent {
  frame: Buffer
  /**
   * Only this hub's clients get it, and it is in no log: published while the shared bus (Redis) was away. Its
   * frame has no id, so a client's Last-Event-ID stays the last logged one; `id` is that id.
   */
  local?: true
  /** The hub that published it, when several share a bus; absent on the in-process bus. */
  origin?: string
  /**
   * The payload `data` encodes, on the hub that published it, so a subscriber in the hub need not parse `data`
   * again; absent on an event that came from another hub. Read-only: every subscriber shares it.
   */
  payload?: unknown
}

export interface Subscriber {
  deliver(event: BusEvent): void
}

/** What a stream needs of a bus: where the event ids stand, and a subscription to topics. */
export interface Fanout {
  /** The greatest id emitted so far (a resume from it needs no replay). */
  readonly lastId: number
  /** Subscribes to each topic; returns the unsubscribe function. Give each event once: see `distinctTopics`. */
  subscribe(topics: readonly string[], sub: Subscriber): () => void
}

/**
 * What the hub's parts need of the bus: the in-process `Bus`, or the `SharedBus` several hubs share through Redis.
 */
export interface HubBus extends Fanout {
  /** Events fanned out to this hub's subscribers since start, for rate figures. */
  readonly emitted: number
  /**
   * Logs an event and sends it to every subscriber (of every hub, when shared). Never throws and never waits: a
   * failure (Redis away) is reported to the bus's error handler.
   */
  publish(topic: string, event: string, payload: unknown, ts?: number): void
  /**
   * An event that goes with samples the caller writes: `write` gets the event to store in the same transaction
   * (in-process, where the samples' store is also the event log), or null (shared, where Redis logs it).
   */
  withSamples(topic: string, event: string, payload: unknown, ts: number, write: (event: BusEvent | null) => void): void
  /** Whether another hub published the event (never, on the in-process bus): its state is that hub's to keep. */
  fromElsewhere(event: BusEvent): boolean
  close(): Promise<void>
}

/**
 * Subscribers by topic, and the delivery of an event to those of its topic and of its family (`metrics` for
 * `metrics:<host>`). Never waits on a subscriber.
 */
export class Topics {
  readonly #byTopic = new Map<string, Set<Subscriber>>()

  deliver(event: BusEvent): void {
    const subs = this.#byTopic.get(event.topic)
    if (subs) for (const sub of subs) sub.deliver(event)
    if (!event.topic.startsWith('metrics:')) return
    const family = this.#byTopic.get('metrics')
    if (family) for (const sub of family) sub.deliver(event)
  }

  subscribe(topics: readonly string[], sub: Subscriber): () => void {
    for (const topic of topics) {
      let set = this.#byTopic.get(topic)
      if (!set) {
        set = new Set()
        this.#byTopic.set(topic, set)
      }
      set.add(sub)
    }
    return () => {
      for (const topic of topics) {
        const set = this.#byTopic.get(topic)
        set?.delete(sub)
        if (set?.size === 0) this.#byTopic.delete(topic)
      }
    }
  }
}
