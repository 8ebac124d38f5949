import type { RetryingWriter, Store } from '../store/index.ts'
import { encodeFrame } from './frame.ts'
import { type BusEvent, type HubBus, type Subscriber, Topics } from './topics.ts'

/** Ids reserved ahead of use at a time: one durable write per this many events. */
const ID_BLOCK = 10_000

/**
 * Assigns ids that increase for the hub's whole life (the store persists them), logs every event for resume,
 * and fans each one out to the subscribers of its topic.
 */
export class Bus implements HubBus {
  readonly #topics = new Topics()
  readonly #ids: Pick<Store, 'lastEventId' | 'reserveEventIds'>
  readonly #log: Pick<RetryingWriter, 'append'>
  #lastId: number
  #reserved: number
  #reserving = false
  #emitted = 0

  /** `ids` keeps the id counter durable; `log` writes published events in order, replaying them until stored. */
  constructor(ids: Pick<Store, 'lastEventId' | 'reserveEventIds'>, log: Pick<RetryingWriter, 'append'>) {
    this.#ids = ids
    this.#log = log
    this.#lastId = ids.lastEventId()
    this.#reserved = this.#lastId
  }

  /** The greatest id handed out so far. */
  get lastId(): number {
    return this.#lastId
  }

  /** Events emitted since start, for rate figures. */
  get emitted(): number {
    return this.#emitted
  }

  /** Allocates the next id and encodes the frame. The caller persists it, then calls `emit`. */
  create(topic: string, event: string, payload: unknown, ts = Date.now()): BusEvent {
    const id = ++this.#lastId
    if (id > this.#reserved - ID_BLOCK / 2) this.#reserve()
    const data = JSON.stringify(payload)
    return { id, ts, topic, event, data, frame: encodeFrame(String(id), event, data), payload }
  }

  /**
   * Reserves the next block of ids durably, half a block before the last one runs out. An event may go live
   * before it is stored (storage failing), so after a crash the next process starts past the reservation and an
   * id a client saw is never issued again. A failed reservation is tried again on the next event.
   */
  #reserve(): void {
    if (this.#reserving) return
    this.#reserving = true
    const through = this.#lastId + ID_BLOCK
    this.#ids.reserveEventIds(through).then(
      () => {
        this.#reserving = false
        this.#reserved = Math.max(this.#reserved, through)
      },
      () => {
        // Storage is failing: the slack left in the current block covers the ids until it works again
        this.#reserving = false
      },
    )
  }

  /** Reserves the first block of ids before any is handed out: call once, before the first event. */
  async start(): Promise<void> {
    const through = this.#lastId + ID_BLOCK
    await this.#ids.reserveEventIds(through)
    this.#reserved = through
  }

  /** Gives the unused reservation back at a clean shutdown, so ids go on without a jump. */
  async close(): Promise<void> {
    // A failed release leaves a jump in the ids after restart, nothing worse
    await this.#ids.reserveEventIds(this.#lastId).catch(() => {})
  }

  /**
   * Sends an already persisted event to every subscriber of its topic, and of its family (`metrics` for
   * `metrics:<host>`). Never waits on a client.
   */
  emit(event: BusEvent): void {
    this.#emitted++
    this.#topics.deliver(event)
  }

  /**
   * Creates, logs and emits in one call, for events that are not part of a larger write. The event goes out at
   * once and is stored after the writes queued before it; until then a resume replays it from the queue.
   */
  publish(topic: string, event: string, payload: unknown, ts = Date.now()): BusEvent {
    const ev = this.create(topic, event, payload, ts)
    this.#log.append(ev)
    this.emit(ev)
    return ev
  }

  /** The event is created first and stored by `write` with the samples, in one transaction, then emitted. */
  withSamples(topic: string, event: string, payload: unknown, ts: number, write: (event: BusEvent) => void): void {
    const ev = this.create(topic, event, payload, ts)
    write(ev)
    this.emit(ev)
  }

  fromElsewhere(): boolean {
    return false
  }

  /** Subscribes to each topic; returns the unsubscribe function. Give each event once: see `distinctTopics`. */
  subscribe(topics: readonly string[], sub: Subscriber): () => void {
    return this.#topics.subscribe(topics, sub)
  }
}
