import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3'
import * as sqliteTables from '../../db/schema.ts'
import type { Db } from './db.ts'
import type { PgDb } from './pg-db.ts'

/** The features' tables: tokens, sessions, audit, settings, hosts, jobs and their logs. */
export type Tables = typeof sqliteTables

/**
 * The database the features keep their own rows in (tokens, audit, settings, hosts, jobs), on either backend.
 * Their queries are written once with drizzle's query builder and awaited: it has the same shape on both dialects,
 * and `pg.cluster.test.ts` proves the two schemas have the same tables and columns, so the PostgreSQL tables are
 * typed as their SQLite twins. What differs (a batch in one transaction, a unique violation) is asked of `kind`.
 * Results are awaited arrays: never SQLite's `.get()`, `.all()` or `.run()`, which PostgreSQL does not have.
 */
export interface Sql {
  readonly kind: 'sqlite' | 'postgres'
  readonly db: BetterSQLite3Database
  readonly t: Tables
  /** The SQLite connection, for what only SQLite does (a batch in one synchronous transaction); null on PostgreSQL. */
  readonly sqlite: Db | null
  /** The PostgreSQL pool, for what only PostgreSQL does (a batch in one statement); null on SQLite. */
  readonly pg: PgDb | null
}

export function sqliteSql(db: Db): Sql {
  return { kind: 'sqlite', db: db.db, t: sqliteTables, sqlite: db, pg: null }
}

/** Loaded with the pool (see `openPgDb`): the pg-core tables cost nothing to the embedded default. */
export async function pgSql(pg: PgDb): Promise<Sql> {
  const pgTables = await import('../../db/schema.pg.ts')
  return {
    kind: 'postgres',
    db: pg.db as unknown as BetterSQLite3Database,
    t: pgTables as unknown as Tables,
    sqlite: null,
    pg,
  }
}

/**
 * The database's code for a failure (`23505`, `SQLITE_FULL`, `ECONNREFUSED`), on the error or on the driver error
 * drizzle wrapped in it. A code is safe to show; the message is not, as drizzle's quotes the query's values.
 */
export function dbErrorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null
  const code = e?.code ?? e?.cause?.code
  return typeof code === 'string' ? code : undefined
}

/** Whether an error is a unique-constraint violation, on either backend. */
export function isUniqueViolation(err: unknown): boolean {
  const code = dbErrorCode(err)
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || String(err).includes('UNIQUE constraint failed')
}

/** Error codes of a database that is not there: refused or dropped connections, a server shutting down. */
const DOWN_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
  '08006',
  '08001',
])

/**
 * Whether an error means the database cannot be reached now (PostgreSQL down or restarting), not that the
 * request was wrong: answered 503 `unavailable`, to be tried again.
 */
export function isStorageDown(err: unknown): boolean {
  const code = dbErrorCode(err)
  if (code !== undefined && DOWN_CODES.has(code)) return true
  const message = (err as { message?: unknown } | null)?.message
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect/i.test(String(message ?? ''))
}

/** A statement built but not run: SQLite runs it with `run()`, PostgreSQL by awaiting it. */
interface Statement {
  run(): unknown
}

/**
 * Runs the statements `build` makes in one transaction, on either backend: all of them are committed or none.
 * `build` gets the handle to build them on (on PostgreSQL, the transaction's own connection).
 */
export async function transaction(sql: Sql, build: (db: BetterSQLite3Database) => readonly Statement[]): Promise<void> {
  if (sql.sqlite) {
    const { db } = sql
    sql.sqlite.sqlite.transaction(() => {
      for (const q of build(db)) q.run()
    })()
    return
  }
  await sql.pg?.db.transaction(async (tx) => {
    for (const q of build(tx as unknown as BetterSQLite3Database)) await (q as unknown as PromiseLike<unknown>)
  })
}
