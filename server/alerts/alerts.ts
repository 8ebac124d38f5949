import type { Audit } from '../audit/index.ts'
import type { BusEvent, HubBus } from '../bus/index.ts'
import type { Health } from '../health.ts'
import type { Logger } from '../log.ts'
import type {
  AlertRecord,
  AlertRule,
  AlertView,
  ChannelView,
  HostEntry,
  Job,
  MetricsEvent,
  NotificationView,
} from '../protocol/index.ts'
import type { Sql } from '../store/index.ts'
import type { AlertConfig } from './config.ts'
import { type Change, Evaluator, snapshot } from './evaluator.ts'
import type { Notice } from './formats.ts'
import { Outbox } from './outbox.ts'
import { type AlertFilter, AlertRecords, type NewNotification } from './records.ts'
import { marked, Silences } from './silences.ts'

/** The topic of `alert`, `alert.config`, `alert.silence` and `alert.health` events. */
export const ALERTS_TOPIC = 'alerts'
/** How often time-driven changes are looked for: `forMs`, `keepFiringMs`, repeats, silences ending. */
const SWEEP_MS = 1000
/** Resolved alerts unchanged and notifications finished this long ago are pruned. */
const KEEP_MS = 30 * 86_400_000
const PRUNE_EVERY_MS = 3_600_000
/** Health components that are not a hub fault to alert on: a failing channel cannot notify about itself. */
const NOT_FAULTS = new Set(['notifications'])

export interface AlertsDeps {
  sql: Sql
  bus: HubBus
  config: AlertConfig
  audit: Audit
  health: Health
  log: Logger
  /** This hub's name: the host its own `hub.degraded` alerts are on. */
  hub: string
  /** Whether this hub evaluates and notifies now: it holds the cluster's lease (always, alone on SQLite). */
  singleton: { readonly held: boolean }
  /** Every host as it is now, to start `host.offline` alerts from. */
  hosts(): readonly HostEntry[]
  /** The dashboard's URL, for a notice's link. */
  dashboardUrl(): string
}

/**
 * Alerting: rules evaluated on what arrives on the bus (every hub's samples, host and job changes, hubs' health),
 * state kept with its notices in one transaction, and the notices delivered from the outbox. Only the hub holding
 * the lease evaluates and delivers, so across a cluster each alert is evaluated and notified once; every hub
 * serves the reads and takes the commands.
 */
export class Alerts {
  readonly config: AlertConfig
  readonly records: AlertRecords
  readonly silences: Silences
  readonly #d: AlertsDeps
  readonly #outbox: Outbox
  readonly #evaluator = new Evaluator()
  #channels: ChannelView[] = []
  #rules = new Map<string, AlertRule>()
  #reloading: Promise<void> | null = null
  #reloadAgain = false
  #prunedAt = 0
  #closed = false
  #metricRules = false
  #active = false
  #activating: Promise<void> | null = null
  #commits: Promise<void> = Promise.resolve()
  /** Each hub's faults, by hub: what `hub.degraded` rules see. */
  readonly #hubFaults = new Map<string, Set<string>>()
  readonly #stops: (() => void)[] = []
  #timer: NodeJS.Timeout | null = null

  constructor(deps: AlertsDeps) {
    this.#d = deps
    this.config = deps.config
    this.records = new AlertRecords(deps.sql)
    this.silences = new Silences({
      records: this.records,
      bus: deps.bus,
      audit: deps.audit,
      log: deps.log,
      topic: ALERTS_TOPIC,
    })
    this.#outbox = new Outbox(this.records, deps.config, deps.health, deps.log)
  }

  /** Starts listening, and evaluating whenever this hub holds the lease. */
  start(): void {
    this.#stops.push(this.#d.bus.subscribe(['metrics', 'hosts', 'jobs', ALERTS_TOPIC], { deliver: (e) => this.#on(e) }))
    // Every hub tells the others its faults when they change; the evaluating hub reads its own at activation
    let told = ''
    this.#stops.push(
      this.#d.health.onChange((components) => {
        const faults = [...components].filter((f) => !NOT_FAULTS.has(f))
        if (faults.join() === told) return
        told = faults.join()
        this.#d.bus.publish(ALERTS_TOPIC, 'alert.health', { hub: this.#d.hub, faults })
      }),
    )
    this.#timer = setInterval(() => this.#tick(), SWEEP_MS)
    this.#timer.unref()
    this.#tick()
  }

  /** Bus events feed the evaluator while this hub evaluates; config and silence changes reload what they name. */
  #on(e: BusEvent): void {
    // The payload as this hub published it, or parsed from another hub's event
    const data = <T>() => (e.payload ?? JSON.parse(e.data)) as T
    const health =
      e.topic === ALERTS_TOPIC && e.event === 'alert.health' ? data<{ hub: string; faults: string[] }>() : null
    if (health) this.#hubFaults.set(health.hub, new Set(health.faults))
    if (!this.#active) return
    const now = Date.now()
    const out: Change[] = []
    if (e.event === 'metrics') {
      // Read only when a rule could want it: no metric rules, no cost per sample
      if (!this.#metricRules) return
      const m = data<MetricsEvent>()
      this.#evaluator.metrics(m.host, m.values, now, out)
    } else if (e.event === 'host') {
      const h = data<HostEntry>()
      if (!h.local) this.#evaluator.host(h.host, h.state === 'online', h.ts, now, out)
    } else if (e.event === 'job') {
      this.#evaluator.job(data<Job>(), now, out)
    } else if (health) {
      this.#evaluator.health(health.hub, this.#hubFaults.get(health.hub) ?? new Set(), now, out)
    } else if (e.topic === ALERTS_TOPIC) {
      if (e.event === 'alert.config') this.#reload(this.#reloadConfig(), 'rules and channels')
      else if (e.event === 'alert.silence') this.#reload(this.silences.reload(), 'silences')
    }
    if (out.length > 0) this.#apply(out, now)
  }

  /** A reload that failed (storage away) keeps what was read before; the next change or takeover reads again. */
  #reload(reading: Promise<void>, what: string): void {
    reading.catch((err: unknown) => this.#d.log.warn(`alert ${what} could not be read again`, { err }))
  }

  #tick(): void {
    if (!this.#d.singleton.held) {
      if (this.#active) this.#outbox.forget()
      this.#active = false
      return
    }
    if (!this.#active) {
      this.#activating ??= this.#activate()
        .catch((err: unknown) => this.#d.log.warn('alerting could not start; trying again', { err }))
        .finally(() => {
          this.#activating = null
        })
      return
    }
    const now = Date.now()
    const out: Change[] = []
    this.#evaluator.sweep(now, out)
    if (out.length > 0) this.#apply(out, now)
    void this.silences.handleEnded(now)
    this.#held(now)
    this.#outbox.kick()
    if (now - this.#prunedAt >= PRUNE_EVERY_MS) {
      this.#prunedAt = now
      void this.#prune(now)
    }
  }

  /** Drops what is older than `KEEP_MS`: resolved alerts not changed since, and finished notifications. */
  async #prune(now: number): Promise<void> {
    try {
      const gone = await this.records.prune(now - KEEP_MS)
      this.#evaluator.forget(gone)
    } catch (err) {
      this.#d.log.warn('old alerts could not be pruned; trying again later', { err })
    }
  }

  /** Takes over evaluation: the stored alerts, rules, channels and silences, then hosts and health as they are. */
  async #activate(): Promise<void> {
    const [records] = await Promise.all([this.records.all(), this.silences.reload()])
    this.#evaluator.load(records)
    await this.#reloadConfig()
    const now = Date.now()
    const out: Change[] = []
    for (const h of this.#d.hosts()) if (!h.local) this.#evaluator.host(h.host, h.state === 'online', h.ts, now, out)
    this.#hubFaults.set(this.#d.hub, new Set([...this.#d.health.components()].filter((f) => !NOT_FAULTS.has(f))))
    for (const [hub, faults] of this.#hubFaults) this.#evaluator.health(hub, faults, now, out)
    this.#active = true
    if (out.length > 0) this.#apply(out, now)
    this.#outbox.kick()
  }

  /** Reads the rules and channels again; calls while a read runs are folded into one more read after it. */
  #reloadConfig(): Promise<void> {
    if (this.#reloading) {
      this.#reloadAgain = true
      return this.#reloading
    }
    this.#reloading = (async () => {
      do {
        this.#reloadAgain = false
        const [rules, channels] = await Promise.all([this.config.rules(), this.config.channels()])
        this.#channels = channels
        this.#rules = new Map(rules.map((r) => [r.rule.name, r.rule]))
        this.#metricRules = rules.some((r) => r.rule.kind === 'metric')
        const now = Date.now()
        const out = this.#evaluator.setRules(
          rules.map((r) => r.rule),
          now,
        )
        if (out.length > 0) this.#apply(out, now)
      } while (this.#reloadAgain)
    })().finally(() => {
      this.#reloading = null
    })
    return this.#reloading
  }

  /**
   * Stores what changed with the notices it queues, then streams each change as an `alert` event. A firing alert
   * is notified unless silenced; a resolved one only if its episode's firing was.
   */
  #apply(changes: readonly Change[], now: number): void {
    const rows = new Map<string, AlertRecord>()
    const gone: string[] = []
    const notices: NewNotification[] = []
    const events: AlertView[] = []
    for (const ch of changes) {
      const a = ch.alert
      if (ch.to === 'firing') notices.push(...this.#notify(a, now, 'firing'))
      if (ch.to === 'resolved' && ch.from === 'firing' && a.notifiedEpisode === a.episode) {
        notices.push(...this.#notices(a, now, `${a.id}:resolved:${a.episode}`))
      }
      if (ch.to === null) {
        rows.delete(a.id)
        gone.push(a.id)
      } else rows.set(a.id, snapshot(a))
      events.push(this.#view(ch.to === null ? { ...ch.view, state: 'inactive' } : ch.view, now))
    }
    this.#commit([...rows.values()], gone, notices, events, now)
  }

  /**
   * One transaction for the alerts' rows and their notices, in order after the earlier ones (retried while storage
   * fails, so no change is lost or reordered); its `alert` events go out once it committed.
   */
  #commit(rows: AlertRecord[], gone: string[], notices: NewNotification[], events: AlertView[], now: number): void {
    this.#commits = this.#commits.then(async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          await this.records.commit(rows, gone, notices, now)
          break
        } catch (err) {
          // Stopping with storage away: the next start evaluates again from the last stored state
          if (this.#closed) return
          if (attempt === 0) this.#d.log.warn('alert state could not be stored; retrying', { err })
          await new Promise((r) => setTimeout(r, Math.min(5000, 500 * 2 ** attempt)))
        }
      }
      for (const e of events) this.#d.bus.publish(ALERTS_TOPIC, 'alert', e)
      if (notices.length > 0) this.#outbox.kick()
    })
  }

  /** The firing notices of an alert, unless a silence holds them back; marks the episode notified when queued. */
  #notify(a: AlertRecord, now: number, why: 'firing' | 'repeat'): NewNotification[] {
    if (this.silences.matching(a, now).length > 0) return []
    const key = why === 'repeat' ? `${a.id}:firing:${a.episode}.${++a.repeats}` : `${a.id}:firing:${a.episode}`
    a.notifiedEpisode = a.episode
    a.notifiedAt = now
    return this.#notices(a, now, key)
  }

  /** One notice per channel of the rule (all channels when it names none) whose `minSeverity` the alert meets. */
  #notices(a: AlertRecord, now: number, key: string): NewNotification[] {
    const names = this.#rules.get(a.rule)?.channels ?? this.#channels.map((c) => c.name)
    const notice: Notice = {
      id: a.id,
      rule: a.rule,
      host: a.host,
      series: a.series,
      state: a.state === 'resolved' ? 'resolved' : 'firing',
      severity: a.severity,
      value: a.value,
      threshold: a.threshold,
      startsAt: a.startsAt ?? now,
      ...(a.state === 'resolved' && a.endsAt !== null ? { endsAt: a.endsAt } : {}),
      labels: a.labels,
      url: `${this.#d.dashboardUrl()}/alerts/${a.id}`,
    }
    return names.flatMap((name) => {
      const ch = this.#channels.find((c) => c.name === name)
      if (!ch || (ch.minSeverity === 'critical' && a.severity !== 'critical')) return []
      return [{ alertId: a.id, channel: name, key, notice }]
    })
  }

  /** Firing alerts whose notice a silence held back (and no longer does), and those due a repeat. */
  #held(now: number): void {
    const rows: AlertRecord[] = []
    const notices: NewNotification[] = []
    for (const a of this.#evaluator.records()) {
      if (a.state !== 'firing') continue
      const repeatMs = this.#rules.get(a.rule)?.repeatMs
      const held = a.notifiedEpisode < a.episode
      const repeat = !held && repeatMs !== undefined && a.notifiedAt !== null && now - a.notifiedAt >= repeatMs
      if (!held && !repeat) continue
      if (this.silences.matching(a, now).length > 0) continue
      notices.push(...this.#notify(a, now, held ? 'firing' : 'repeat'))
      rows.push(snapshot(a))
    }
    if (rows.length > 0) this.#commit(rows, [], notices, [], now)
  }

  #view(a: Omit<AlertView, 'silenced' | 'silencedBy'>, now: number): AlertView {
    return marked(a, this.silences.matching(a, now))
  }

  /** `GET /api/alerts`: current and recent alerts with their history, marked silenced by the silences on now. */
  async list(f: AlertFilter, now = Date.now()): Promise<AlertView[]> {
    return this.silences.mark(await this.records.list(f), now)
  }

  notifications(alertId: string | undefined, limit: number): Promise<NotificationView[]> {
    return this.records.notifications(alertId, limit)
  }

  /** Stops evaluating, waits for the changes being stored and the deliveries under way. */
  async close(): Promise<void> {
    this.#active = false
    if (this.#timer) clearInterval(this.#timer)
    for (const stop of this.#stops.splice(0)) stop()
    await this.#activating
    await this.#outbox.close()
    this.#closed = true
    // A commit retrying while storage is away is given up within a retry's wait
    await Promise.race([this.#commits, new Promise((r) => setTimeout(r, 5000).unref())])
  }
}
