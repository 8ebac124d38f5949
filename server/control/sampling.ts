import { and, eq, like } from 'drizzle-orm'
import type { Audit } from '../audit/index.ts'
import type { HubBus } from '../bus/index.ts'
import { AppError } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { ConfigEvent, SamplingResult, SamplingSettings } from '../protocol/index.ts'
import type { Sql } from '../store/index.ts'

/**
 * An agent host's key is `sampling:<host>`. The hub's own host keeps the key it always had on SQLite; on
 * PostgreSQL, shared by several hubs, each hub's own host has its `sampling:<host>` too.
 */
const LOCAL_KEY = 'sampling'
const keyOf = (host: string, local: boolean, sql: Sql) =>
  local && sql.kind === 'sqlite' ? LOCAL_KEY : `${LOCAL_KEY}:${host}`
/** A revert timer may fire this much before its time (timer rounding) and still revert. */
const REVERT_EARLY_MS = 5
/** Times a change is made again from what another hub stored first, before it is given up as a conflict. */
const WRITE_ATTEMPTS = 5

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
    this.#key = keyOf(host, local, deps.sql)
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

  /** Puts the stored settings in force where the host runs; false when it does not run here (or is offline). */
  applyStored(): Promise<boolean> {
    return this.#target.configure(this.#state.sampling)
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
    return this.#commit((prev) => {
      const sampling = { ...prev.sampling, [group === 'fast' ? 'fastMs' : 'slowMs']: intervalMs }
      const now = Date.now()
      return ttlMs === undefined
        ? { sampling, changedBy: by, at: now }
        : {
            sampling,
            changedBy: by,
            at: now,
            revertsAt: now + ttlMs,
            revertTo: prev.revertTo ?? { fastMs: prev.sampling.fastMs, slowMs: prev.sampling.slowMs },
          }
    })
  }

  pause(by: string): Promise<SamplingResult> {
    return this.#setPaused(true, by)
  }

  resume(by: string): Promise<SamplingResult> {
    return this.#setPaused(false, by)
  }

  #setPaused(paused: boolean, by: string): Promise<SamplingResult> {
    return this.#commit((prev) => ({
      ...prev,
      sampling: { ...prev.sampling, paused },
      changedBy: by,
      at: Date.now(),
    }))
  }

  /** Stores the change, announces it, then waits for the host to run it: the answer says whether it does. */
  async #commit(make: (prev: Stored) => Stored): Promise<SamplingResult> {
    const event = (await this.#store(make)) as ConfigEvent
    const applied = await this.#target.configure(event.sampling)
    return { ...event, applied }
  }

  /** Re-reads the stored settings, in turn with this host's writes: another hub may have changed them. */
  reload(): Promise<void> {
    return this.#serial(() => this.#read())
  }

  async #read(): Promise<void> {
    const { settings } = this.#deps.sql.t
    const [row] = await this.#deps.sql.db
      .select({ value: settings.value, version: settings.version })
      .from(settings)
      .where(eq(settings.key, this.#key))
    if (!row || row.version <= this.#version) return
    this.#state = JSON.parse(row.value) as Stored
    this.#version = row.version
    this.#scheduleRevert()
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#storing.then(work, work)
    this.#storing = run.catch(() => {})
    return run
  }

  /**
   * Stores the change `make` derives from the current settings and announces it, once committed; changes are
   * stored one at a time, each a new version. When another hub stored a version first, its settings are read
   * and the change made again from them, so no hub's change is lost. Null when `make` finds nothing to change.
   */
  #store(make: (prev: Stored) => Stored | null): Promise<ConfigEvent | null> {
    return this.#serial(async () => {
      for (let attempt = 1; ; attempt++) {
        const next = make(this.#state)
        if (next === null) return null
        if (await this.#write(next)) {
          const event = this.current()
          this.#deps.bus.publish('config', 'config', event)
          return event
        }
        await this.#read()
        if (attempt === WRITE_ATTEMPTS) {
          throw new AppError('conflict', `The sampling settings of ${this.host} kept changing elsewhere; try again`)
        }
      }
    })
  }

  /** Writes `next` as the version after the one held, unless another hub wrote that version first. */
  async #write(next: Stored): Promise<boolean> {
    const version = this.#version + 1
    const row = { value: JSON.stringify(next), version, updatedAt: next.at }
    const { settings } = this.#deps.sql.t
    const written =
      this.#version === 0
        ? await this.#deps.sql.db
            .insert(settings)
            .values({ key: this.#key, ...row })
            .onConflictDoNothing()
            .returning({ key: settings.key })
        : await this.#deps.sql.db
            .update(settings)
            .set(row)
            .where(and(eq(settings.key, this.#key), eq(settings.version, this.#version)))
            .returning({ key: settings.key })
    if (written.length === 0) return false
    this.#state = next
    this.#version = version
    this.#scheduleRevert()
    return true
  }

  #scheduleRevert(): void {
    if (this.#revertTimer) clearTimeout(this.#revertTimer)
    this.#revertTimer = null
    const { revertsAt, revertTo } = this.#state
    if (revertsAt === undefined || revertTo === undefined) return
    this.#revertTimer = setTimeout(() => void this.#revert(), Math.max(0, revertsAt - Date.now()))
  }

  /**
   * Puts back the intervals of a timed change that ran out. Every hub with the host's settings arms it; the one
   * whose write lands first reverts, the others then read that there is nothing left to revert.
   */
  async #revert(): Promise<void> {
    try {
      const event = await this.#store((prev) =>
        prev.revertTo && prev.revertsAt !== undefined && prev.revertsAt <= Date.now() + REVERT_EARLY_MS
          ? { sampling: { ...prev.sampling, ...prev.revertTo }, changedBy: 'system', at: Date.now() }
          : null,
      )
      if (event === null) return
      await this.#deps.audit.record({
        actor: 'system',
        role: 'system',
        remote: null,
        command: 'sampling.revert',
        args: { host: this.host, fastMs: event.sampling.fastMs, slowMs: event.sampling.slowMs },
        outcome: 'accepted',
        errorCode: null,
      })
      await this.#target.configure(event.sampling)
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
  #unfollow = () => {}

  private constructor(deps: SamplingDeps, opts: SamplingHosts, rows: Map<string, Row>) {
    this.#deps = deps
    this.#opts = opts
    this.#rows = rows
    const key = keyOf(opts.local.host, true, deps.sql)
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

  /**
   * Starts the local sampler and arms the pending reverts of every host that has stored settings; with several
   * hubs, follows the settings the others store.
   */
  start(): void {
    const bus = this.#deps.bus
    this.#unfollow = bus.subscribe(['config'], {
      deliver: (event) => {
        if (!bus.fromElsewhere(event)) return
        const { host } = JSON.parse(event.data) as ConfigEvent
        this.changedElsewhere(host).catch((err: unknown) =>
          this.#deps.log.error('reading sampling settings changed elsewhere failed', { err, host }),
        )
      },
    })
    this.local.start()
    for (const key of this.#rows.keys()) {
      const host = key.slice(LOCAL_KEY.length + 1)
      if (key.startsWith(`${LOCAL_KEY}:`) && host !== this.local.host) this.for(host)?.start()
    }
  }

  /**
   * Another hub stored new settings for `host` (its `config` event): read here too, and put in force if the host
   * runs here (this hub's own host, or an agent connected to this hub).
   */
  async changedElsewhere(host: string): Promise<void> {
    const c = this.for(host)
    if (!c) return
    // Put in force even when this hub had read it already (its own revert found the other hub's there first)
    await c.reload()
    await c.applyStored()
  }

  /**
   * The control of the hub's own host or of an agent host, made on first use; undefined for a host never seen.
   * Hosts with stored settings are known by them, even before their agent has connected.
   */
  for(host: string): SamplingControl | undefined {
    let c = this.#hosts.get(host)
    if (c) return c
    const row = this.#rows.get(keyOf(host, false, this.#deps.sql))
    if (!row && !this.#opts.known(host)) return undefined
    c = new SamplingControl(this.#deps, host, false, this.#opts.targetFor(host), this.#opts.fallback, row)
    this.#hosts.set(host, c)
    return c
  }

  close(): void {
    this.#unfollow()
    for (const c of this.#hosts.values()) c.close()
  }
}
