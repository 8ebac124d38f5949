import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach } from 'vitest'
import { openSqliteStore } from './sqlite.ts'
import { DEFAULT_RETENTION, type OpenStore, storeSuite } from './store.suite.ts'
import type { Store } from './store.ts'

const dirs: string[] = []
const stores: Store[] = []
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** A store on a `vigil.db` of its own in a temp dir. */
const openSqlite: OpenStore = async ({ retentionMs = DEFAULT_RETENTION, replayMs = 900_000 } = {}) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-store-'))
  dirs.push(dir)
  const start = () => {
    const s = openSqliteStore({ dataDir: dir, retentionMs, replayMs })
    stores.push(s)
    return s
  }
  let current = start()
  return {
    store: current,
    async reopen() {
      await current.close()
      stores.splice(stores.indexOf(current), 1)
      current = start()
      return current
    },
    async rows(table, seriesName) {
      const db = new Database(join(dir, 'vigil.db'), { readonly: true })
      try {
        const row = db.prepare('select id from series where name = ?').get(seriesName) as { id: number } | undefined
        if (!row) return []
        const rows = db.prepare(`select data from ${table} where series_id = ? order by start_ts`).all(row.id)
        return (rows as { data: Buffer }[]).map((r) => r.data)
      } finally {
        db.close()
      }
    },
  }
}

storeSuite('SQLite', openSqlite)
