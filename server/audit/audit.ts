import { desc, lt } from 'drizzle-orm'
import type { HubBus } from '../bus/index.ts'
import type { AuditEntry } from '../protocol/index.ts'
import type { Sql } from '../store/index.ts'

/**
 * Argument names whose values the audit never keeps: credentials, and a notification channel's `url` and
 * `headers` (a webhook URL is itself the secret that lets anyone post to it).
 */
const SECRET_KEY = /token|secret|password|authorization|cookie|^url$|^headers$/i
const MAX_ARGS_CHARS = 2000
/** Nesting past this is kept as a marker: arguments are small, a deeper value is not worth walking. */
const MAX_DEPTH = 8

function redactValue(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object') return value
  if (depth >= MAX_DEPTH) return '[too deep]'
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1))
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? '[redacted]' : redactValue(v, depth + 1)
  return out
}

/**
 * Arguments as the audit keeps them: secrets replaced at any depth, whatever the command and its outcome (an
 * unknown or refused command's arguments are kept too, so they are redacted the same way).
 */
export function redact(args: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(args)) {
    if (k === 'id' || k === 'type') continue
    out[k] = SECRET_KEY.test(k) ? '[redacted]' : redactValue(v, 1)
  }
  return out
}

export type NewAuditEntry = Omit<AuditEntry, 'id' | 'ts'>

/** The append-only audit log: a row per command, and an `audit` event for live viewers. */
export class Audit {
  readonly #sql: Sql
  readonly #bus: HubBus

  constructor(sql: Sql, bus: HubBus) {
    this.#sql = sql
    this.#bus = bus
  }

  /** Stores the entry, then streams it: it resolves once the row is committed. */
  async record(entry: NewAuditEntry): Promise<AuditEntry> {
    const { audit } = this.#sql.t
    let args = JSON.stringify(entry.args ?? {})
    if (args.length > MAX_ARGS_CHARS) args = JSON.stringify({ truncated: args.slice(0, MAX_ARGS_CHARS) })
    const ts = Date.now()
    const [row] = await this.#sql.db
      .insert(audit)
      .values({
        ts,
        actorName: entry.actor,
        actorRole: entry.role,
        remote: entry.remote,
        command: entry.command,
        args,
        outcome: entry.outcome,
        errorCode: entry.errorCode,
      })
      .returning({ id: audit.id })
    if (!row) throw new Error('the audit row was not written')
    const full: AuditEntry = { ...entry, args: JSON.parse(args), id: row.id, ts }
    this.#bus.publish('audit', 'audit', full)
    return full
  }

  /** Newest first, at most `limit`, older than the entry `before` when given. */
  async list(limit: number, before?: number): Promise<AuditEntry[]> {
    const { audit } = this.#sql.t
    const rows = await this.#sql.db
      .select()
      .from(audit)
      .where(before === undefined ? undefined : lt(audit.id, before))
      .orderBy(desc(audit.id))
      .limit(limit)
    return rows.map((r) => ({
      id: r.id,
      ts: r.ts,
      actor: r.actorName,
      role: r.actorRole,
      remote: r.remote,
      command: r.command,
      args: JSON.parse(r.args),
      outcome: r.outcome,
      errorCode: r.errorCode,
    }))
  }
}
