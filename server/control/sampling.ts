import { eq } from 'drizzle-orm'
import { settings } from '../../db/schema.ts'
import type { Audit } from '../audit/index.ts'
import type { Bus } from '../bus/index.ts'
import type { Logger } from '../log.ts'
import type { ConfigEvent, SamplingSettings } from '../protocol/index.ts'
import type { Db } from '../store/index.ts'

const KEY = 'sampling'

interface Stored {
  sampling: SamplingSettings
  changedBy: string
  at: number
  revertsAt?: number
  /** The intervals a timed change goes back to: the last change made without a duration. */
  revertTo?: { fastMs: number; slowMs: number }
}

export interface SamplingTarget {
  configure(s: SamplingSettings): void
}

/**
 * Sampling settings as durable, versioned desired state: changed by operators, applied to the sampler from the
 * next tick, reverted by the system when a timed change runs out (also across restarts), and announced to every
 * viewer as a `config` event.
 */
export class SamplingControl {
  readonly #db: Db
  readonly #target: SamplingTarget
  readonly #bus: Bus
  readonly #audit: Audit
  readonly #log: Logger
  #state: Stored
  #version: number
  #revertTimer: NodeJS.Timeout | null = null

  constructor(db: Db, target: SamplingTarget, bus: Bus, audit: Audit, defaults: SamplingSettings, log: Logger) {
    this.#db = db
    this.#target = target
    this.#bus = bus
    this.#audit = audit
    this.#log = log
    const row = db.db.select().from(settings).where(eq(settings.key, KEY)).get()
    this.#state = row ? (JSON.parse(row.value) as Stored) : { sampling: defaults, changedBy: 'config', at: Date.now() }
    this.#version = row?.version ?? 0
  }

  /** Applies the stored settings (starting the sampler unless paused) and arms a pending revert. */
  start(): void {
    this.#target.configure(this.#state.sampling)
    this.#scheduleRevert()
  }

  /** The current settings as the `config` event carries them. */
  current(): ConfigEvent {
    const { sampling, changedBy, at, revertsAt } = this.#state
    return { version: this.#version, sampling, changedBy, at, ...(revertsAt === undefined ? {} : { revertsAt }) }
  }

  /** Sets one group's interval; with `ttlMs`, the system puts the previous interval back when it runs out. */
  set(group: 'fast' | 'slow', intervalMs: number, ttlMs: number | undefined, by: string): ConfigEvent {
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

  pause(by: string): ConfigEvent {
    return this.#setPaused(true, by)
  }

  resume(by: string): ConfigEvent {
    return this.#setPaused(false, by)
  }

  #setPaused(paused: boolean, by: string): ConfigEvent {
    return this.#commit({
      ...this.#state,
      sampling: { ...this.#state.sampling, paused },
      changedBy: by,
      at: Date.now(),
    })
  }

  #commit(next: Stored): ConfigEvent {
    const version = this.#version + 1
    const row = { value: JSON.stringify(next), version, updatedAt: next.at }
    this.#db.db
      .insert(settings)
      .values({ key: KEY, ...row })
      .onConflictDoUpdate({ target: settings.key, set: row })
      .run()
    this.#state = next
    this.#version = version
    this.#target.configure(next.sampling)
    this.#scheduleRevert()
    const event = this.current()
    this.#bus.publish('config', 'config', event)
    return event
  }

  #scheduleRevert(): void {
    if (this.#revertTimer) clearTimeout(this.#revertTimer)
    this.#revertTimer = null
    const { revertsAt, revertTo } = this.#state
    if (revertsAt === undefined || revertTo === undefined) return
    this.#revertTimer = setTimeout(() => this.#revert(), Math.max(0, revertsAt - Date.now()))
  }

  #revert(): void {
    const { revertTo, sampling } = this.#state
    if (!revertTo) return
    try {
      const event = this.#commit({ sampling: { ...sampling, ...revertTo }, changedBy: 'system', at: Date.now() })
      this.#audit.record({
        actor: 'system',
        role: 'system',
        remote: null,
        command: 'sampling.revert',
        args: { fastMs: event.sampling.fastMs, slowMs: event.sampling.slowMs },
        outcome: 'accepted',
        errorCode: null,
      })
    } catch (err) {
      this.#log.error('sampling revert failed', { err })
    }
  }

  close(): void {
    if (this.#revertTimer) clearTimeout(this.#revertTimer)
    this.#revertTimer = null
  }
}
