import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { drizzle } from 'drizzle-orm/node-postgres'
import { migrate } from 'drizzle-orm/node-postgres/migrator'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { PG_MIGRATIONS_DIR } from '../paths.ts'
import { openPgDb, type PgDb, pgSql } from '../store/index.ts'
import { migrationsBefore } from '../testing/migrations.ts'
import { type PrivatePostgres, startPostgres } from '../testing/services.ts'
import { logStoreSuite } from './logs.suite.ts'
import { JobLogs } from './logs.ts'

let server: PrivatePostgres
beforeAll(async () => {
  server = await startPostgres()
})
afterAll(async () => {
  await server?.stop()
})
const opened: PgDb[] = []
afterEach(async () => {
  for (const db of opened.splice(0)) await db.close()
})

async function open(url: string) {
  const db = await openPgDb(url, { maxConnections: 2 })
  opened.push(db)
  return pgSql(db)
}

logStoreSuite('PostgreSQL', async () => open(await server.createDatabase()))

describe('upgrading a PostgreSQL database that stored a line a row', () => {
  it('carries every stored line over into chunks, cut marks included, and goes on numbering after them', async () => {
    const url = await server.createDatabase()
    const dir = mkdtempSync(join(tmpdir(), 'vigil-pg-migrations-'))
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      await migrate(drizzle({ client }), {
        migrationsFolder: migrationsBefore(PG_MIGRATIONS_DIR, '0004_job_log_chunks', dir),
      })
      await client.query(
        `INSERT INTO jobs (id, name, labels, host, attempt, state, progress, created_at, log_lines, log_dropped, last_batch)
         VALUES ('j1', 'old', '{}', 'h', 1, 'running', '{}', 1, 2, 0, 0)`,
      )
      await client.query(
        `INSERT INTO job_logs (job_id, seq, ts, stream, level, text, cut)
         VALUES ('j1', 1, 100, 'stdout', NULL, 'first', false), ('j1', 2, 101, 'stderr', 'error', 'second', true)`,
      )
    } finally {
      await client.end()
      rmSync(dir, { recursive: true, force: true })
    }
    const logs = new JobLogs(await open(url), { keepHead: 1000, keepTail: 100_000 })
    const job = { id: 'j1', logLines: 2, logDropped: 0, lastBatch: 0 }
    await logs.append(job, 1, [{ stream: 'stdout', text: 'third', ts: 102 }])
    expect((await logs.read({ ...job, logLines: 3 }, 0, 10)).lines).toEqual([
      { seq: 1, ts: 100, stream: 'stdout', level: null, text: 'first', cut: false },
      { seq: 2, ts: 101, stream: 'stderr', level: 'error', text: 'second', cut: true },
      { seq: 3, ts: 102, stream: 'stdout', level: null, text: 'third', cut: false },
    ])
  })
})
