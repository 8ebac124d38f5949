import type { Store } from '../store/index.ts'
import { encodeFrame } from './frame.ts'
import { type BusEvent, type Fanout, type Subscriber, Topics } from './topics.ts'

/** Ids reserved ahead of use at a time: one durable write per this many events. */
const ID_BLOCK = 10_000

/**
 * Assigns ids that increase for the hub's whole life (the store persists them), logs every event for resume,
 * and fans each one out to the subscribers of its topic.
 */
export class Bus implements Fanout {
  readonly #topics = new Topics()
  readonly #log: Pick<Store, 'appendEvent' | 'lastEventId' | 'reserveEventIds'>
  #lastId: number
  #reserved: number
  #emitted = 0

  constructor(log: Pick<Store, 'appendEvent' | 'lastEventId' | 'reserveEventIds'>) {
    this.#log = log
    this.#lastId = log.lastEventId()
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
    return { id, ts, topic, event, data, frame: encodeFrame(String(id), event, data) }
  }

  /**
   * Reserves the next block of ids durably, half a block before the last one runs out. An event may go live
   * before it is stored (storage failing), so after a crash the next process starts past the reservation and an
   * id a client saw is never issued again. A failed reservation is tried again on the next event.
   */
  #reserve(): void {
    const through = this.#lastId + ID_BLOCK
    try {
      this.#log.reserveEventIds(through)
      this.#reserved = through
    } catch {
      // Storage is failing: the slack left in the current block covers the ids until it works again
    }
  }

  /** Gives the unused reservation back at a clean shutdown, so ids go on without a jump. */
  close(): void {
    try {
      this.#log.reserveEventIds(this.#lastId)
    } catch {
      // A failed release leaves a jump in the ids after restart, nothing worse
    }
  }

  /**
   * Sends an already persisted event to every subscriber of its topic, and of its family (`metrics` for
   * `metrics:<host>`). Never waits on a client.
   */
  emit(event: BusEvent): void {
    this.#emitted++
    this.#topics.deliver(event)
  }

  /** Creates, logs and emits in one call, for events that are not part of a larger write. */
  publish(topic: string, event: string, payload: unknown): BusEvent {
    const ev = this.create(topic, event, payload)
    this.#log.appendEvent(ev)
    this.emit(ev)
    return ev
  }

  /** Subscribes to each topic; returns the unsubscribe function. Give each event once: see `distinctTopics`. */
  subscribe(topics: readonly string[], sub: Subscriber): () => void {
    return this.#topics.subscribe(topics, sub)
  }
}
