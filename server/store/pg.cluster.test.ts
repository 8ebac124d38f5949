import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { PG_MIGRATIONS_DIR } from '../paths.ts'
import { type PrivatePostgres, startPostgres, withPgClient } from '../testing/services.ts'
import { openDb, openPgDb, openPgStore, type PgDb, type Store } from './index.ts'
import { DEFAULT_RETENTION, type OpenStore, storeSuite } from './store.suite.ts'

let server: PrivatePostgres
beforeAll(async () => {
  server = await startPostgres()
})
afterAll(async () => {
  await server?.stop()
})

const opened: { store: Store; db: PgDb }[] = []
afterEach(async () => {
  for (const o of opened.splice(0)) {
    await o.store.close()
    await o.db.close()
  }
})

/** A store on a database of its own on the private server; storage figures are measured on every call. */
const openPg: OpenStore = async ({ retentionMs = DEFAULT_RETENTION, replayMs = 900_000 } = {}) => {
  const url = await server.createDatabase()
  const start = async () => {
    const db = await openPgDb(url, { maxConnections: 4 })
    const store = await openPgStore({ pg: db, retentionMs, replayMs, statsTtlMs: 0 })
    opened.push({ store, db })
    return store
  }
  let current = await start()
  return {
    store: current,
    async reopen() {
      const at = opened.findIndex((o) => o.store === current)
      const [was] = opened.splice(at, 1)
      await was?.store.close()
      await was?.db.close()
      current = await start()
      return current
    },
    async rows(table, seriesName) {
      return withPgClient(url, async (c) => {
        const r = await c.query<{ data: Buffer }>(
          `SELECT c.data FROM ${table} c JOIN series s ON s.id = c.series_id WHERE s.name = $1 ORDER BY c.start_ts`,
          [seriesName],
        )
        return r.rows.map((row) => row.data)
      })
    },
  }
}

storeSuite('PostgreSQL', openPg)

const journal = JSON.parse(readFileSync(join(PG_MIGRATIONS_DIR, 'meta', '_journal.json'), 'utf8')) as {
  entries: { tag: string }[]
}

const query = async <R extends pg.QueryResultRow>(url: string, text: string): Promise<R[]> =>
  (await withPgClient(url, (c) => c.query<R>(text))).rows

const appliedMigrations = async (url: string) =>
  Number((await query<{ n: string }>(url, 'SELECT count(*) AS n FROM drizzle.__drizzle_migrations'))[0]?.n)

describe('PostgreSQL schema and migrations', () => {
  it('applies every migration exactly once when four pools open an empty database at the same moment', async () => {
    const url = await server.createDatabase()
    const dbs = await Promise.all([1, 2, 3, 4].map(() => openPgDb(url, { maxConnections: 2 })))
    try {
      expect(journal.entries.length).toBeGreaterThan(0)
      expect(await appliedMigrations(url)).toBe(journal.entries.length)
    } finally {
      await Promise.all(dbs.map((d) => d.close()))
    }
  })

  it('opens a database already migrated without applying anything again, and its pool answers queries', async () => {
    const url = await server.createDatabase()
    await (await openPgDb(url)).close()
    const again: PgDb = await openPgDb(url)
    try {
      expect(await appliedMigrations(url)).toBe(journal.entries.length)
      const r = await again.pool.query<{ n: string }>('SELECT count(*) AS n FROM tokens')
      expect(r.rows[0]?.n).toBe('0')
    } finally {
      await again.close()
    }
  })

  it('has the same tables and columns as the SQLite schema, but for the open samples that every hub reads', async () => {
    const url = await server.createDatabase()
    await (await openPgDb(url)).close()
    const rows = await query<{ table_name: string; column_name: string }>(
      url,
      "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'",
    )
    const onPg = rows
      .filter((r) => r.table_name !== 'open_samples')
      .map((r) => `${r.table_name}.${r.column_name}`)
      .sort()
    expect(
      rows
        .filter((r) => r.table_name === 'open_samples')
        .map((r) => r.column_name)
        .sort(),
    ).toEqual(['series_id', 'ts', 'value'])

    const dir = mkdtempSync(join(tmpdir(), 'vigil-schema-'))
    const lite = openDb(dir)
    try {
      const tables = lite.sqlite
        .prepare(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite%'",
        )
        .all() as { name: string }[]
      const onSqlite = tables
        // The first versions' one-row-per-sample table, and what only the one process that writes them reads
        .filter((t) => !['samples', 'head', 'late'].includes(t.name))
        .flatMap((t) =>
          (lite.sqlite.pragma(`table_info(${t.name})`) as { name: string }[]).map((c) => `${t.name}.${c.name}`),
        )
        .sort()
      expect(onPg).toEqual(onSqlite)
    } finally {
      lite.sqlite.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('refuses a server it cannot reach with a message that names the server and never the password', async () => {
    const closed = server.port === 1 ? 2 : 1
    const url = `postgres://vigil:hunter2-secret@127.0.0.1:${closed}/vigil`
    const err = await openPgDb(url, { connectTimeoutMs: 2000 }).then(
      () => null,
      (e: Error) => e,
    )
    expect(err?.message).toMatch(
      new RegExp(`^PostgreSQL at postgres://vigil:\\*\\*\\*@127\\.0\\.0\\.1:${closed}/vigil: `),
    )
    expect(err?.message).not.toContain('hunter2-secret')
  })
})
