import { randomBytes } from 'node:crypto'
import { createClient, type RedisClientType } from 'redis'
import { AppError } from '../errors.ts'
import { HostDirectory } from './directory.ts'
import { CommandRelay } from './relay.ts'

export interface ClusterLinkOptions {
  /** The cluster's Redis (`VIGIL_REDIS_URL`). */
  url: string
  /** This hub's host name: part of its id in the cluster, for people reading the holds. */
  name: string
  /** A host's hold lapses this long after its hub last renewed it (the hub died); renewed every third of it. */
  holdTtlMs?: number
  /** How long a relayed command may take: the holding hub waits for its agent to apply it. */
  relayTimeoutMs?: number
  /** Carries out a command relayed from another hub for a host whose agent is on this one. */
  handle(host: string, command: unknown): Promise<unknown>
  /** A Redis failure nobody waits for (a renewal, a release), and relay messages that did not parse. */
  onError(err: unknown): void
}

/** Why an agent may not hold a host here: another machine's agent holds it on another hub. */
export interface HoldRefusal {
  code: 'conflict'
  message: string
}

/**
 * A hub's part in a cluster beyond the bus: it holds the hosts whose agents are connected to it (in Redis, with a
 * TTL it renews, so a dead hub's hosts come free by themselves), and it sends commands for hosts held by another
 * hub to that hub, which carries them out and answers.
 */
export class ClusterLink {
  /** This hub's id: its name and a random suffix, new at every start. */
  readonly hub: string
  readonly #opts: ClusterLinkOptions
  readonly #clients: RedisClientType[]
  readonly #directory: HostDirectory
  readonly #relay: CommandRelay
  readonly #held = new Map<string, string | null>()
  readonly #timer: NodeJS.Timeout

  private constructor(
    hub: string,
    opts: ClusterLinkOptions,
    clients: RedisClientType[],
    directory: HostDirectory,
    relay: CommandRelay,
  ) {
    this.hub = hub
    this.#opts = opts
    this.#clients = clients
    this.#directory = directory
    this.#relay = relay
    this.#timer = setInterval(() => void this.#renew(), (opts.holdTtlMs ?? 15_000) / 3)
    this.#timer.unref()
  }

  static async open(opts: ClusterLinkOptions): Promise<ClusterLink> {
    const hub = `${opts.name}-${randomBytes(4).toString('hex')}`
    const socket = { reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000), connectTimeout: 5000 }
    const cmd: RedisClientType = createClient({ url: opts.url, socket, disableOfflineQueue: true })
    const sub: RedisClientType = createClient({ url: opts.url, socket })
    // node-redis throws a socket error nobody listens for: each client reports it instead
    for (const c of [cmd, sub]) c.on('error', (err: unknown) => opts.onError(err))
    await Promise.all([cmd.connect(), sub.connect()])
    const directory = new HostDirectory(cmd, { ttlMs: opts.holdTtlMs ?? 15_000 })
    const relay = await CommandRelay.open(
      { hub, handle: opts.handle, onInvalid: (r) => opts.onError(new Error(r)) },
      cmd,
      sub,
    )
    return new ClusterLink(hub, opts, [cmd, sub], directory, relay)
  }

  /** Holds `host` for this hub, or says which other hub holds it for another machine. */
  async claim(host: string, machineId: string): Promise<HoldRefusal | null> {
    const r = await this.#directory.claim(host, { hub: this.hub, machineId })
    if (!r.ok) {
      return {
        code: 'conflict',
        message: `Host ${host} is online from another machine (machine id ${r.holder.machineId}) on hub ${r.holder.hub}`,
      }
    }
    this.#held.set(host, machineId)
    return null
  }

  /** This hub's agent for `host` went away: its hold goes, unless another hub has taken it over. */
  release(host: string): void {
    this.#held.delete(host)
    this.#directory.release(host, this.hub).catch(this.#opts.onError)
  }

  /**
   * Sends a command for `host` to the hub that holds it and resolves with that hub's answer; null when this hub
   * holds it or no hub does (the command is then this hub's to carry out).
   */
  async relay(host: string, command: unknown): Promise<{ result: unknown } | null> {
    const holder = await this.#directory.holder(host).catch((err: Error) => {
      throw new AppError('unavailable', `Could not find which hub holds ${host}: ${err.message}`)
    })
    if (holder === null || holder.hub === this.hub) return null
    return { result: await this.#relay.send(holder.hub, host, command, this.#opts.relayTimeoutMs ?? 10_000) }
  }

  /** Renews every hold of this hub; one lost (the hold lapsed while Redis was away) is claimed again. */
  async #renew(): Promise<void> {
    for (const [host, machineId] of this.#held) {
      try {
        if (!(await this.#directory.renew(host, this.hub)) && machineId !== null) await this.claim(host, machineId)
      } catch (err) {
        this.#opts.onError(err)
      }
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer)
    await this.#relay.close()
    await Promise.all([...this.#held.keys()].map((h) => this.#directory.release(h, this.hub).catch(() => {})))
    await Promise.all(this.#clients.map((c) => c.quit().catch(() => {})))
  }
}
