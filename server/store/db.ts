import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { type BetterSQLite3Database, drizzle } from 'drizzle-orm/better-sqlite3'
import { migrate } from 'drizzle-orm/better-sqlite3/migrator'
import { MIGRATIONS_DIR } from '../paths.ts'

/** One connection to `vigil.db`, shared by every feature of a process. */
export interface Db {
  file: string
  sqlite: Database.Database
  db: BetterSQLite3Database
}

/**
 * Opens (creating if needed) `vigil.db` in the data dir in WAL mode and applies pending migrations. The hub and
 * the `vigil token` commands each open their own; WAL lets them work on the same file at once.
 */
export function openDb(dataDir: string, opts: { busyTimeoutMs?: number } = {}): Db {
  mkdirSync(dataDir, { recursive: true })
  const file = join(dataDir, 'vigil.db')
  const sqlite = new Database(file)
  sqlite.pragma('journal_mode = WAL')
  // WAL + NORMAL: a power cut can lose the last commits but never corrupts the file
  sqlite.pragma('synchronous = NORMAL')
  // better-sqlite3 waits for a lock on the calling thread: the hub keeps this short and retries later instead
  sqlite.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 5000}`)
  const db = drizzle({ client: sqlite })
  migrate(db, { migrationsFolder: MIGRATIONS_DIR })
  return { file, sqlite, db }
}
