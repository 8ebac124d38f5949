import { createHash } from 'node:crypto'
import type { AlertRecord, AlertRule, AlertState, Job } from '../protocol/index.ts'
import { globTest, hostsOf, labelsMatch, metricTest } from './match.ts'

/** What one evaluation changed: `from` and `to` are null where the alert had or has no record (never fired). */
export interface Change {
  /** The alert as the evaluator keeps it (what notifying marks). */
  alert: AlertRecord
  /** The alert as it was at this change, for its event. */
  view: AlertRecord
  from: AlertState | null
  to: AlertState | null
}

/** State changes kept per alert. */
const HISTORY = 20

/** The stable id of an alert: the same rule, host and series give the same id, across restarts and hubs. */
export function alertId(rule: string, host: string, series: string): string {
  return createHash('sha256').update(`${rule}\0${host}\0${series}`).digest('hex').slice(0, 16)
}

interface Compiled {
  rule: AlertRule
  hosts: (host: string) => boolean
  metric: (name: string) => boolean
  job: (name: string) => boolean
  forMs: number
  keepFiringMs: number
}

function compile(rule: AlertRule): Compiled {
  return {
    rule,
    hosts: hostsOf(rule),
    metric: rule.kind === 'metric' ? metricTest(rule.metric) : () => false,
    job: rule.kind === 'job.failed' ? globTest(rule.job) : () => false,
    forMs: 'forMs' in rule ? (rule.forMs ?? 0) : 0,
    keepFiringMs: rule.kind === 'metric' ? (rule.keepFiringMs ?? 0) : 0,
  }
}

/** An alert in memory: its record, whether its condition held at the last look, and since when it cleared. */
interface Live {
  rec: AlertRecord
  holds: boolean
  clearSince: number | null
}

/** A (rule, host, series) a metric sample feeds: found once per series, kept until the rules change. */
interface Slot {
  c: Compiled
  key: string
  host: string
  series: string
  window: { t: number[]; v: number[] } | null
}

const breaches = (op: string, v: number, t: number) =>
  op === '>' ? v > t : op === '>=' ? v >= t : op === '<' ? v < t : v <= t

/**
 * Alert state for every rule, host and series, moved by what arrives: metric samples, host and job changes and the
 * hub's health, plus a sweep for what only time decides (`forMs`, `keepFiringMs`). It returns the changes and keeps
 * no I/O: the caller stores them (with their notices) and streams them.
 */
export class Evaluator {
  #rules: Compiled[] = []
  #byName = new Map<string, Compiled>()
  readonly #alerts = new Map<string, Live>()
  /** Metric slots by host, then metric name: what a sample of that series evaluates. */
  #slots = new Map<string, Map<string, Slot[]>>()

  /** Takes the rules in force; alerts of a rule that is gone resolve. */
  setRules(rules: readonly AlertRule[], now: number): Change[] {
    this.#rules = rules.map(compile)
    this.#byName = new Map(this.#rules.map((c) => [c.rule.name, c]))
    this.#slots = new Map()
    const changes: Change[] = []
    for (const live of this.#alerts.values()) {
      const c = this.#byName.get(live.rec.rule)
      if (c) {
        live.rec.severity = c.rule.severity
        continue
      }
      const ch = this.#end(live, now)
      if (ch) changes.push(ch)
    }
    return changes
  }

  /** Puts back stored alerts (at start, or when this hub takes over evaluation). */
  load(records: readonly AlertRecord[]): void {
    this.#alerts.clear()
    this.#slots = new Map()
    for (const rec of records) {
      this.#alerts.set(keyOf(rec.rule, rec.host, rec.series), {
        rec,
        holds: rec.state !== 'resolved',
        clearSince: null,
      })
    }
  }

  /** Forgets alerts whose rows were pruned (resolved ones only: an active alert is never pruned). */
  forget(ids: readonly string[]): void {
    if (ids.length === 0) return
    const drop = new Set(ids)
    for (const [key, live] of this.#alerts)
      if (drop.has(live.rec.id) && live.rec.state === 'resolved') this.#alerts.delete(key)
  }

  /** Every alert it holds, resolved ones included. */
  *records(): IterableIterator<AlertRecord> {
    for (const l of this.#alerts.values()) yield l.rec
  }

  /** One host's samples: each series that a metric rule matches is evaluated at once. */
  metrics(host: string, values: Readonly<Record<string, number>>, now: number, out: Change[]): void {
    let byName = this.#slots.get(host)
    if (!byName) {
      byName = new Map()
      this.#slots.set(host, byName)
    }
    for (const name in values) {
      let slots = byName.get(name)
      if (!slots) {
        slots = this.#slotsFor(host, name)
        byName.set(name, slots)
      }
      if (slots.length === 0) continue
      const v = values[name] as number
      for (const slot of slots) this.#sample(slot, v, now, out)
    }
  }

  #slotsFor(host: string, name: string): Slot[] {
    const slots: Slot[] = []
    for (const c of this.#rules) {
      if (c.rule.kind !== 'metric' || !c.metric(name) || !c.hosts(host)) continue
      slots.push({ c, key: keyOf(c.rule.name, host, name), host, series: name, window: null })
    }
    return slots
  }

  #sample(slot: Slot, v: number, now: number, out: Change[]): void {
    const rule = slot.c.rule
    if (rule.kind !== 'metric' || !Number.isFinite(v)) return
    let x = v
    if (rule.aggregate) {
      slot.window ??= { t: [], v: [] }
      x = aggregate(slot.window, rule.aggregate.fn, rule.aggregate.windowMs, now, v)
    }
    const live = this.#alerts.get(slot.key)
    const firing = live?.rec.state === 'firing'
    const holds = breaches(rule.op, x, firing ? (rule.clearThreshold ?? rule.threshold) : rule.threshold)
    if (!live && !holds) return
    this.#observe(slot.c, slot.key, slot.host, slot.series, holds, x, rule.threshold, now, out)
  }

  /**
   * A look at a condition: it holds (`value` over the threshold, a host offline, a fault) or it does not. Moves the
   * alert through pending → firing → resolved by the rule's `forMs` and `keepFiringMs`.
   */
  #observe(
    c: Compiled,
    key: string,
    host: string,
    series: string,
    holds: boolean,
    value: number | null,
    threshold: number | null,
    now: number,
    out: Change[],
    since = now,
  ): void {
    let live = this.#alerts.get(key)
    if (live) live.rec.value = value
    if (holds) {
      if (live?.rec.state === 'firing') {
        live.clearSince = null
        return
      }
      if (live?.rec.state === 'pending') {
        live.holds = true
        if (now - live.rec.since >= c.forMs) out.push(this.#fire(live, now))
        return
      }
      if (!live) {
        live = { rec: newRecord(c.rule, host, series, threshold, now), holds: true, clearSince: null }
        this.#alerts.set(key, live)
      }
      live.holds = true
      live.rec.value = value
      out.push(move(live, 'pending', since, value))
      if (now - since >= c.forMs) out.push(this.#fire(live, now))
      return
    }
    if (!live) return
    live.holds = false
    const state = live.rec.state
    if (state === 'pending') {
      out.push(this.#drop(key, live, now))
      return
    }
    if (state !== 'firing') return
    live.clearSince ??= now
    if (now - live.clearSince >= c.keepFiringMs) out.push(this.#resolve(live, now))
  }

  #fire(live: Live, now: number): Change {
    live.rec.episode++
    live.rec.startsAt = now
    live.rec.endsAt = null
    live.rec.repeats = 0
    live.clearSince = null
    return move(live, 'firing', now, live.rec.value)
  }

  #resolve(live: Live, now: number): Change {
    live.rec.endsAt = now
    live.clearSince = null
    return move(live, 'resolved', now, live.rec.value)
  }

  /** A pending alert whose condition went before it fired: back to resolved, or gone if it never fired. */
  #drop(key: string, live: Live, now: number): Change {
    if (live.rec.episode === 0) {
      this.#alerts.delete(key)
      return { alert: live.rec, view: snapshot(live.rec), from: 'pending', to: null }
    }
    return move(live, 'resolved', live.rec.endsAt ?? now, live.rec.value)
  }

  /** Ends an alert whose rule is gone or whose subject went: resolves a firing one, drops a pending one. */
  #end(live: Live, now: number): Change | null {
    const key = keyOf(live.rec.rule, live.rec.host, live.rec.series)
    if (live.rec.state === 'firing') return this.#resolve(live, now)
    if (live.rec.state === 'pending') return this.#drop(key, live, now)
    this.#alerts.delete(key)
    return null
  }

  /** A host came online or went offline (agent hosts only: the hub's own host is never offline to itself). */
  host(host: string, online: boolean, at: number, now: number, out: Change[]): void {
    for (const c of this.#rules) {
      if (c.rule.kind !== 'host.offline' || !c.hosts(host)) continue
      this.#observe(c, keyOf(c.rule.name, host, ''), host, '', !online, null, null, now, out, online ? now : at)
    }
  }

  /** A job changed: one that ends failed or lost fires its rules at once; the next success resolves them. */
  job(job: Pick<Job, 'id' | 'name' | 'host' | 'labels' | 'state' | 'exitCode'>, now: number, out: Change[]): void {
    const failed = job.state === 'failed' || job.state === 'lost'
    if (!failed && job.state !== 'succeeded') return
    for (const c of this.#rules) {
      const rule = c.rule
      if (rule.kind !== 'job.failed' || !c.job(job.name) || !c.hosts(job.host)) continue
      if (!labelsMatch(rule.jobLabels, job.labels)) continue
      const key = keyOf(rule.name, job.host, job.name)
      this.#observe(c, key, job.host, job.name, failed, job.exitCode, null, now, out)
      // The notice names the job that failed
      const live = this.#alerts.get(key)
      if (live && failed) live.rec.labels = { ...rule.labels, jobId: job.id }
    }
  }

  /** The hub's faults now, by component: each one is an alert of every `hub.degraded` rule. */
  health(host: string, faults: ReadonlySet<string>, now: number, out: Change[]): void {
    for (const c of this.#rules) {
      if (c.rule.kind !== 'hub.degraded') continue
      for (const component of faults) {
        this.#observe(c, keyOf(c.rule.name, host, component), host, component, true, null, null, now, out)
      }
      for (const [key, live] of this.#alerts) {
        const r = live.rec
        if (r.rule !== c.rule.name || r.host !== host || faults.has(r.series)) continue
        this.#observe(c, key, host, r.series, false, null, null, now, out)
      }
    }
  }

  /** What only time moves: a pending alert whose condition still holds past `forMs`, a firing one past `keepFiringMs`. */
  sweep(now: number, out: Change[]): void {
    if (this.#alerts.size === 0) return
    for (const live of this.#alerts.values()) {
      const c = this.#byName.get(live.rec.rule)
      if (!c) continue
      if (live.rec.state === 'pending' && live.holds && now - live.rec.since >= c.forMs) out.push(this.#fire(live, now))
      else if (live.rec.state === 'firing' && live.clearSince !== null && now - live.clearSince >= c.keepFiringMs) {
        out.push(this.#resolve(live, now))
      }
    }
  }
}

/** A copy that later changes to the alert do not touch. */
export function snapshot(a: AlertRecord): AlertRecord {
  return { ...a, labels: { ...a.labels }, history: a.history.slice() }
}

function keyOf(rule: string, host: string, series: string): string {
  return `${rule}\0${host}\0${series}`
}

function newRecord(rule: AlertRule, host: string, series: string, threshold: number | null, now: number): AlertRecord {
  return {
    id: alertId(rule.name, host, series),
    rule: rule.name,
    kind: rule.kind,
    host,
    series,
    state: 'pending',
    severity: rule.severity,
    value: null,
    threshold,
    since: now,
    startsAt: null,
    endsAt: null,
    episode: 0,
    notifiedEpisode: 0,
    notifiedAt: null,
    repeats: 0,
    labels: { ...rule.labels },
    history: [],
    updatedAt: now,
  }
}

function move(live: Live, to: AlertState, at: number, value: number | null): Change {
  const from = live.rec.state === 'pending' && live.rec.episode === 0 && to === 'pending' ? null : live.rec.state
  live.rec.state = to
  live.rec.since = at
  live.rec.updatedAt = at
  live.rec.history.push({ state: to, at, value })
  if (live.rec.history.length > HISTORY) live.rec.history.splice(0, live.rec.history.length - HISTORY)
  return { alert: live.rec, view: snapshot(live.rec), from, to }
}

/** Adds a sample to a window, drops what fell out of it, and answers the window's avg, min or max. */
function aggregate(
  w: { t: number[]; v: number[] },
  fn: 'avg' | 'min' | 'max',
  windowMs: number,
  now: number,
  v: number,
) {
  w.t.push(now)
  w.v.push(v)
  let drop = 0
  while (drop < w.t.length - 1 && (w.t[drop] as number) <= now - windowMs) drop++
  if (drop > 0) {
    w.t.splice(0, drop)
    w.v.splice(0, drop)
  }
  let acc = fn === 'avg' ? 0 : (w.v[0] as number)
  for (const x of w.v) acc = fn === 'avg' ? acc + x : fn === 'min' ? Math.min(acc, x) : Math.max(acc, x)
  return fn === 'avg' ? acc / w.v.length : acc
}
