import { like } from 'drizzle-orm'
import type { Audit } from '../audit/index.ts'
import type { HubBus } from '../bus/index.ts'
import type { Logger } from '../log.ts'
import type { ConfigEvent, SamplingResult, SamplingSettings } from '../protocol/index.ts'
import type { Sql } from '../store/index.ts'

/** The hub's own host keeps the key it always had; an agent host's is `sampling:<host>`. */
const LOCAL_KEY = 'sampling'
const keyOf = (host: string, local: boolean) => (local ? LOCAL_KEY : `${LOCAL_KEY}:${host}`)

interface Stored {
  sampling: SamplingSettings
  changedBy: string
  at: number
  revertsAt?: number
  /** The intervals a timed change goes back to: the last change made without a duration. */
  revertTo?: { fastMs: number; slowMs: number }
}

/**
 * Where a host's settings take effect: the hub's own sampler, or a remote host's agent. Resolves true once they
 * are in force, false when they could not be applied now (the agent is offline: it gets them on reconnect).
 */
export interface SamplingTarget {
  configure(s: SamplingSettings): Promise<boolean>
}

/** A stored settings row: what was set, and its version. */
interface Row {
  value: string
  version: number
}

export interface SamplingDeps {
  sql: Sql
  bus: HubBus
  audit: Audit
  log: Logger
}

/**
 * One host's sampling settings as durable, versioned desired state: changed by operators, applied from the next
 * tick (by the agent, for a remote host), reverted by the system when a timed change runs out (also across
 * restarts of either side), and announced to every viewer as a `config` event.
 */
export class SamplingControl {
  readonly host: string
  readonly #deps: SamplingDeps
  readonly #key: string
  readonly #target: SamplingTarget
  #state: Stored
  #version: number
  #revertTimer: NodeJS.Timeout | null = null
  #storing: Promise<unknown> = Promise.resolve()

  constructor(
    deps: SamplingDeps,
    host: string,
    local: boolean,
    target: SamplingTarget,
    /** What the host runs when no operator has set anything: the config, or what the agent reported. */
    defaults: SamplingSettings,
    row: Row | undefined,
  ) {
    this.#deps = deps
    this.host = host
    this.#key = keyOf(host, local)
    this.#target = target
    this.#state = row ? (JSON.parse(row.value) as Stored) : { sampling: defaults, changedBy: 'config', at: Date.now() }
    this.#version = row?.version ?? 0
  }

  /** Whether an operator (or the system) has set these settings: the host then runs them, not its own. */
  get stored(): boolean {
    return this.#version > 0
  }

  /** Applies the stored settings (a local sampler starts unless paused) and arms a pending revert. */
  start(): void {
    void this.#target.configure(this.#state.sampling)
    this.#scheduleRevert()
  }

  /** The settings a host that has none stored reports it runs (an agent's own, at hello). */
  reported(sampling: SamplingSettings): void {
    if (this.stored) return
    this.#state = { sampling, changedBy: 'agent', at: Date.now() }
  }

  /** The current settings as the `config` event carries them. */
  current(): ConfigEvent {
    const { sampling, changedBy, at, revertsAt } = this.#state
    return {
      host: this.host,
      version: this.#version,
      sampling,
      changedBy,
      at,
      ...(revertsAt === undefined ? {} : { revertsAt }),
    }
  }

  /** Sets one group's interval; with `ttlMs`, the system puts the previous interval back when it runs out. */
  set(group: 'fast' | 'slow', intervalMs: number, ttlMs: number | undefined, by: string): Promise<SamplingResult> {
    const prev = this.#state
    const sampling = { ...prev.sampling, [group === 'fast' ? 'fastMs' : 'slowMs']: intervalMs }
    const now = Date.now()
    const next: Stored =
      ttlMs === undefined
        ? { sampling, changedBy: by, at: now }
        : {
            sampling,
            changedBy: by,
            at: now,
            revertsAt: now + ttlMs,
            revertTo: prev.revertTo ?? { fastMs: prev.sampling.fastMs, slowMs: prev.sampling.slowMs },
          }
    return this.#commit(next)
  }

  pause(by: string): Promise<SamplingResult> {
    return this.#setPaused(true, by)
  }

  resume(by: string): Promise<SamplingResult> {
    return this.#setPaused(false, by)
  }

  #setPaused(paused: boolean, by: string): Promise<SamplingResult> {
    return this.#commit({
      ...this.#state,
      sampling: { ...this.#state.sampling, paused },
      changedBy: by,
      at: Date.now(),
    })
  }

  /** Stores the change, announces it, then waits for the host to run it: the answer says whether it does. */
  async #commit(next: Stored): Promise<SamplingResult> {
    const event = await this.#store(next)
    const applied = await this.#target.configure(next.sampling)
    return { ...event, applied }
  }

  /** Stores the change and announces it, once committed; changes are stored one at a time, each a new version. */
  #store(next: Stored): Promise<ConfigEvent> {
    const run = this.#storing.then(
      () => this.#write(next),
      () => this.#write(next),
    )
    this.#storing = run.catch(() => {})
    return run
  }

  async #write(next: Stored): Promise<ConfigEvent> {
    const version = this.#version + 1
    const row = { value: JSON.stringify(next), version, updatedAt: next.at }
    const { settings } = this.#deps.sql.t
    await this.#deps.sql.db
      .insert(settings)
      .values({ key: this.#key, ...row })
      .onConflictDoUpdate({ target: settings.key, set: row })
    this.#state = next
    this.#version = version
    this.#scheduleRevert()
    const event = this.current()
    this.#deps.bus.publish('config', 'config', event)
    return event
  }

  #scheduleRevert(): void {
    if (this.#revertTimer) clearTimeout(this.#revertTimer)
    this.#revertTimer = null
    const { revertsAt, revertTo } = this.#state
    if (revertsAt === undefined || revertTo === undefined) return
    this.#revertTimer = setTimeout(() => void this.#revert(), Math.max(0, revertsAt - Date.now()))
  }

  async #revert(): Promise<void> {
    const { revertTo, sampling } = this.#state
    if (!revertTo) return
    try {
      const next = { sampling: { ...sampling, ...revertTo }, changedBy: 'system', at: Date.now() }
      const event = await this.#store(next)
      await this.#deps.audit.record({
        actor: 'system',
        role: 'system',
        remote: null,
        command: 'sampling.revert',
        args: { host: this.host, fastMs: event.sampling.fastMs, slowMs: event.sampling.slowMs },
        outcome: 'accepted',
        errorCode: null,
      })
      await this.#target.configure(next.sampling)
    } catch (err) {
      this.#deps.log.error('sampling revert failed', { err, host: this.host })
    }
  }

  close(): void {
    if (this.#revertTimer) clearTimeout(this.#revertTimer)
    this.#revertTimer = null
  }
}

export interface SamplingHosts {
  /** The hub's own host, its sampler and its configured settings. */
  local: { host: string; target: SamplingTarget; defaults: SamplingSettings }
  /** Whether a host is a known agent host. */
  known(host: string): boolean
  /** How a remote host's settings reach its agent. */
  targetFor(host: string): SamplingTarget
  /** What an agent host runs before it has reported its own settings (the agent's defaults). */
  fallback: SamplingSettings
}

/** Every host's sampling control: the hub's own, and one per agent host, made when first needed. */
export class Sampling {
  readonly local: SamplingControl
  readonly #deps: SamplingDeps
  readonly #opts: SamplingHosts
  readonly #hosts = new Map<string, SamplingControl>()
  /** Every stored row when the hub started, by key: a host's control is made from its row when first needed. */
  readonly #rows: Map<string, Row>

  private constructor(deps: SamplingDeps, opts: SamplingHosts, rows: Map<string, Row>) {
    this.#deps = deps
    this.#opts = opts
    this.#rows = rows
    const key = keyOf(opts.local.host, true)
    this.local = new SamplingControl(deps, opts.local.host, true, opts.local.target, opts.local.defaults, rows.get(key))
    this.#hosts.set(opts.local.host, this.local)
  }

  /** Reads every host's stored settings, then makes the controls. */
  static async open(deps: SamplingDeps, opts: SamplingHosts): Promise<Sampling> {
    const { settings } = deps.sql.t
    const rows = await deps.sql.db
      .select({ key: settings.key, value: settings.value, version: settings.version })
      .from(settings)
      .where(like(settings.key, `${LOCAL_KEY}%`))
    return new Sampling(deps, opts, new Map(rows.map((r) => [r.key, { value: r.value, version: r.version }])))
  }

  /** Starts the local sampler and arms the pending reverts of every host that has stored settings. */
  start(): void {
    this.local.start()
    for (const key of this.#rows.keys()) {
      if (key.startsWith(`${LOCAL_KEY}:`)) this.for(key.slice(LOCAL_KEY.length + 1))?.start()
    }
  }

  /**
   * The control of the hub's own host or of an agent host, made on first use; undefined for a host never seen.
   * Hosts with stored settings are known by them, even before their agent has connected.
   */
  for(host: string): SamplingControl | undefined {
    let c = this.#hosts.get(host)
    if (c) return c
    const row = this.#rows.get(keyOf(host, false))
    if (!row && !this.#opts.known(host)) return undefined
    c = new SamplingControl(this.#deps, host, false, this.#opts.targetFor(host), this.#opts.fallback, row)
    this.#hosts.set(host, c)
    return c
  }

  close(): void {
    for (const c of this.#hosts.values()) c.close()
  }
}
