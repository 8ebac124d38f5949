import { and, eq, isNull, sql } from 'drizzle-orm'
import { tokens } from '../../db/schema.pg.ts'
import type { PgDb } from '../store/index.ts'
import { infoColumns, mintToken, nameTaken, type TokenAdmin } from './tokens.ts'

/**
 * The PostgreSQL channel a revocation is announced on, with the token's id as the payload. The notification is
 * sent by the revoking transaction, so a listener hears it only once the revocation is committed.
 */
export const TOKENS_CHANNEL = 'vigil_tokens'

/** `vigil token` against PostgreSQL (`VIGIL_DATABASE_URL`): the same tokens as on SQLite, stored hashed. */
export function pgTokenAdmin(pg: PgDb): TokenAdmin {
  const { db } = pg
  return {
    async create(role, name) {
      const minted = mintToken(role, name)
      try {
        const [row] = await db
          .insert(tokens)
          .values({ name: minted.name, role, hash: minted.hash, createdAt: Date.now() })
          .returning({ id: tokens.id })
        if (!row) throw new Error('the insert returned no row')
        return { name: minted.name, role, token: minted.token, id: row.id }
      } catch (err) {
        if (uniqueViolation(err)) throw nameTaken(minted.name)
        throw err
      }
    },
    list: () => db.select(infoColumns(tokens)).from(tokens).orderBy(tokens.id),
    revoke: (name) =>
      db.transaction(async (tx) => {
        const rows = await tx
          .update(tokens)
          .set({ revokedAt: Date.now() })
          .where(and(eq(tokens.name, name), isNull(tokens.revokedAt)))
          .returning({ id: tokens.id })
        for (const r of rows) await tx.execute(sql`SELECT pg_notify(${TOKENS_CHANNEL}, ${String(r.id)})`)
        return rows.length > 0
      }),
    close: () => pg.close(),
  }
}

/** PostgreSQL's unique_violation, as node-postgres reports it (drizzle wraps it as the cause). */
function uniqueViolation(err: unknown): boolean {
  for (let e = err as { code?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === '23505') return true
  }
  return false
}
