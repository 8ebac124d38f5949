import type { BusEvent, HubBus } from '../bus/index.ts'
import type { FleetEvent, HostEntry } from '../protocol/index.ts'
import type { Fleet } from './fleet.ts'
import type { Hosts } from './registry.ts'

/**
 * With several hubs on one bus, keeps this hub's hosts and fleet overview up to date with what the others
 * announce (`host` and `fleet` events), so every hub lists every host and its figures. A hub announces the hosts
 * it keeps when it starts, and again on first hearing from a hub (which started later and missed them).
 * Returns the unsubscribe.
 */
export function followOtherHubs(bus: HubBus, hosts: Hosts, fleet: Fleet): () => void {
  const heard = new Set<string>()
  const unsubscribe = bus.subscribe(['hosts', 'fleet'], {
    deliver(event: BusEvent) {
      if (!bus.fromElsewhere(event)) return
      if (event.origin !== undefined && !heard.has(event.origin)) {
        heard.add(event.origin)
        hosts.announceHere()
      }
      if (event.event === 'host') hosts.remote(JSON.parse(event.data) as HostEntry)
      else if (event.event === 'fleet') {
        const { hosts: figures } = JSON.parse(event.data) as FleetEvent
        fleet.remote(figures)
        for (const f of figures) if (f.lastSeenAt !== null) hosts.seen(f.host, f.lastSeenAt)
      }
    },
  })
  hosts.announceHere()
  return unsubscribe
}
