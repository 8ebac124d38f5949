import { Tokens, watchRevocations } from './auth/index.ts'
import { type Config, ConfigError } from './config.ts'
import { isLoopback } from './http.ts'
import type { Logger } from './log.ts'
import {
  type Db,
  openDb,
  openPgDb,
  openPgStore,
  openSqliteStore,
  type PgDb,
  pgSql,
  type Sql,
  type Store,
  sqliteSql,
} from './store/index.ts'

/** A lock held by another process (`vigil token …`) is waited for this long, on the event loop, then retried. */
const BUSY_TIMEOUT_MS = 100
const FIRST_LOGIN_TTL_MS = 24 * 3_600_000
/** PostgreSQL connections per hub: writes, reads and housekeeping share them; a query past them waits. */
const PG_CONNECTIONS = 10

/** Where a hub keeps everything durable: the data dir's SQLite file, or PostgreSQL. */
export interface Data {
  readonly sql: Sql
  readonly store: Store
  readonly tokens: Tokens
  /** The SQLite connection; tests use it to fake faults the machine can't give (a full disk). Null on PostgreSQL. */
  readonly db: Db | null
  /** The one-time admin login code made at first start (no tokens yet), else null. */
  readonly firstLogin: string | null
  /** Where the data is, for the start line: the SQLite file, or the database URL without its password. */
  readonly where: string
  /**
   * Whether this hub does the work that must run once for all hubs on the data (closing hours, retention, lost
   * jobs): always on SQLite; on PostgreSQL while it holds the cluster's lease, which another hub takes over within
   * seconds of this one dying.
   */
  readonly singleton: { readonly held: boolean }
  /** Closes the store, then the database. */
  close(): Promise<void>
}

/** What is opened before the first admin is minted, with a way to mint it once for all hubs on the data. */
type Opened = Omit<Data, 'firstLogin'> & {
  /** Runs `work` while no other hub on the same data runs its own: an advisory lock on PostgreSQL. */
  alone<T>(work: () => Promise<T>): Promise<T>
}

/** The advisory lock under which a hub looks for tokens and mints the first admin. */
const FIRST_ADMIN_LOCK_KEY = 0x76_69_67_61 // "viga"

export interface DataOptions {
  log: Logger
  /** Told the revocation feed's fault (PostgreSQL unreachable), or null once it listens again. */
  onFault(message: string | null): void
}

/**
 * Opens the hub's data: PostgreSQL when `VIGIL_DATABASE_URL` is set (migrated under a lock, so hubs may start at
 * once), else `vigil.db` in the data dir. Refuses a bind beyond loopback with no token to protect it, and mints
 * the first admin (with a one-time login code) when there is no token at all.
 */
export async function openData(config: Config, opts: DataOptions): Promise<Data> {
  const retentionMs = {
    raw: config.rawRetentionH * 3_600_000,
    '1m': config.retention1mD * 86_400_000,
    '1h': config.retention1hD * 86_400_000,
  }
  const replayMs = config.replayS * 1000
  let data: Opened
  if (config.databaseUrl === undefined) {
    const db = openDb(config.dataDir, { busyTimeoutMs: BUSY_TIMEOUT_MS })
    const sql = sqliteSql(db)
    const store = openSqliteStore({ db, dataDir: config.dataDir, retentionMs, replayMs })
    data = {
      sql,
      store,
      tokens: await Tokens.open(sql),
      db,
      where: db.file,
      singleton: { held: true },
      close: () => store.close(),
      // One process per file: nobody else to wait for
      alone: (work) => work(),
    }
  } else {
    data = await openPostgres(config.databaseUrl, retentionMs, replayMs, opts)
  }
  const active = await data.tokens.activeCount()
  if (!isLoopback(config.host) && active === 0) {
    await data.close()
    throw new ConfigError(
      `VIGIL_HOST (--host)=${JSON.stringify(config.host)} is not a loopback address and no token exists, so nothing ` +
        'would protect it. Create one first: vigil token create --role admin',
    )
  }
  const { alone, ...opened } = data
  if (active > 0) return { ...opened, firstLogin: null }
  // Looked at again under the lock: another hub starting on the same empty database may have minted it first,
  // and then that hub prints the login link
  const firstLogin = await alone(async () => {
    if ((await data.tokens.activeCount()) > 0) return null
    const admin = await data.tokens.create('admin', await data.tokens.freeName('admin'))
    return data.tokens.createLoginCode(admin.id, FIRST_LOGIN_TTL_MS)
  })
  return { ...opened, firstLogin }
}

async function openPostgres(
  url: string,
  retentionMs: { raw: number; '1m': number; '1h': number },
  replayMs: number,
  opts: DataOptions,
): Promise<Opened> {
  let pg: PgDb
  try {
    pg = await openPgDb(url, {
      maxConnections: PG_CONNECTIONS,
      onIdleError: (err) => opts.log.warn('PostgreSQL connection lost while idle', { err: err.message }),
    })
  } catch (err) {
    // The message names the server, never the password: the start fails with it, exit code 2
    throw new ConfigError((err as Error).message)
  }
  const sql = await pgSql(pg)
  const store = await openPgStore({ pg, retentionMs, replayMs })
  const tokens = await Tokens.open(sql)
  const watch = await watchRevocations({
    url,
    onRevoked: () => tokens.announced(),
    onFault: opts.onFault,
  })
  const { Lease } = await import('./cluster/index.ts')
  const lease = new Lease({
    url,
    onChange: (held) => opts.log.info(held ? 'took the singleton lease' : 'lost the singleton lease'),
    onError: (err) => opts.log.warn('singleton lease check failed', { err: err.message }),
  })
  lease.start()
  return {
    sql,
    store,
    tokens,
    db: null,
    where: pg.where,
    singleton: lease,
    async alone(work) {
      const client = await pg.pool.connect()
      try {
        await client.query('SELECT pg_advisory_lock($1)', [FIRST_ADMIN_LOCK_KEY])
        return await work()
      } finally {
        // A connection whose unlock failed is closed, not pooled: closing it lets the lock go
        const unlocked = await client.query('SELECT pg_advisory_unlock($1)', [FIRST_ADMIN_LOCK_KEY]).then(
          () => true,
          () => false,
        )
        client.release(!unlocked)
      }
    },
    async close() {
      await lease.close()
      await watch.close()
      await store.close()
      await pg.close()
    },
  }
}
