import { randomBytes } from 'node:crypto'
import type { Audit } from '../audit/index.ts'
import type { HubBus } from '../bus/index.ts'
import { AppError } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { AlertRecord, AlertSilence, Silence } from '../protocol/index.ts'
import { silenceTest } from './match.ts'
import type { AlertRecords } from './records.ts'

/** A test of an alert against `list`: the ids of the silences on at `now` that match it. */
function silencesTest(
  list: readonly Silence[],
): (a: Pick<AlertRecord, 'rule' | 'host' | 'severity'>, now: number) => string[] {
  const tests = list.map((s) => ({ s, test: silenceTest(s.matchers) }))
  return (a, now) => tests.filter(({ s, test }) => s.endsAt > now && test(a)).map(({ s }) => s.id)
}

/** An alert as reads and events show it: marked with the silences that hold back its notices. */
export function marked<T>(a: T, silencedBy: string[]): T & { silenced: boolean; silencedBy: string[] } {
  return { ...a, silenced: silencedBy.length > 0, silencedBy }
}

/** How long an ended silence is still listed. */
const LISTED_AFTER_END_MS = 86_400_000

export interface SilencesDeps {
  records: AlertRecords
  bus: HubBus
  audit: Audit
  log: Logger
  /** The topic its `alert.silence` events go on. */
  topic: string
}

/**
 * Silences: made and ended by commands on any hub (stored, then announced as `alert.silence` events), matched
 * against alerts by the evaluating hub from the ones on now, and each end handled once (an expiry audited as the
 * system's).
 */
export class Silences {
  readonly #d: SilencesDeps
  #matching = silencesTest([])
  #closing = false

  constructor(deps: SilencesDeps) {
    this.#d = deps
  }

  /** Reads the silences on now again (at takeover, and on each `alert.silence` event). */
  async reload(now = Date.now()): Promise<void> {
    const active = await this.#d.records.activeSilences(now)
    this.#matching = silencesTest(active)
  }

  /** The ids of the silences on at `now` that match the alert. */
  matching(a: Pick<AlertRecord, 'rule' | 'host' | 'severity'>, now: number): string[] {
    return this.#matching(a, now)
  }

  /** The alerts marked with the silences on at `now` as stored (any hub's read, not the evaluating hub's copy). */
  async mark<T extends Pick<AlertRecord, 'rule' | 'host' | 'severity'>>(alerts: readonly T[], now: number) {
    const matching = silencesTest(await this.#d.records.activeSilences(now))
    return alerts.map((a) => marked(a, matching(a, now)))
  }

  /** `alert.silence`: holds back the notifications of the alerts it matches until it ends. */
  async silence(cmd: AlertSilence, by: string, now = Date.now()): Promise<{ silenceId: string; endsAt: number }> {
    const s: Silence = {
      id: `sil_${randomBytes(6).toString('hex')}`,
      matchers: cmd.matchers,
      reason: cmd.reason,
      createdBy: by,
      startsAt: now,
      endsAt: now + cmd.durationMs,
      endedBy: null,
    }
    await this.#d.records.addSilence(s)
    this.#d.bus.publish(this.#d.topic, 'alert.silence', { ...s, state: 'active' })
    return { silenceId: s.id, endsAt: s.endsAt }
  }

  /** `alert.unsilence`: ends a silence now; the alerts it held back and still firing are notified. */
  async unsilence(id: string, by: string, now = Date.now()): Promise<{ silenceId: string; endedAt: number }> {
    if (!(await this.#d.records.endSilence(id, by, now))) throw new AppError('not_found', `No active silence ${id}`)
    this.#d.bus.publish(this.#d.topic, 'alert.silence', { id, endedBy: by, endsAt: now, state: 'ended' })
    return { silenceId: id, endedAt: now }
  }

  /** `GET /api/alerts/silences`: those on now and those that ended in the last day. */
  list(now = Date.now()): Promise<Silence[]> {
    return this.#d.records.silences(now, LISTED_AFTER_END_MS)
  }

  /** Silences that ended (by time, or `alert.unsilence`): each handled once, an expiry audited as the system's. */
  async handleEnded(now: number): Promise<void> {
    if (this.#closing) return
    this.#closing = true
    try {
      for (const s of await this.#d.records.endedUnclosed(now)) {
        if (!(await this.#d.records.closeSilence(s.id, now))) continue
        if (s.endedBy !== null) continue
        await this.#d.audit.record({
          actor: 'system',
          role: 'system',
          remote: null,
          command: 'alert.silence.expire',
          args: { silenceId: s.id, matchers: s.matchers, reason: s.reason },
          outcome: 'accepted',
          errorCode: null,
        })
        this.#d.bus.publish(this.#d.topic, 'alert.silence', { ...s, state: 'expired' })
      }
    } catch (err) {
      this.#d.log.warn('ended silences could not be handled; trying again', { err })
    } finally {
      this.#closing = false
    }
  }
}
