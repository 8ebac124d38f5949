import { and, asc, desc, eq, gt, inArray, isNull, lt, lte, ne, type SQL } from 'drizzle-orm'
import type {
  AlertRecord,
  AlertState,
  NotificationStatus,
  NotificationView,
  Severity,
  Silence,
} from '../protocol/index.ts'
import { type Sql, type Tables, transaction } from '../store/index.ts'
import type { Notice } from './formats.ts'
import type { Attempt } from './send.ts'

/** A notice to queue for one channel, with the key every attempt carries. */
export interface NewNotification {
  alertId: string
  channel: string
  key: string
  notice: Notice
}

/** An outbox row as the deliverer takes it. */
export interface Due {
  id: number
  alertId: string
  channel: string
  key: string
  notice: Notice
  attempts: number
  createdAt: number
}

export interface AlertFilter {
  state?: AlertState | undefined
  host?: string | undefined
  rule?: string | undefined
  limit: number
}

type AlertRow = Tables['alerts']['$inferSelect']

/**
 * Where alerts, their notification outbox, delivery attempts and silences are kept, on either backend. A state
 * change and the notices it queues are written in one transaction.
 */
export class AlertRecords {
  readonly #sql: Sql

  constructor(sql: Sql) {
    this.#sql = sql
  }

  /** Writes alerts as they now are, deletes those gone, and queues notices: all in one transaction. */
  async commit(
    records: readonly AlertRecord[],
    gone: readonly string[],
    notices: readonly NewNotification[],
    now: number,
  ) {
    const { alerts, alertNotifications } = this.#sql.t
    await transaction(this.#sql, (db) => [
      ...records.map((r) => {
        const row = toRow(r)
        const { id: _, ...set } = row
        return db.insert(alerts).values(row).onConflictDoUpdate({ target: alerts.id, set })
      }),
      ...(gone.length > 0 ? [db.delete(alerts).where(inArray(alerts.id, [...gone]))] : []),
      ...notices.map((n) =>
        db
          .insert(alertNotifications)
          .values({
            alertId: n.alertId,
            channel: n.channel,
            key: n.key,
            state: n.notice.state,
            body: JSON.stringify(n.notice),
            status: 'pending',
            attempts: 0,
            nextAt: now,
            createdAt: now,
          })
          .onConflictDoNothing(),
      ),
    ])
  }

  /**
   * Deletes resolved alerts unchanged since `before`, and delivered or failed notifications (with their attempts)
   * created before it. Answers the ids of the alerts deleted.
   */
  async prune(before: number): Promise<string[]> {
    const { alerts, alertNotifications: n, alertAttempts: at } = this.#sql.t
    const old = await this.#sql.db
      .select({ id: n.id })
      .from(n)
      .where(and(ne(n.status, 'pending'), lt(n.createdAt, before)))
      .limit(10_000)
    const ids = old.map((r) => r.id)
    if (ids.length > 0) {
      await transaction(this.#sql, (db) => [
        db.delete(at).where(inArray(at.notificationId, ids)),
        db.delete(n).where(inArray(n.id, ids)),
      ])
    }
    const gone = await this.#sql.db
      .delete(alerts)
      .where(and(eq(alerts.state, 'resolved'), lt(alerts.updatedAt, before)))
      .returning({ id: alerts.id })
    return gone.map((r) => r.id)
  }

  /** Every stored alert: what an evaluator starts from. */
  async all(): Promise<AlertRecord[]> {
    return (await this.#sql.db.select().from(this.#sql.t.alerts)).map(fromRow)
  }

  /** Alerts by the filter: firing first, then pending, then the most recently changed. */
  async list(f: AlertFilter): Promise<AlertRecord[]> {
    const { alerts: t } = this.#sql.t
    const where: SQL[] = []
    if (f.state) where.push(eq(t.state, f.state))
    if (f.host) where.push(eq(t.host, f.host))
    if (f.rule) where.push(eq(t.rule, f.rule))
    const rows = await this.#sql.db
      .select()
      .from(t)
      .where(and(...where))
      .orderBy(desc(t.updatedAt))
      .limit(f.limit)
    const rank = { firing: 0, pending: 1, resolved: 2 } as const
    return rows.map(fromRow).sort((a, b) => rank[a.state] - rank[b.state])
  }

  /** Pending notifications due by `now`, oldest first. */
  async due(now: number, limit: number): Promise<Due[]> {
    const { alertNotifications: t } = this.#sql.t
    const rows = await this.#sql.db
      .select()
      .from(t)
      .where(and(eq(t.status, 'pending'), lte(t.nextAt, now)))
      .orderBy(asc(t.nextAt), asc(t.id))
      .limit(limit)
    return rows.map((r) => ({
      id: r.id,
      alertId: r.alertId,
      channel: r.channel,
      key: r.key,
      notice: JSON.parse(r.body) as Notice,
      attempts: r.attempts,
      createdAt: r.createdAt,
    }))
  }

  /**
   * Records one attempt and what follows from it: delivered, another try at `nextAt`, or failed for good (`nextAt`
   * null). One transaction.
   */
  async attempted(n: Due, a: Attempt, at: number, nextAt: number | null): Promise<void> {
    const { alertNotifications: t, alertAttempts } = this.#sql.t
    const status: NotificationStatus = a.ok ? 'delivered' : nextAt === null ? 'failed' : 'pending'
    await transaction(this.#sql, (db) => [
      db
        .insert(alertAttempts)
        .values({ notificationId: n.id, at, ok: a.ok, status: a.status, error: a.error, ms: a.ms }),
      db
        .update(t)
        .set({
          status,
          attempts: n.attempts + 1,
          nextAt: nextAt ?? at,
          deliveredAt: a.ok ? at : null,
          lastError: a.ok ? null : a.error,
        })
        .where(eq(t.id, n.id)),
    ])
  }

  /** An alert's notifications, newest first, each with its attempts in order. */
  async notifications(alertId: string | undefined, limit: number): Promise<NotificationView[]> {
    const { alertNotifications: t, alertAttempts: at } = this.#sql.t
    const rows = await this.#sql.db
      .select()
      .from(t)
      .where(alertId === undefined ? undefined : eq(t.alertId, alertId))
      .orderBy(desc(t.id))
      .limit(limit)
    const ids = rows.map((r) => r.id)
    const attempts =
      ids.length === 0
        ? []
        : await this.#sql.db.select().from(at).where(inArray(at.notificationId, ids)).orderBy(asc(at.id))
    const byNotification = new Map<number, NotificationView['attempts']>()
    for (const a of attempts) {
      const one = { at: a.at, ok: a.ok, status: a.status, error: a.error, ms: a.ms }
      const list = byNotification.get(a.notificationId)
      if (list) list.push(one)
      else byNotification.set(a.notificationId, [one])
    }
    return rows.map((r) => ({
      id: r.id,
      alertId: r.alertId,
      channel: r.channel,
      key: r.key,
      state: r.state as Notice['state'],
      status: r.status as NotificationStatus,
      attempts: byNotification.get(r.id) ?? [],
      nextAt: r.status === 'pending' ? r.nextAt : null,
      createdAt: r.createdAt,
      deliveredAt: r.deliveredAt,
      lastError: r.lastError,
    }))
  }

  async addSilence(s: Silence): Promise<void> {
    await this.#sql.db.insert(this.#sql.t.alertSilences).values({ ...s, matchers: JSON.stringify(s.matchers) })
  }

  /** Ends a silence now; false when there is no such silence still on. */
  async endSilence(id: string, by: string, now: number): Promise<boolean> {
    const { alertSilences: t } = this.#sql.t
    const ended = await this.#sql.db
      .update(t)
      .set({ endsAt: now, endedBy: by })
      .where(and(eq(t.id, id), gt(t.endsAt, now)))
      .returning({ id: t.id })
    return ended.length > 0
  }

  /** Silences still on at `now`, soonest end first. */
  async activeSilences(now: number): Promise<Silence[]> {
    const { alertSilences: t } = this.#sql.t
    return (await this.#sql.db.select().from(t).where(gt(t.endsAt, now)).orderBy(asc(t.endsAt))).map(silenceOf)
  }

  /** Silences on now and those that ended in the last `recentMs`, newest end first. */
  async silences(now: number, recentMs: number): Promise<Silence[]> {
    const { alertSilences: t } = this.#sql.t
    const rows = await this.#sql.db
      .select()
      .from(t)
      .where(gt(t.endsAt, now - recentMs))
      .orderBy(desc(t.endsAt))
    return rows.map(silenceOf)
  }

  /** Silences that ended and whose end nobody handled yet (audited, held-back alerts notified). */
  async endedUnclosed(now: number): Promise<Silence[]> {
    const { alertSilences: t } = this.#sql.t
    const rows = await this.#sql.db
      .select()
      .from(t)
      .where(and(lte(t.endsAt, now), isNull(t.closedAt)))
    return rows.map(silenceOf)
  }

  /** Marks a silence's end handled; false when another hub already did. */
  async closeSilence(id: string, now: number): Promise<boolean> {
    const { alertSilences: t } = this.#sql.t
    const closed = await this.#sql.db
      .update(t)
      .set({ closedAt: now })
      .where(and(eq(t.id, id), isNull(t.closedAt)))
      .returning({ id: t.id })
    return closed.length > 0
  }
}

function silenceOf(r: Tables['alertSilences']['$inferSelect']): Silence {
  return {
    id: r.id,
    matchers: JSON.parse(r.matchers) as Silence['matchers'],
    reason: r.reason,
    createdBy: r.createdBy,
    startsAt: r.startsAt,
    endsAt: r.endsAt,
    endedBy: r.endedBy,
  }
}

function toRow(r: AlertRecord): AlertRow {
  return { ...r, labels: JSON.stringify(r.labels), history: JSON.stringify(r.history) }
}

function fromRow(r: AlertRow): AlertRecord {
  return {
    ...r,
    kind: r.kind as AlertRecord['kind'],
    state: r.state as AlertState,
    severity: r.severity as Severity,
    labels: JSON.parse(r.labels) as Record<string, string>,
    history: JSON.parse(r.history) as AlertRecord['history'],
  }
}
