import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { openDb } from './db.ts'
import { openSqliteStore, type SqliteStoreOptions } from './sqlite.ts'
import { DAY, HOUR, MIN, samplesFor, T0 } from './store.suite.ts'
import type { Store } from './store.ts'
import { LATE_MS } from './tiers.ts'

// What only the SQLite backend has: the open hour in memory under a budget, the durable head and late table in the
// file, disk faults, the import of the first versions' samples table, and the file's size. The contract every
// backend shares is in store.suite.ts.

const dirs: string[] = []
const open: Store[] = []
function makeStore(retentionMs: SqliteStoreOptions['retentionMs'] = { raw: 7 * DAY, '1m': 90 * DAY, '1h': 730 * DAY }) {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-history-'))
  dirs.push(dir)
  const start = () => {
    const s = openSqliteStore({ dataDir: dir, retentionMs, replayMs: 900_000 })
    open.push(s)
    return s
  }
  const restart = async (s: Store) => {
    await s.close()
    open.splice(open.indexOf(s), 1)
    return start()
  }
  return { dir, store: start(), restart }
}
afterEach(async () => {
  for (const s of open.splice(0)) await s.close()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

describe('tiered history on SQLite', () => {
  it('keeps every open sample exact once a fleet’s open hour passes the plain-memory budget and gets encoded', async () => {
    const { store } = makeStore()
    // 120 hosts × 200 series × 100 ticks = 2.4 M open samples: past the 2 M budget, so the largest get encoded
    const names = Array.from({ length: 200 }, (_, i) => `m.n${i}`)
    const value = (t: number, h: number, i: number) => Math.round(Math.abs(Math.sin((t + h + i) / 7)) * 10_000) / 100
    for (let t = 0; t < 100; t++) {
      for (let h = 0; h < 120; h++) {
        const v: Record<string, number> = {}
        names.forEach((n, i) => {
          v[n] = value(t, h, i)
        })
        await store.writeTick(`h${h}`, T0 + t * 1000, v, null)
      }
    }
    // A repeat of an early time, now in an encoded segment, still replaces it
    await store.writeTick('h7', T0 + 3000, { 'm.n5': -1 }, null)
    expect((await store.storageStats()).openSamples).toBe(2_400_000)
    expect((await store.storageStats()).openEncoded).toBeGreaterThan(400_000)
    for (const [h, i] of [
      [0, 0],
      [7, 5],
      [119, 199],
    ] as const) {
      const pts = (await store.range(`m.n${i}`, `h${h}`, T0, T0 + 100_000, 10_000)).points
      const want = Array.from({ length: 100 }, (_, t) => [
        T0 + t * 1000,
        h === 7 && i === 5 && t === 3 ? -1 : value(t, h, i),
      ])
      expect(pts.map((p) => [p[0], p[1]])).toEqual(want)
    }
    await store.maintain(T0 + HOUR + LATE_MS)
    expect((await store.storageStats()).openSamples).toBe(0)
    expect((await store.storageStats()).tiers[0]?.samples).toBe(2_400_000)
    const closed = (await store.range('m.n5', 'h7', T0, T0 + 100_000, 10_000)).points
    expect(closed[3]).toEqual([T0 + 3000, -1, -1, -1])
  })

  it('keeps every sample when closing an hour fails on a full disk (faked with max_page_count), and closes it once space returns', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-history-'))
    dirs.push(dir)
    const db = openDb(dir)
    const store = openSqliteStore({ dataDir: dir, db, retentionMs: { raw: DAY, '1m': DAY, '1h': DAY }, replayMs: 1000 })
    open.push(store)
    const samples = samplesFor(9, T0, T0 + HOUR)
    for (const s of samples) await store.writeTick('h', s.ts, { x: s.value }, null)
    const all = (await store.range('x', 'h', T0, T0 + HOUR, 100_000)).points
    const pages = Number(db.sqlite.pragma('page_count', { simple: true }))
    db.sqlite.pragma(`max_page_count = ${pages}`)
    await expect(store.maintain(T0 + HOUR + LATE_MS)).rejects.toThrow(/full/)
    expect((await store.range('x', 'h', T0, T0 + HOUR, 100_000)).points).toEqual(all)
    expect((await store.storageStats()).tiers.map((t) => t.samples)).toEqual([samples.length, 0, 0])
    db.sqlite.pragma('max_page_count = 1073741823')
    expect((await store.maintain(T0 + HOUR + LATE_MS)).closedRows).toBe(1)
    expect((await store.range('x', 'h', T0, T0 + HOUR, 100_000)).points).toEqual(all)
    expect((await store.storageStats()).tiers.map((t) => t.samples)).toEqual([samples.length, 60, 1])
  })

  it('rewrites each closed hour once for late samples that came in many batches, once the replay moves on', async () => {
    const { store } = makeStore()
    await store.writeTick('h', T0, { x: 0 }, null)
    await store.maintain(T0 + 4 * HOUR + LATE_MS)
    const late = samplesFor(3, T0 + HOUR, T0 + 4 * HOUR)
    for (let i = 0; i < late.length; i += 100) {
      await store.writeSamples(
        'h',
        late.slice(i, i + 100).map((s) => ({ name: 'x', ...s })),
      )
    }
    const batches = Math.ceil(late.length / 100)
    expect(batches).toBeGreaterThan(50)
    await expect.poll(async () => (await store.storageStats()).lateWaiting, { timeout: 10_000 }).toBe(0)
    // Three hours touched, three chunk rewrites, whatever the number of batches
    expect((await store.storageStats()).lateMerges).toBe(3)
    const pts = (await store.range('x', 'h', T0 + HOUR, T0 + 4 * HOUR, 100_000)).points
    expect(pts.map((p) => [p[0], p[1]])).toEqual(late.map((s) => [s.ts, s.value]))
  })

  it('keeps late samples that were not merged yet across a crash (connection closed without the store)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-history-'))
    dirs.push(dir)
    const retentionMs = { raw: 7 * DAY, '1m': 90 * DAY, '1h': 730 * DAY }
    const db = openDb(dir)
    const store = openSqliteStore({ dataDir: dir, db, retentionMs, replayMs: 1000 })
    await store.writeTick('h', T0, { x: 0 }, null)
    await store.maintain(T0 + 2 * HOUR + LATE_MS)
    await store.writeSamples('h', [
      { name: 'x', ts: T0 + 1000, value: 1 },
      { name: 'x', ts: T0 + HOUR + 1000, value: 2 },
    ])
    expect((await store.storageStats()).lateWaiting).toBe(2)
    db.sqlite.close()
    const again = openSqliteStore({ dataDir: dir, retentionMs, replayMs: 1000 })
    open.push(again)
    expect((await again.range('x', 'h', T0, T0 + 2 * HOUR, 100_000)).points).toEqual([
      [T0, 0, 0, 0],
      [T0 + 1000, 1, 1, 1],
      [T0 + HOUR + 1000, 2, 2, 2],
    ])
  })

  it('moves samples from the one-row-per-sample table of earlier versions into chunks', async () => {
    const { store, dir, restart } = makeStore()
    await store.writeTick('h', T0, { x: 0 }, null)
    await store.close()
    open.splice(open.indexOf(store), 1)
    const db = new Database(join(dir, 'vigil.db'))
    const { id } = db.prepare("select id from series where name = 'x'").get() as { id: number }
    const insert = db.prepare('insert into samples (series_id, ts, value) values (?, ?, ?)')
    for (let i = 1; i <= 100; i++) insert.run(id, T0 + i * 1000, i)
    db.close()
    const again = await restart(
      openSqliteStore({ dataDir: dir, retentionMs: { raw: DAY, '1m': DAY, '1h': DAY }, replayMs: 1 }),
    )
    const pts = (await again.range('x', 'h', T0, T0 + 100_000, 1000)).points
    expect(pts.map((p) => p[1])).toEqual(Array.from({ length: 101 }, (_, i) => i))
  })

  it('deletes data past each tier’s retention and stops the file growing over 30 simulated days', async () => {
    const { store } = makeStore({ raw: 2 * DAY, '1m': 5 * DAY, '1h': 10 * DAY })
    const names = ['cpu.usage_pct', 'mem.used_bytes', 'load.1m', 'net.eth0.rx_bytes_per_s']
    const sizes = new Map<number, number>()
    let v = 0
    for (let t = T0; t < T0 + 30 * DAY; t += 20_000) {
      v = (v + 7919) % 10_007
      await store.writeTick(
        'h',
        t,
        {
          [names[0] as string]: v / 100,
          [names[1] as string]: v * 4096,
          [names[2] as string]: (v % 400) / 100,
          [names[3] as string]: v * 13,
        },
        null,
      )
      if (t % MIN === 0) await store.maintain(t)
      if (t % DAY === 0) sizes.set((t - T0) / DAY, (await store.storageStats()).dbBytes)
    }
    const now = T0 + 30 * DAY
    await store.maintain(now)
    // Nothing of day 0 is left in any tier; raw holds only the last 2 days plus the open hour
    expect((await store.range('load.1m', 'h', T0, T0 + DAY, 100)).points).toEqual([])
    const old = await store.range('load.1m', 'h', now - 9 * DAY, now - 8 * DAY - 1, 24)
    expect([old.tier, old.stepMs, old.points.length]).toEqual(['1h', HOUR, 24])
    const raw = (await store.storageStats()).tiers[0]?.samples ?? 0
    expect(raw).toBeLessThanOrEqual(names.length * ((2 * DAY + HOUR + LATE_MS + HOUR) / 20_000))
    // Steady state from day 11: freed pages are reused, so the file stops growing
    const day12 = sizes.get(12) ?? 0
    const day29 = sizes.get(29) ?? 0
    expect(day12).toBeGreaterThan(0)
    expect(day29).toBeLessThanOrEqual(day12 * 1.1)
  })
})
