export { type Db, openDb } from './db.ts'
export { type EventLog, eventLog, type ReplayBatch } from './log.ts'
export { openSqliteStore, type SqliteStoreOptions } from './sqlite.ts'
export type { Cursor, NamedSample, SeriesRange, StorageStats, Store, StoredEvent, TickIn, TierStats } from './store.ts'
export { LATE_MS } from './tiers.ts'
export { RetryingWriter, type RetryingWriterOptions } from './writer.ts'

import type { PgStoreOptions } from './pg.ts'
import type { PgDb, PgDbOptions } from './pg-db.ts'
import type { Store as StoreType } from './store.ts'

export type { PgDb, PgDbOptions, PgStoreOptions }

/**
 * Opens PostgreSQL (`VIGIL_DATABASE_URL`), migrated. Loaded on first use: node-postgres and drizzle's pg dialect
 * cost about 20 MiB and 100 ms at start, which the embedded default (SQLite) never pays.
 */
export async function openPgDb(url: string, opts?: PgDbOptions): Promise<PgDb> {
  return (await import('./pg-db.ts')).openPgDb(url, opts)
}

/** The metric store on PostgreSQL, loaded on first use like the pool it runs on. */
export async function openPgStore(opts: PgStoreOptions): Promise<StoreType> {
  return (await import('./pg.ts')).openPgStore(opts)
}
export {
  dbErrorCode,
  isStorageDown,
  isUniqueViolation,
  pgSql,
  type Sql,
  sqliteSql,
  type Tables,
  transaction,
} from './sql.ts'
