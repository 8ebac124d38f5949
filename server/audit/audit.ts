import { desc, lt } from 'drizzle-orm'
import { audit } from '../../db/schema.ts'
import type { Bus } from '../bus/index.ts'
import type { AuditEntry } from '../protocol/index.ts'
import type { Db } from '../store/index.ts'

const SECRET_KEY = /token|secret|password|authorization|cookie/i
const MAX_ARGS_CHARS = 2000

/** Arguments as the audit keeps them: secrets replaced, long values cut. */
export function redact(args: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(args)) {
    if (k === 'id' || k === 'type') continue
    out[k] = SECRET_KEY.test(k) ? '[redacted]' : v
  }
  return out
}

export type NewAuditEntry = Omit<AuditEntry, 'id' | 'ts'>

/** The append-only audit log: a row per command, and an `audit` event for live viewers. */
export class Audit {
  readonly #db: Db
  readonly #bus: Bus

  constructor(db: Db, bus: Bus) {
    this.#db = db
    this.#bus = bus
  }

  record(entry: NewAuditEntry): AuditEntry {
    let args = JSON.stringify(entry.args ?? {})
    if (args.length > MAX_ARGS_CHARS) args = JSON.stringify({ truncated: args.slice(0, MAX_ARGS_CHARS) })
    const ts = Date.now()
    const row = this.#db.db
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
      .get()
    const full: AuditEntry = { ...entry, args: JSON.parse(args), id: row.id, ts }
    this.#bus.publish('audit', 'audit', full)
    return full
  }

  /** Newest first, at most `limit`, older than the entry `before` when given. */
  list(limit: number, before?: number): AuditEntry[] {
    const rows = this.#db.db
      .select()
      .from(audit)
      .where(before === undefined ? undefined : lt(audit.id, before))
      .orderBy(desc(audit.id))
      .limit(limit)
      .all()
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
