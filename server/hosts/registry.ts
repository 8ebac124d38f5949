import type { Bus } from '../bus/index.ts'
import type { HostEvent } from '../protocol/index.ts'

/** Every host the hub knows: the latest `host` event of each (system info and top processes). */
export class Hosts {
  readonly #latest = new Map<string, HostEvent>()
  readonly #bus: Bus

  constructor(bus: Bus) {
    this.#bus = bus
  }

  /** Records a host's latest state and announces it on the `hosts` topic. */
  update(event: HostEvent): void {
    this.#latest.set(event.host, event)
    this.#bus.publish('hosts', 'host', event)
  }

  list(): HostEvent[] {
    return [...this.#latest.values()]
  }
}
