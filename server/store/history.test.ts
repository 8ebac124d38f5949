import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { decodeChunk } from './codec.ts'
import { openDb } from './db.ts'
import { LATE_MS } from './history.ts'
import { openSqliteStore, type SqliteStoreOptions } from './sqlite.ts'
import type { Store } from './store.ts'

const MIN = 60_000
const HOUR = 3_600_000
const DAY = 86_400_000
/** Midnight UTC, so hours and days in the tests line up with the store's windows. */
const T0 = Date.UTC(2026, 0, 1)

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
  const restart = (s: Store) => {
    s.close()
    open.splice(open.indexOf(s), 1)
    return start()
  }
  return { dir, store: start(), restart }
}
afterEach(() => {
  for (const s of open.splice(0)) s.close()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** A deterministic wobbly series with irregular gaps, repeated values and two decimals, like a real gauge. */
function samplesFor(seed: number, from: number, to: number): { ts: number; value: number }[] {
  const out: { ts: number; value: number }[] = []
  let x = seed
  const rand = () => {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648
    return x / 2_147_483_648
  }
  let v = 50
  for (let t = from; t < to; t += 500 + Math.floor(rand() * 1500)) {
    if (rand() > 0.3) v = Math.round((v + (rand() - 0.5) * 20) * 100) / 100
    out.push({ ts: t, value: v })
  }
  return out
}

/** min, max, sum (left to right, in time order) and count per bucket of `res`, by brute force. */
function bruteForce(samples: { ts: number; value: number }[], res: number) {
  const out = new Map<number, { min: number; max: number; sum: number; count: number }>()
  for (const s of samples) {
    const b = Math.floor(s.ts / res) * res
    const cur = out.get(b)
    if (!cur) out.set(b, { min: s.value, max: s.value, sum: s.value, count: 1 })
    else {
      cur.min = Math.min(cur.min, s.value)
      cur.max = Math.max(cur.max, s.value)
      cur.sum += s.value
      cur.count++
    }
  }
  return out
}

/** Every raw sample a series has in closed chunks, decoded straight from the file. */
function storedRaw(dir: string, seriesName: string): [number, number][] {
  const db = new Database(join(dir, 'vigil.db'), { readonly: true })
  try {
    const { id } = db.prepare('select id from series where name = ?').get(seriesName) as { id: number }
    const rows = db.prepare('select data from chunks_raw where series_id = ? order by start_ts').all(id) as {
      data: Buffer
    }[]
    return rows.flatMap((row) => {
      const { ts, cols } = decodeChunk(row.data)
      return [...ts].map((t, k) => [t, cols[0]?.[k] as number] as [number, number])
    })
  } finally {
    db.close()
  }
}

/** Every bucket a rollup table holds for a series, decoded straight from the file. */
function storedBuckets(dir: string, table: 'chunks_1m' | 'chunks_1h', seriesName: string) {
  const db = new Database(join(dir, 'vigil.db'), { readonly: true })
  try {
    const { id } = db.prepare('select id from series where name = ?').get(seriesName) as { id: number }
    const rows = db.prepare(`select data from ${table} where series_id = ? order by start_ts`).all(id) as {
      data: Buffer
    }[]
    const out = new Map<number, { min: number; max: number; sum: number; count: number }>()
    for (const row of rows) {
      const { ts, cols } = decodeChunk(row.data)
      ts.forEach((t, k) => {
        out.set(t, { min: cols[0]?.[k] ?? 0, max: cols[1]?.[k] ?? 0, sum: cols[2]?.[k] ?? 0, count: cols[3]?.[k] ?? 0 })
      })
    }
    return out
  } finally {
    db.close()
  }
}

describe('tiered history', () => {
  it('writes 1-minute and 1-hour rollups equal to a brute-force computation over the same samples', () => {
    const { store, dir } = makeStore()
    const samples = samplesFor(7, T0, T0 + 3 * HOUR + 17 * MIN)
    for (const s of samples) store.writeTick('h', s.ts, { 'queue.depth': s.value }, null)
    store.maintain(T0 + 3 * HOUR + LATE_MS)

    const closed = samples.filter((s) => s.ts < T0 + 3 * HOUR)
    for (const [table, res] of [
      ['chunks_1m', MIN],
      ['chunks_1h', HOUR],
    ] as const) {
      const expected = bruteForce(closed, res)
      const stored = storedBuckets(dir, table, 'queue.depth')
      expect([...stored.keys()]).toEqual([...expected.keys()])
      for (const [t, e] of expected) expect(stored.get(t)).toEqual(e)
    }
    expect(store.storageStats().tiers.map((t) => [t.tier, t.samples])).toEqual([
      ['raw', samples.length],
      ['1m', 180],
      ['1h', 3],
    ])
  })

  it('answers a range across the rollup/raw boundary continuously, with true extremes and averages within 1e-9', () => {
    const { store } = makeStore()
    const samples = samplesFor(11, T0, T0 + 30 * HOUR)
    for (const s of samples) store.writeTick('h', s.ts, { 'queue.depth': s.value }, null)
    store.maintain(T0 + 24 * HOUR + LATE_MS)

    // 30 h in 300 points: 6-minute steps, from the 1m tier for the first 24 h and raw samples after
    const from = T0
    const to = T0 + 30 * HOUR - 1
    const r = store.range('queue.depth', 'h', from, to, 300)
    expect(r.tier).toBe('1m')
    expect(r.stepMs).toBe(6 * MIN)
    expect(r.points).toHaveLength(300)
    const expected = [...bruteForce(samples, 6 * MIN).entries()]
    r.points.forEach(([ts, avg, min, max], k) => {
      const [bucket, e] = expected[k] as [number, { min: number; max: number; sum: number; count: number }]
      expect(ts - (ts % (6 * MIN))).toBe(bucket)
      expect(min).toBe(e.min)
      expect(max).toBe(e.max)
      expect(Math.abs(avg - e.sum / e.count) / Math.abs(e.sum / e.count)).toBeLessThan(1e-9)
    })
  })

  it('serves a short range from rollups once its raw samples are past retention', () => {
    const { store } = makeStore({ raw: 2 * HOUR, '1m': DAY, '1h': 30 * DAY })
    const samples = samplesFor(3, T0, T0 + 6 * HOUR)
    for (const s of samples) store.writeTick('h', s.ts, { x: s.value }, null)
    store.maintain(T0 + 6 * HOUR + LATE_MS)
    const r = store.range('x', 'h', T0, T0 + 10 * MIN - 1, 600)
    expect(r.tier).toBe('raw')
    const expected = [...bruteForce(samples, MIN).entries()].filter(([t]) => t < T0 + 10 * MIN)
    expect(r.points.map((p) => [p[0], p[2], p[3]])).toEqual(expected.map(([t, e]) => [t, e.min, e.max]))
  })

  it('keeps every open sample exact once a fleet’s open hour passes the plain-memory budget and gets encoded', () => {
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
        store.writeTick(`h${h}`, T0 + t * 1000, v, null)
      }
    }
    // A repeat of an early time, now in an encoded segment, still replaces it
    store.writeTick('h7', T0 + 3000, { 'm.n5': -1 }, null)
    expect(store.storageStats().openSamples).toBe(2_400_000)
    expect(store.storageStats().openEncoded).toBeGreaterThan(400_000)
    for (const [h, i] of [
      [0, 0],
      [7, 5],
      [119, 199],
    ] as const) {
      const pts = store.range(`m.n${i}`, `h${h}`, T0, T0 + 100_000, 10_000).points
      const want = Array.from({ length: 100 }, (_, t) => [
        T0 + t * 1000,
        h === 7 && i === 5 && t === 3 ? -1 : value(t, h, i),
      ])
      expect(pts.map((p) => [p[0], p[1]])).toEqual(want)
    }
    store.maintain(T0 + HOUR + LATE_MS)
    expect(store.storageStats().openSamples).toBe(0)
    expect(store.storageStats().tiers[0]?.samples).toBe(2_400_000)
    const closed = store.range('m.n5', 'h7', T0, T0 + 100_000, 10_000).points
    expect(closed[3]).toEqual([T0 + 3000, -1, -1, -1])
  })

  it('keeps samples written before a restart, closed or not, and closes them after it', () => {
    const { store, restart } = makeStore()
    const samples = samplesFor(5, T0, T0 + 90 * MIN)
    for (const s of samples) store.writeTick('h', s.ts, { x: s.value }, null)
    store.maintain(T0 + HOUR + LATE_MS)
    const again = restart(store)
    const all = again.range('x', 'h', T0, T0 + 90 * MIN, 100_000)
    expect(all.points.map((p) => [p[0], p[1]])).toEqual(samples.map((s) => [s.ts, s.value]))
    again.maintain(T0 + 2 * HOUR + LATE_MS)
    expect(again.storageStats().openSamples).toBe(0)
    const closed = again.range('x', 'h', T0, T0 + 90 * MIN, 100_000)
    expect(closed.points).toEqual(all.points)
  })

  it('keeps every sample when closing an hour fails on a full disk (faked with max_page_count), and closes it once space returns', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-history-'))
    dirs.push(dir)
    const db = openDb(dir)
    const store = openSqliteStore({ dataDir: dir, db, retentionMs: { raw: DAY, '1m': DAY, '1h': DAY }, replayMs: 1000 })
    open.push(store)
    const samples = samplesFor(9, T0, T0 + HOUR)
    for (const s of samples) store.writeTick('h', s.ts, { x: s.value }, null)
    const all = store.range('x', 'h', T0, T0 + HOUR, 100_000).points
    const pages = Number(db.sqlite.pragma('page_count', { simple: true }))
    db.sqlite.pragma(`max_page_count = ${pages}`)
    expect(() => store.maintain(T0 + HOUR + LATE_MS)).toThrow(/full/)
    expect(store.range('x', 'h', T0, T0 + HOUR, 100_000).points).toEqual(all)
    expect(store.storageStats().tiers.map((t) => t.samples)).toEqual([samples.length, 0, 0])
    db.sqlite.pragma('max_page_count = 1073741823')
    expect(store.maintain(T0 + HOUR + LATE_MS).closedRows).toBe(1)
    expect(store.range('x', 'h', T0, T0 + HOUR, 100_000).points).toEqual(all)
    expect(store.storageStats().tiers.map((t) => t.samples)).toEqual([samples.length, 60, 1])
  })

  it('lets the last write win for a repeated timestamp, before and after the hour closes', () => {
    const { store } = makeStore()
    store.writeTick('h', T0 + 1000, { x: 1 }, null)
    store.writeTick('h', T0 + 2000, { x: 2 }, null)
    store.writeSamples('h', [{ name: 'x', ts: T0 + 1000, value: 10 }])
    const before = store.range('x', 'h', T0, T0 + 5000, 100).points
    expect(before).toEqual([
      [T0 + 1000, 10, 10, 10],
      [T0 + 2000, 2, 2, 2],
    ])
    store.maintain(T0 + HOUR + LATE_MS)
    expect(store.range('x', 'h', T0, T0 + 5000, 100).points).toEqual(before)
  })

  it('merges samples for closed hours into their chunks, the late write winning a tie, with rollups equal to a brute-force computation over the merged samples', () => {
    const { store, dir } = makeStore()
    const first = samplesFor(21, T0, T0 + 3 * HOUR)
    for (const s of first) store.writeTick('h', s.ts, { 'queue.depth': s.value }, null)
    store.maintain(T0 + 3 * HOUR + LATE_MS)
    expect(store.storageStats().openSamples).toBe(0)

    // A replay after the fact: every 7th sample again with a new value, and new samples between them
    const late = [
      ...first.filter((_, i) => i % 7 === 0).map((s) => ({ ts: s.ts, value: s.value + 1000 })),
      ...samplesFor(22, T0 + 20 * MIN, T0 + 2 * HOUR + 40 * MIN).map((s) => ({ ts: s.ts + 1, value: s.value })),
    ]
    for (let i = 0; i < late.length; i += 500) {
      store.writeSamples(
        'h',
        late.slice(i, i + 500).map((s) => ({ name: 'queue.depth', ...s })),
      )
    }
    expect(store.storageStats().lateWaiting).toBeGreaterThan(0)

    const byTs = new Map(first.map((s) => [s.ts, s.value]))
    for (const s of late) byTs.set(s.ts, s.value)
    const merged = [...byTs.entries()].sort((a, b) => a[0] - b[0]).map(([ts, value]) => ({ ts, value }))
    // A read merges the series' late samples first: it sees every acknowledged write
    const hour = store.range('queue.depth', 'h', T0 + HOUR, T0 + 2 * HOUR - 1, 3600)
    expect(hour.tier).toBe('raw')
    expect(store.storageStats().lateWaiting).toBe(0)
    expect(storedRaw(dir, 'queue.depth')).toEqual(merged.map((s) => [s.ts, s.value]))
    for (const [table, res] of [
      ['chunks_1m', MIN],
      ['chunks_1h', HOUR],
    ] as const) {
      const expected = bruteForce(merged, res)
      const stored = storedBuckets(dir, table, 'queue.depth')
      expect([...stored.keys()]).toEqual([...expected.keys()])
      for (const [t, e] of expected) expect(stored.get(t)).toEqual(e)
    }
    expect(store.storageStats().tiers.map((t) => [t.tier, t.samples])).toEqual([
      ['raw', merged.length],
      ['1m', 180],
      ['1h', 3],
    ])
  })

  it('rewrites each closed hour once for late samples that came in many batches, once the replay moves on', async () => {
    const { store } = makeStore()
    store.writeTick('h', T0, { x: 0 }, null)
    store.maintain(T0 + 4 * HOUR + LATE_MS)
    const late = samplesFor(3, T0 + HOUR, T0 + 4 * HOUR)
    for (let i = 0; i < late.length; i += 100) {
      store.writeSamples(
        'h',
        late.slice(i, i + 100).map((s) => ({ name: 'x', ...s })),
      )
    }
    const batches = Math.ceil(late.length / 100)
    expect(batches).toBeGreaterThan(50)
    await expect.poll(() => store.storageStats().lateWaiting, { timeout: 10_000 }).toBe(0)
    // Three hours touched, three chunk rewrites, whatever the number of batches
    expect(store.storageStats().lateMerges).toBe(3)
    const pts = store.range('x', 'h', T0 + HOUR, T0 + 4 * HOUR, 100_000).points
    expect(pts.map((p) => [p[0], p[1]])).toEqual(late.map((s) => [s.ts, s.value]))
  })

  it('keeps late samples that were not merged yet across a crash (connection closed without the store)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-history-'))
    dirs.push(dir)
    const retentionMs = { raw: 7 * DAY, '1m': 90 * DAY, '1h': 730 * DAY }
    const db = openDb(dir)
    const store = openSqliteStore({ dataDir: dir, db, retentionMs, replayMs: 1000 })
    store.writeTick('h', T0, { x: 0 }, null)
    store.maintain(T0 + 2 * HOUR + LATE_MS)
    store.writeSamples('h', [
      { name: 'x', ts: T0 + 1000, value: 1 },
      { name: 'x', ts: T0 + HOUR + 1000, value: 2 },
    ])
    expect(store.storageStats().lateWaiting).toBe(2)
    db.sqlite.close()
    const again = openSqliteStore({ dataDir: dir, retentionMs, replayMs: 1000 })
    open.push(again)
    expect(again.range('x', 'h', T0, T0 + 2 * HOUR, 100_000).points).toEqual([
      [T0, 0, 0, 0],
      [T0 + 1000, 1, 1, 1],
      [T0 + HOUR + 1000, 2, 2, 2],
    ])
  })

  it('refuses and counts a sample older than raw retention, and stores nothing of it', () => {
    const { store } = makeStore({ raw: 2 * HOUR, '1m': DAY, '1h': 30 * DAY })
    store.writeTick('h', T0 + 5 * HOUR, { x: 1 }, null)
    store.maintain(T0 + 5 * HOUR + LATE_MS)
    expect(store.acceptsFrom(T0 + 5 * HOUR + LATE_MS)).toBe(T0 + 3 * HOUR + LATE_MS)
    store.writeTick('h', T0 + HOUR, { x: 5 }, null)
    expect(store.storageStats().lateSamples).toBe(1)
    expect(store.storageStats().lateWaiting).toBe(0)
    expect(store.range('x', 'h', T0, T0 + 6 * HOUR, 100_000).points).toEqual([[T0 + 5 * HOUR, 1, 1, 1]])
  })

  it('refuses a tick with a fractional timestamp at write time and stores nothing of it', () => {
    const { store } = makeStore()
    store.writeTick('h', T0, { x: 1 }, null)
    expect(() => store.writeTick('h', T0 + 1.5, { x: 2, y: 3 }, null)).toThrow(RangeError)
    expect(store.metricNames().map((m) => m.name)).toEqual(['x'])
    store.maintain(T0 + HOUR + LATE_MS)
    expect(store.range('x', 'h', T0, T0 + 10, 100).points).toEqual([[T0, 1, 1, 1]])
  })

  it('moves samples from the one-row-per-sample table of earlier versions into chunks', () => {
    const { store, dir, restart } = makeStore()
    store.writeTick('h', T0, { x: 0 }, null)
    store.close()
    open.splice(open.indexOf(store), 1)
    const db = new Database(join(dir, 'vigil.db'))
    const { id } = db.prepare("select id from series where name = 'x'").get() as { id: number }
    const insert = db.prepare('insert into samples (series_id, ts, value) values (?, ?, ?)')
    for (let i = 1; i <= 100; i++) insert.run(id, T0 + i * 1000, i)
    db.close()
    const again = restart(
      openSqliteStore({ dataDir: dir, retentionMs: { raw: DAY, '1m': DAY, '1h': DAY }, replayMs: 1 }),
    )
    const pts = again.range('x', 'h', T0, T0 + 100_000, 1000).points
    expect(pts.map((p) => p[1])).toEqual(Array.from({ length: 101 }, (_, i) => i))
  })

  it('deletes data past each tier’s retention and stops the file growing over 30 simulated days', () => {
    const { store } = makeStore({ raw: 2 * DAY, '1m': 5 * DAY, '1h': 10 * DAY })
    const names = ['cpu.usage_pct', 'mem.used_bytes', 'load.1m', 'net.eth0.rx_bytes_per_s']
    const sizes = new Map<number, number>()
    let v = 0
    for (let t = T0; t < T0 + 30 * DAY; t += 20_000) {
      v = (v + 7919) % 10_007
      store.writeTick(
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
      if (t % MIN === 0) store.maintain(t)
      if (t % DAY === 0) sizes.set((t - T0) / DAY, store.storageStats().dbBytes)
    }
    const now = T0 + 30 * DAY
    store.maintain(now)
    // Nothing of day 0 is left in any tier; raw holds only the last 2 days plus the open hour
    expect(store.range('load.1m', 'h', T0, T0 + DAY, 100).points).toEqual([])
    const old = store.range('load.1m', 'h', now - 9 * DAY, now - 8 * DAY - 1, 24)
    expect([old.tier, old.stepMs, old.points.length]).toEqual(['1h', HOUR, 24])
    const raw = store.storageStats().tiers[0]?.samples ?? 0
    expect(raw).toBeLessThanOrEqual(names.length * ((2 * DAY + HOUR + LATE_MS + HOUR) / 20_000))
    // Steady state from day 11: freed pages are reused, so the file stops growing
    const day12 = sizes.get(12) ?? 0
    const day29 = sizes.get(29) ?? 0
    expect(day12).toBeGreaterThan(0)
    expect(day29).toBeLessThanOrEqual(day12 * 1.1)
  })
})
