export { Bus } from './bus.ts'
export { encodeComment, encodeFrame, encodeOpen } from './frame.ts'
export { Script } from './lua.ts'
export { type BusEvent, type Fanout, type HubBus, type Subscriber, Topics } from './topics.ts'

import type { SharedBus, SharedBusOptions } from './shared-bus.ts'

export type { SharedBus, SharedBusOptions }

/** The bus on Redis Streams, shared by a cluster's hubs; loaded on first use, as node-redis is. */
export async function openSharedBus(opts: SharedBusOptions): Promise<SharedBus> {
  return (await import('./shared-bus.ts')).SharedBus.open(opts)
}

/** A command connection and a blocking one to Redis (see `redis-client.ts`); node-redis is loaded on first use. */
export async function connectRedisPair(url: string, onError: (err: Error) => void) {
  return (await import('./redis-client.ts')).connectRedisPair(url, onError)
}
