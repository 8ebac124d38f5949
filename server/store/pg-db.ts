import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres'
import { migrate } from 'drizzle-orm/node-postgres/migrator'
import pg from 'pg'
import { redactUrl } from '../log.ts'
import { PG_MIGRATIONS_DIR } from '../paths.ts'

/**
 * The advisory lock key that serializes migrations: every hub and `vigil token` command that opens the database
 * takes it first, so several starting at once on an empty database apply each migration exactly once.
 */
export const MIGRATION_LOCK_KEY = 0x76_69_67_69 // "vigi"

/** A bounded pool of connections to the database `VIGIL_DATABASE_URL` names, its schema migrated. */
export interface PgDb {
  /** The URL without its password: safe to log and to show. */
  readonly where: string
  readonly pool: pg.Pool
  readonly db: NodePgDatabase
  close(): Promise<void>
}

export interface PgDbOptions {
  /** Connections at most; a query past it waits for one. */
  maxConnections?: number
  /** How long to wait for a connection, the first one included. */
  connectTimeoutMs?: number
  /** An idle connection that broke (the server restarted): told, not thrown, since no query was waiting on it. */
  onIdleError?(err: Error): void
}

/**
 * Opens a pool to PostgreSQL and applies pending migrations under an advisory lock. Rejects with a message that
 * names the server (never the password) when it cannot be reached or the migrations fail.
 */
export async function openPgDb(url: string, opts: PgDbOptions = {}): Promise<PgDb> {
  const where = redactUrl(url)
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.maxConnections ?? 10,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
    application_name: 'vigil',
  })
  pool.on('error', (err) => opts.onIdleError?.(err))
  try {
    await migrateLocked(pool)
  } catch (err) {
    await pool.end().catch(() => {})
    throw new Error(`PostgreSQL at ${where}: ${scrub((err as Error).message, url)}`, { cause: err })
  }
  return { where, pool, db: drizzle({ client: pool }), close: () => pool.end() }
}

async function migrateLocked(pool: pg.Pool): Promise<void> {
  const client = await pool.connect()
  try {
    // Session-level: held across the migrator's own transaction, released even if it fails
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY])
    try {
      await migrate(drizzle({ client }), { migrationsFolder: PG_MIGRATIONS_DIR })
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY])
    }
  } finally {
    client.release()
  }
}

/** A driver message may quote the connection string; the password never leaves this module. */
function scrub(message: string, url: string): string {
  try {
    const password = decodeURIComponent(new URL(url).password)
    return password ? message.split(password).join('***') : message
  } catch {
    return message
  }
}
