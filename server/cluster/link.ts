import type { RedisClientType } from 'redis'
import { connectRedisPair } from '../bus/index.ts'
import { AppError } from '../errors.ts'
import { HostDirectory } from './directory.ts'
import { CommandRelay } from './relay.ts'

export interface ClusterLinkOptions {
  /** The cluster's Redis (`VIGIL_REDIS_URL`). */
  url: string
  /** This hub's id in the cluster, unique per start (its host name and a random suffix). */
  hub: string
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
  /** This hub's id in the cluster. */
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
    const hub = opts.hub
    const [cmd, sub] = await connectRedisPair(opts.url, opts.onError)
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

  /**
   * This hub's agent for `host` went away: its hold goes, unless another hub has taken it over. Resolves with
   * whether the agent is on another hub already (false, too, when Redis could not say).
   */
  async release(host: string): Promise<boolean> {
    this.#held.delete(host)
    try {
      return await this.#directory.release(host, this.hub)
    } catch (err) {
      this.#opts.onError(err)
      return false
    }
  }

  /** Of these hosts, those no hub holds any more: their hub died without a word. */
  async unheld(hosts: readonly string[]): Promise<string[]> {
    const held = await this.#directory.held(hosts)
    return hosts.filter((h) => !held.has(h))
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
