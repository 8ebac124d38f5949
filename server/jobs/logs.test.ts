import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { drizzle } from 'drizzle-orm/better-sqlite3'
import { migrate } from 'drizzle-orm/better-sqlite3/migrator'
import { afterEach, describe, expect, it } from 'vitest'
import { MIGRATIONS_DIR } from '../paths.ts'
import { type Db, openDb, sqliteSql } from '../store/index.ts'
import { migrationsBefore } from '../testing/migrations.ts'
import { logStoreSuite } from './logs.suite.ts'
import { JobLogs } from './logs.ts'

const dirs: string[] = []
const dbs: Db[] = []
afterEach(() => {
  for (const d of dbs.splice(0)) d.sqlite.close()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-logs-'))
  dirs.push(dir)
  return dir
}

logStoreSuite('SQLite', async () => {
  const db = openDb(tempDir())
  dbs.push(db)
  return sqliteSql(db)
})

describe('upgrading a database that stored a line a row', () => {
  it('carries every stored line over into chunks, cut marks included, and goes on numbering after them', async () => {
    const dataDir = tempDir()
    const old = new Database(join(dataDir, 'vigil.db'))
    migrate(drizzle({ client: old }), {
      migrationsFolder: migrationsBefore(MIGRATIONS_DIR, '0011_job_log_chunks', join(tempDir(), 'migrations')),
    })
    old
      .prepare(
        `INSERT INTO jobs (id, name, labels, host, attempt, state, progress, created_at, log_lines, log_dropped, last_batch)
         VALUES ('j1', 'old', '{}', 'h', 1, 'running', '{}', 1, 3, 0, 0)`,
      )
      .run()
    const insert = old.prepare(
      'INSERT INTO job_logs (job_id, seq, ts, stream, level, text, cut) VALUES (?, ?, ?, ?, ?, ?, ?)',
    )
    insert.run('j1', 1, 100, 'stdout', null, 'first', 0)
    insert.run('j1', 2, 101, 'stderr', 'error', 'second', 1)
    insert.run('j1', 3, 102, 'stdout', null, 'third', 0)
    old.close()

    const db = openDb(dataDir)
    dbs.push(db)
    const logs = new JobLogs(sqliteSql(db), { keepHead: 1000, keepTail: 100_000 })
    const job = { id: 'j1', logLines: 3, logDropped: 0, lastBatch: 0 }
    await logs.append(job, 1, [{ stream: 'stdout', text: 'fourth', ts: 103 }])
    expect((await logs.read({ ...job, logLines: 4 }, 0, 10)).lines).toEqual([
      { seq: 1, ts: 100, stream: 'stdout', level: null, text: 'first', cut: false },
      { seq: 2, ts: 101, stream: 'stderr', level: 'error', text: 'second', cut: true },
      { seq: 3, ts: 102, stream: 'stdout', level: null, text: 'third', cut: false },
      { seq: 4, ts: 103, stream: 'stdout', level: null, text: 'fourth', cut: false },
    ])
  })
})
