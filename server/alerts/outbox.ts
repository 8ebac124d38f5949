import type { Health } from '../health.ts'
import type { Logger } from '../log.ts'
import type { AlertConfig } from './config.ts'
import type { AlertRecords, Due } from './records.ts'
import { type Attempt, send } from './send.ts'

/** The first retry comes after about this long, each later one after twice the last, up to `RETRY_MAX_MS`. */
export const RETRY_FIRST_MS = 1000
export const RETRY_MAX_MS = 5 * 60_000
/** A notification not delivered this long after it was queued is given up (`failed`). */
export const GIVE_UP_MS = 24 * 3_600_000
/** Failed attempts in a row after which a channel turns `/api/health` degraded (`notifications`). */
const FAILING_AFTER = 3
/** Notifications sent at once. */
const IN_FLIGHT = 8

/** The wait before the next try after `attempts` failed ones: exponential, with jitter over its upper half. */
export function retryDelay(attempts: number, random = Math.random()): number {
  const base = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** Math.max(0, attempts - 1))
  return Math.round(base / 2 + (random * base) / 2)
}

/**
 * Delivers the notification outbox: each due notice is posted to its channel with its idempotency key, each
 * attempt recorded, and a failure retried with backoff until it is delivered or `GIVE_UP_MS` passed. At least once:
 * a notice whose answer was lost (the hub stopped mid-request) is sent again with the same key.
 */
export class Outbox {
  readonly #records: AlertRecords
  readonly #config: AlertConfig
  readonly #health: Health
  readonly #log: Logger
  readonly #inFlight = new Set<number>()
  /** Failed attempts in a row, by channel, with the last error. */
  readonly #failing = new Map<string, { count: number; error: string }>()
  #running: Promise<void> | null = null
  #again = false
  #closed = false
  /** Aborts the requests under way when the hub stops: their notices stay pending for the next start. */
  readonly #stop = new AbortController()

  constructor(records: AlertRecords, config: AlertConfig, health: Health, log: Logger) {
    this.#records = records
    this.#config = config
    this.#health = health
    this.#log = log
  }

  /** Sends what is due now; a call while a pass runs makes it look again when done. */
  kick(): void {
    if (this.#closed) return
    if (this.#running) {
      this.#again = true
      return
    }
    this.#running = this.#pass()
      .catch((err: unknown) => this.#log.warn('alert notifications could not be read', { err }))
      .finally(() => {
        this.#running = null
        if (this.#again) {
          this.#again = false
          this.kick()
        }
      })
  }

  async #pass(): Promise<void> {
    for (;;) {
      const due = (await this.#records.due(Date.now(), IN_FLIGHT * 4)).filter((n) => !this.#inFlight.has(n.id))
      if (due.length === 0 || this.#closed) return
      // A channel's notices go in order, one at a time; channels go side by side
      const byChannel = new Map<string, Due[]>()
      for (const n of due) {
        const lane = byChannel.get(n.channel)
        if (lane) lane.push(n)
        else byChannel.set(n.channel, [n])
      }
      const lanes = [...byChannel.values()].slice(0, IN_FLIGHT)
      await Promise.all(
        lanes.map(async (lane) => {
          for (const n of lane) if (!(await this.#deliver(n))) return
        }),
      )
    }
  }

  /** One attempt at one notice; false when the channel failed (its later notices wait for the next pass). */
  async #deliver(n: Due): Promise<boolean> {
    this.#inFlight.add(n.id)
    try {
      const channel = await this.#config.channel(n.channel)
      const attempt: Attempt = channel
        ? await send(channel, n.notice, n.key, this.#stop.signal)
        : { ok: false, status: null, error: `no channel ${n.channel} any more`, ms: 0 }
      // Cut short by the stop: not an attempt the channel failed, so not recorded; it is sent again after restart
      if (this.#closed) return false
      const now = Date.now()
      const next = attempt.ok || !channel || now - n.createdAt >= GIVE_UP_MS ? null : now + retryDelay(n.attempts + 1)
      await this.#records.attempted(n, attempt, now, next)
      this.#track(n.channel, attempt)
      if (!attempt.ok && next === null) {
        this.#log.warn('gave up an alert notification', { channel: n.channel, key: n.key, error: attempt.error })
      }
      return attempt.ok
    } finally {
      this.#inFlight.delete(n.id)
    }
  }

  #track(channel: string, a: Attempt): void {
    if (a.ok) this.#failing.delete(channel)
    else {
      const f = this.#failing.get(channel)
      this.#failing.set(channel, { count: (f?.count ?? 0) + 1, error: a.error ?? 'failed' })
    }
    const bad = [...this.#failing].filter(([, f]) => f.count >= FAILING_AFTER)
    if (bad.length === 0) this.#health.clear('notifications')
    else {
      const what = bad.map(([name, f]) => `channel ${name}: ${f.count} failed attempts in a row (${f.error})`)
      this.#health.report('notifications', what.join('; '))
    }
  }

  /** Forgets the channels' failures and their health report: another hub delivers now. */
  forget(): void {
    this.#failing.clear()
    this.#health.clear('notifications')
  }

  /** Stops taking new work, aborts the requests under way, and waits for the pass to end. */
  async close(): Promise<void> {
    this.#closed = true
    this.#stop.abort()
    await this.#running
  }
}
