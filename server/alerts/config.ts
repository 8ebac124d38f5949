import { eq } from 'drizzle-orm'
import { AppError } from '../errors.ts'
import {
  AlertChannel,
  AlertRule,
  ChannelKind,
  type ChannelTestResult,
  type ChannelView,
  type RuleView,
  Severity,
} from '../protocol/index.ts'
import { dbErrorCode, type Sql, type Tables } from '../store/index.ts'
import { send, testNotice } from './send.ts'

/**
 * Alert rules and notification channels: durable desired state, by name, on either backend. A rule may only
 * name channels that exist, and a channel a rule names cannot be deleted.
 */
export class AlertConfig {
  readonly #sql: Sql
  readonly #dashboardUrl: () => string
  readonly #changed: (what: 'rules' | 'channels', name: string) => void

  /**
   * `dashboardUrl` is where a notice's link points: the hub's own URL, known once it listens. `changed` is told
   * of every rule or channel stored or deleted, once it is committed.
   */
  constructor(sql: Sql, dashboardUrl: () => string, changed: (what: 'rules' | 'channels', name: string) => void) {
    this.#sql = sql
    this.#dashboardUrl = dashboardUrl
    this.#changed = changed
  }

  /** Creates or replaces the rule of that name. */
  async setRule(rule: AlertRule, by: string, now = Date.now()): Promise<RuleView> {
    const { alertRules } = this.#sql.t
    const { alertChannels } = this.#sql.t
    const names = await this.#sql.db.select({ name: alertChannels.name }).from(alertChannels)
    const known = new Set(names.map((c) => c.name))
    const unknown = (rule.channels ?? []).filter((c) => !known.has(c))
    if (unknown.length > 0) throw new AppError('invalid', `channels: no channel ${unknown.join(', ')}`)
    const row = { name: rule.name, kind: rule.kind, spec: JSON.stringify(rule), updatedAt: now, updatedBy: by }
    await this.#sql.db
      .insert(alertRules)
      .values(row)
      .onConflictDoUpdate({
        target: alertRules.name,
        set: { kind: row.kind, spec: row.spec, updatedAt: now, updatedBy: by },
      })
    this.#changed('rules', rule.name)
    return { rule, updatedAt: now, updatedBy: by }
  }

  async deleteRule(name: string): Promise<{ deleted: string }> {
    const { alertRules } = this.#sql.t
    const gone = await this.#sql.db
      .delete(alertRules)
      .where(eq(alertRules.name, name))
      .returning({ name: alertRules.name })
    if (gone.length === 0) throw new AppError('not_found', `No alert rule ${name}`)
    this.#changed('rules', name)
    return { deleted: name }
  }

  /** Every rule, by name. A stored rule this version no longer reads is left out rather than failing the read. */
  async rules(): Promise<RuleView[]> {
    const { alertRules } = this.#sql.t
    const rows = await this.#sql.db.select().from(alertRules).orderBy(alertRules.name)
    return rows.flatMap((r) => {
      const rule = AlertRule.safeParse(JSON.parse(r.spec))
      return rule.success ? [{ rule: rule.data, updatedAt: r.updatedAt, updatedBy: r.updatedBy }] : []
    })
  }

  /** Creates or replaces the channel of that name; answers with what reads show of it. */
  async setChannel(channel: AlertChannel, by: string, now = Date.now()): Promise<ChannelView> {
    const { alertChannels } = this.#sql.t
    const row = {
      name: channel.name,
      kind: channel.kind,
      url: channel.url,
      headers: channel.headers ? JSON.stringify(channel.headers) : null,
      minSeverity: channel.minSeverity,
      updatedAt: now,
      updatedBy: by,
    }
    const { name: _, ...set } = row
    try {
      await this.#sql.db.insert(alertChannels).values(row).onConflictDoUpdate({ target: alertChannels.name, set })
    } catch (err) {
      // A failed query's error carries its parameters, the URL among them: it must reach no log
      throw new AppError(
        'unavailable',
        `Could not store the channel ${channel.name}: ${dbErrorCode(err) ?? 'database error'}`,
      )
    }
    this.#changed('channels', channel.name)
    return view(row)
  }

  async deleteChannel(name: string): Promise<{ deleted: string }> {
    const users = (await this.rules()).filter((r) => r.rule.channels?.includes(name)).map((r) => r.rule.name)
    if (users.length > 0) throw new AppError('conflict', `Channel ${name} is used by rule ${users.join(', ')}`)
    const { alertChannels } = this.#sql.t
    const gone = await this.#sql.db
      .delete(alertChannels)
      .where(eq(alertChannels.name, name))
      .returning({ name: alertChannels.name })
    if (gone.length === 0) throw new AppError('not_found', `No alert channel ${name}`)
    this.#changed('channels', name)
    return { deleted: name }
  }

  /** Sends the channel a test notice now, once, and answers with how it went (not queued, not retried). */
  async testChannel(name: string, now = Date.now()): Promise<ChannelTestResult> {
    const channel = await this.channel(name)
    if (!channel) throw new AppError('not_found', `No alert channel ${name}`)
    const attempt = await send(channel, testNotice(name, this.#dashboardUrl(), now), `test:${name}:${now}`)
    return { channel: name, delivered: attempt.ok, status: attempt.status, error: attempt.error, ms: attempt.ms }
  }

  /** Every channel by name, as reads show them. */
  async channels(): Promise<ChannelView[]> {
    const { alertChannels } = this.#sql.t
    return (await this.#sql.db.select().from(alertChannels).orderBy(alertChannels.name)).map(view)
  }

  /** A channel whole, its URL and headers included: for sending only, never for a read. */
  async channel(name: string): Promise<AlertChannel | null> {
    const { alertChannels } = this.#sql.t
    const [row] = await this.#sql.db.select().from(alertChannels).where(eq(alertChannels.name, name))
    if (!row) return null
    const parsed = AlertChannel.safeParse({
      name: row.name,
      kind: row.kind,
      url: row.url,
      minSeverity: row.minSeverity,
      ...(row.headers ? { headers: JSON.parse(row.headers) } : {}),
    })
    return parsed.success ? parsed.data : null
  }
}

function view(row: Tables['alertChannels']['$inferSelect']): ChannelView {
  return {
    name: row.name,
    kind: ChannelKind.parse(row.kind),
    urlHost: new URL(row.url).host,
    // Header names only: their values (an ntfy token, a bearer) are secrets like the URL
    headers: row.headers ? Object.keys(JSON.parse(row.headers) as Record<string, string>) : [],
    minSeverity: Severity.parse(row.minSeverity),
    updatedAt: row.updatedAt,
    updatedBy: row.updatedBy,
  }
}
