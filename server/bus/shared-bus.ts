import type { EventLog } from '../store/index.ts'
import { RedisBus, type RedisBusOptions } from './redis-bus.ts'
import type { BusEvent, HubBus, Subscriber } from './topics.ts'

export interface SharedBusOptions extends RedisBusOptions {
  /** A publish Redis did not take (it is away): other hubs never see the event, and it is counted. */
  onError(err: unknown): void
}

/**
 * The hub's bus when several hubs share one Redis (`VIGIL_REDIS_URL`): every event is appended to the stream and
 * reaches this hub's clients through its follower, so all hubs' clients see one order and may resume anywhere.
 * Samples are stored apart from their events, in PostgreSQL: Redis is the event log.
 */
export class SharedBus implements HubBus {
  readonly #redis: RedisBus
  readonly #onError: (err: unknown) => void

  private constructor(redis: RedisBus, onError: (err: unknown) => void) {
    this.#redis = redis
    this.#onError = onError
  }

  static async open(opts: SharedBusOptions): Promise<SharedBus> {
    return new SharedBus(await RedisBus.open(opts), opts.onError)
  }

  get lastId(): number {
    return this.#redis.lastId
  }

  get emitted(): number {
    return this.#redis.emitted
  }

  subscribe(topics: readonly string[], sub: Subscriber): () => void {
    return this.#redis.subscribe(topics, sub)
  }

  /**
   * Appends to the stream for every hub. While Redis is away the event goes to this hub's own clients only,
   * without an id (it is in no log), so they keep seeing what this hub's agents and sampler produce.
   */
  publish(topic: string, event: string, payload: unknown, ts = Date.now()): void {
    const data = JSON.stringify(payload)
    this.#redis.append(topic, event, data, ts).catch((err: unknown) => {
      this.#onError(err)
      this.#redis.deliverLocally(topic, event, data, ts)
    })
  }

  withSamples(
    topic: string,
    event: string,
    payload: unknown,
    ts: number,
    write: (event: BusEvent | null) => void,
  ): void {
    write(null)
    this.publish(topic, event, payload, ts)
  }

  fromElsewhere(event: BusEvent): boolean {
    return event.origin !== this.#redis.origin
  }

  /** The stream as the event log: a client resumes on this hub from an id another hub gave it. */
  log(): EventLog {
    return this.#redis.log()
  }

  close(): Promise<void> {
    return this.#redis.close()
  }
}
