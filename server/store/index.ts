export { type Db, openDb } from './db.ts'
export { LATE_MS } from './history.ts'
export { type EventLog, eventLog, type ReplayBatch } from './log.ts'
export { openSqliteStore, type SqliteStoreOptions } from './sqlite.ts'
export type { Cursor, NamedSample, SeriesRange, StorageStats, Store, StoredEvent, TickIn, TierStats } from './store.ts'
export { RetryingWriter, type RetryingWriterOptions } from './writer.ts'

import type { PgDb, PgDbOptions } from './pg-db.ts'

export type { PgDb, PgDbOptions }

/**
 * Opens PostgreSQL (`VIGIL_DATABASE_URL`), migrated. Loaded on first use: node-postgres and drizzle's pg dialect
 * cost about 20 MiB and 100 ms at start, which the embedded default (SQLite) never pays.
 */
export async function openPgDb(url: string, opts?: PgDbOptions): Promise<PgDb> {
  return (await import('./pg-db.ts')).openPgDb(url, opts)
}
