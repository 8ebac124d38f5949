import { randomBytes } from 'node:crypto'
import { Bus, type HubBus, openSharedBus } from './bus/index.ts'
import type { ClusterLink } from './cluster/index.ts'
import { type Config, ConfigError } from './config.ts'
import { AppError } from './errors.ts'
import type { Health } from './health.ts'
import { type Logger, redactUrl } from './log.ts'
import { type EventLog, eventLog, type RetryingWriter, type Store } from './store/index.ts'

/** The hub's bus, the log resumes read, and (with Redis) its link to the other hubs. */
export interface HubEvents {
  bus: HubBus
  log: EventLog
  link: ClusterLink | null
  /**
   * Binds what needs parts built later: the streams to end when the shared bus lost events this hub never read,
   * and the carrying out of commands other hubs relay for this hub's agents.
   */
  wire(parts: { onGap(): void; relayed(host: string, command: unknown): Promise<unknown> }): void
}

/**
 * Opens the in-process bus (events logged in the store, ids reserved in it), or, with `VIGIL_REDIS_URL`, the bus
 * on Redis Streams shared by every hub and the cluster link. Redis unreachable stops the start (exit code 2,
 * the server named without its password).
 */
export async function openEvents(
  config: Config,
  deps: {
    store: Store
    writer: RetryingWriter
    health: Health
    /** This machine's id: the hub holds its own host in the cluster under it, as an agent would. */
    machineId: string | null
    log: Logger
    onError(err: unknown): void
  },
): Promise<HubEvents> {
  if (config.redisUrl === undefined) {
    const local = new Bus(deps.store, deps.writer)
    await local.start()
    return { bus: local, log: eventLog(deps.store, deps.writer, () => local.lastId), link: null, wire() {} }
  }
  // This hub's id: unique per start, in the holds and on each event it appends to the shared bus
  const hubId = `${config.hostname}-${randomBytes(4).toString('hex')}`
  const url = config.redisUrl
  const unreachable = (err: unknown) => new ConfigError(`Redis at ${redactUrl(url)}: ${(err as Error).message}`)
  let parts: Parameters<HubEvents['wire']>[0] = {
    onGap() {},
    async relayed() {
      throw new AppError('unavailable', 'The hub is starting')
    },
  }
  const shared = await openSharedBus({
    url,
    origin: hubId,
    windowMs: config.replayS * 1000,
    onFault(message) {
      if (message === null) deps.health.clear('bus')
      else deps.health.report('bus', message)
    },
    onGap: () => parts.onGap(),
    onError: deps.onError,
  }).catch((err: unknown) => {
    throw unreachable(err)
  })
  const { ClusterLink } = await import('./cluster/index.ts')
  const link = await ClusterLink.open({
    url,
    hub: hubId,
    handle: (host, command) => parts.relayed(host, command),
    onError: deps.onError,
  }).catch(async (err: unknown) => {
    await shared.close()
    throw unreachable(err)
  })
  // Held like an agent's host, so the other hubs see it go when this hub dies, and relay its commands here
  const refusal = await link.claim(config.hostname, deps.machineId ?? hubId)
  if (refusal) deps.log.warn('another machine has this hub host name in the cluster', { message: refusal.message })
  return {
    bus: shared,
    log: shared.log(),
    link,
    wire(p) {
      parts = p
    },
  }
}
