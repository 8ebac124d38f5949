/**
 * The store contract, one suite for every backend: `sqlite.test.ts` runs it on SQLite files, `pg.cluster.test.ts`
 * on a private PostgreSQL. A backend passes when it behaves the same, sample for sample and bucket for bucket.
 */
import { describe, expect, it } from 'vitest'
import { decodeChunk } from './codec.ts'
import type { Store } from './store.ts'
import { LATE_MS } from './tiers.ts'

export const MIN = 60_000
export const HOUR = 3_600_000
export const DAY = 86_400_000
/** Midnight UTC, so hours and days in the tests line up with the store's windows. */
export const T0 = Date.UTC(2026, 0, 1)

export type Retention = { raw: number; '1m': number; '1h': number }
export const DEFAULT_RETENTION: Retention = { raw: 7 * DAY, '1m': 90 * DAY, '1h': 730 * DAY }

export type TierTable = 'chunks_raw' | 'chunks_1m' | 'chunks_1h'

/** A store on storage of its own, and what the suite needs to look behind it. */
export interface OpenedStore {
  store: Store
  /** Closes the store and opens the same storage again, as a restarted hub does. */
  reopen(): Promise<Store>
  /** The encoded rows a tier table holds for a series (of any host), oldest first, read straight from storage. */
  rows(table: TierTable, seriesName: string): Promise<Uint8Array[]>
}

/** Opens a store on new, empty storage; the backend's test file cleans up after each test. */
export type OpenStore = (opts?: { retentionMs?: Retention; replayMs?: number }) => Promise<OpenedStore>

/** A deterministic wobbly series with irregular gaps, repeated values and two decimals, like a real gauge. */
export function samplesFor(seed: number, from: number, to: number): { ts: number; value: number }[] {
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
export function bruteForce(samples: { ts: number; value: number }[], res: number) {
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

/** Writes one series' samples in batches of a thousand, as a replaying agent or a backfill does. */
export async function load(store: Store, host: string, name: string, samples: { ts: number; value: number }[]) {
  for (let i = 0; i < samples.length; i += 1000) {
    await store.writeSamples(
      host,
      samples.slice(i, i + 1000).map((s) => ({ name, ...s })),
    )
  }
}

async function storedRaw(opened: OpenedStore, name: string): Promise<[number, number][]> {
  return (await opened.rows('chunks_raw', name)).flatMap((data) => {
    const { ts, cols } = decodeChunk(data)
    return [...ts].map((t, k) => [t, cols[0]?.[k] as number] as [number, number])
  })
}

async function storedBuckets(opened: OpenedStore, table: 'chunks_1m' | 'chunks_1h', name: string) {
  const out = new Map<number, { min: number; max: number; sum: number; count: number }>()
  for (const data of await opened.rows(table, name)) {
    const { ts, cols } = decodeChunk(data)
    ts.forEach((t, k) => {
      out.set(t, { min: cols[0]?.[k] ?? 0, max: cols[1]?.[k] ?? 0, sum: cols[2]?.[k] ?? 0, count: cols[3]?.[k] ?? 0 })
    })
  }
  return out
}

async function expectRollupsOf(opened: OpenedStore, name: string, samples: { ts: number; value: number }[]) {
  for (const [table, res] of [
    ['chunks_1m', MIN],
    ['chunks_1h', HOUR],
  ] as const) {
    const expected = bruteForce(samples, res)
    const stored = await storedBuckets(opened, table, name)
    expect([...stored.keys()]).toEqual([...expected.keys()])
    for (const [t, e] of expected) expect([t, stored.get(t)]).toEqual([t, e])
  }
}

/** Registers the store contract's tests for one backend. */
export function storeSuite(backend: string, open: OpenStore): void {
  describe(`the store contract on ${backend}`, () => {
    it('keeps a one-sample spike as the max of its bucket', async () => {
      const { store } = await open()
      for (let i = 0; i < 600; i++) {
        await store.writeTick('h', T0 + i * 1000, { 'cpu.usage_pct': i === 377 ? 99 : 5 }, null)
      }
      const r = await store.range('cpu.usage_pct', 'h', T0, T0 + 599_999, 10)
      expect(r.points).toHaveLength(10)
      expect(r.stepMs).toBe(60_000)
      expect(r.points[6]).toEqual([T0 + 360_000, (59 * 5 + 99) / 60, 5, 99])
      expect(r.points.filter((p) => p[3] === 99)).toHaveLength(1)
    })

    it('returns every raw sample when the step is finer than the sampling interval', async () => {
      const { store } = await open()
      for (let i = 0; i < 5; i++) await store.writeTick('h', T0 + i * 1000, { 'load.1m': i }, null)
      const r = await store.range('load.1m', 'h', T0, T0 + 4000, 10_000)
      expect(r.points).toEqual([0, 1, 2, 3, 4].map((i) => [T0 + i * 1000, i, i, i]))
    })

    it('defaults `to` to the newest stored sample of the series', async () => {
      const { store } = await open()
      await store.writeTick('h', T0, { 'mem.used_bytes': 1 }, null)
      await store.writeTick('h', T0 + 1000, { 'mem.used_bytes': 2 }, null)
      const r = await store.range('mem.used_bytes', 'h', T0, undefined, 100)
      expect(r.to).toBe(T0 + 1000)
      expect(r.points.map((p) => p[1])).toEqual([1, 2])
    })

    it('skips NaN and infinite values instead of failing the tick', async () => {
      const { store } = await open()
      await store.writeTick('h', T0, { a: Number.NaN, b: Number.POSITIVE_INFINITY, c: 3 }, null)
      expect((await store.metricNames()).map((m) => m.name)).toEqual(['c'])
    })

    it('counts a host’s series and the new ones a batch would add', async () => {
      const { store } = await open()
      await store.writeTick('h', T0, { a: 1, b: 2 }, null)
      await store.writeTick('other', T0, { c: 1 }, null)
      expect(await store.countSeries('h', ['a', 'b'])).toEqual({ have: 2, added: 0 })
      expect(await store.countSeries('h', ['a', 'c', 'd'])).toEqual({ have: 2, added: 2 })
      expect(await store.countSeries('nobody', ['a'])).toEqual({ have: 0, added: 1 })
    })

    it('gives the newest value of every series for the exposition', async () => {
      const { store } = await open()
      await store.writeTick('h', T0, { a: 1, b: 2 }, null)
      await store.writeTick('h', T0 + 1000, { a: 3 }, null)
      await store.writeSamples('g', [{ name: 'a', ts: T0 + 500, value: 9 }])
      const latest = (await store.latest()).sort((x, y) => `${x.host}${x.name}`.localeCompare(`${y.host}${y.name}`))
      expect(latest).toEqual([
        { host: 'g', name: 'a', ts: T0 + 500, value: 9 },
        { host: 'h', name: 'a', ts: T0 + 1000, value: 3 },
        { host: 'h', name: 'b', ts: T0, value: 2 },
      ])
    })

    it('gives the newest sample of the named series of one host, leaving out the ones it lacks', async () => {
      const { store } = await open()
      await store.writeTick('h', T0, { a: 1, b: 2 }, null)
      await store.writeTick('h', T0 + 1000, { a: 3 }, null)
      await store.writeTick('other', T0 + 2000, { a: 7 }, null)
      expect(await store.latestOf('h', ['a', 'b', 'c'])).toEqual(
        new Map([
          ['a', { ts: T0 + 1000, value: 3 }],
          ['b', { ts: T0, value: 2 }],
        ]),
      )
      expect(await store.latestOf('nobody', ['a'])).toEqual(new Map())
    })

    it('gives the newest sample of each series after reopening, closed or open, and a late write does not hide it', async () => {
      const { store, reopen } = await open()
      await store.writeTick('h', T0, { a: 1 }, null)
      await store.writeTick('h', T0 + 1000, { a: 2 }, null)
      await store.maintain(T0 + HOUR + LATE_MS)
      await store.writeTick('h', T0 + HOUR + 5000, { b: 7 }, null)
      const again = await reopen()
      // Older than the stored newest of `a`, written before anything asked for it
      await again.writeSamples('h', [{ name: 'a', ts: T0 + 500, value: 9 }])
      const newest = new Map([
        ['a', { ts: T0 + 1000, value: 2 }],
        ['b', { ts: T0 + HOUR + 5000, value: 7 }],
      ])
      expect(await again.latestOf('h', ['a', 'b'])).toEqual(newest)
      const latest = (await again.latest()).sort((x, y) => x.name.localeCompare(y.name))
      expect(latest).toEqual([...newest].map(([name, l]) => ({ host: 'h', name, ...l })))
    })

    it('keeps a stream’s cursor, moved in the same write as its ticks', async () => {
      const { store, reopen } = await open()
      expect(await store.cursor('h/spool')).toBe(0)
      await store.writeTicks('h', [{ ts: T0, values: { x: 1 } }], { stream: 'h/spool', through: 7 })
      await store.writeTicks('h', [], { stream: 'h/spool', through: 9 })
      const again = await reopen()
      expect(await again.cursor('h/spool')).toBe(9)
      expect((await again.range('x', 'h', T0, T0 + 10, 10)).points).toEqual([[T0, 1, 1, 1]])
    })

    it('stores the batches of 50 hosts written at once, with each one’s cursor, and two batches of one host in order', async () => {
      const { store, reopen } = await open()
      const hosts = Array.from({ length: 50 }, (_, i) => `h${i}`)
      await Promise.all([
        ...hosts.map((h, i) =>
          store.writeTicks(
            h,
            [
              { ts: T0, values: { x: i, y: 1 } },
              { ts: T0 + 1000, values: { x: i + 1 } },
            ],
            { stream: `${h}/spool`, through: i + 2 },
          ),
        ),
        // The same host twice in flight (its second batch rewrites a time of the first): the later write wins
        store.writeTicks('h0', [{ ts: T0 + 1000, values: { x: 100 } }], { stream: 'h0/spool', through: 3 }),
      ])
      const again = await reopen()
      for (const [i, h] of hosts.entries()) {
        expect([h, await again.cursor(`${h}/spool`)]).toEqual([h, i === 0 ? 3 : i + 2])
        const want = i === 0 ? 100 : i + 1
        expect([h, (await again.range('x', h, T0, T0 + 1000, 10)).points]).toEqual([
          h,
          [
            [T0, i, i, i],
            [T0 + 1000, want, want, want],
          ],
        ])
      }
    })

    it('keeps the last event id across reopening, even when pruning removed every other event', async () => {
      const { store, reopen } = await open({ replayMs: 1000 })
      for (let id = 1; id <= 5; id++) {
        await store.appendEvents([{ id, ts: T0 + id, topic: 'metrics', event: 'metrics', data: '{}' }])
      }
      await store.maintain(T0 + 1_000_000)
      expect(await store.oldestEventId()).toBe(5)
      expect((await reopen()).lastEventId()).toBe(5)
    })

    it('keeps reserved event ids across reopening', async () => {
      const { store, reopen } = await open()
      await store.writeTick('h', T0, { x: 1 }, { id: 3, ts: T0, topic: 'metrics:h', event: 'metrics', data: '{}' })
      await store.reserveEventIds(10_003)
      expect((await reopen()).lastEventId()).toBe(10_003)
    })

    it('lists events after an id filtered by topic, in id order', async () => {
      const { store } = await open()
      const topics = ['metrics', 'hosts', 'metrics', 'job:7', 'metrics']
      await store.appendEvents(topics.map((topic, i) => ({ id: i + 1, ts: T0, topic, event: 'x', data: String(i) })))
      expect((await store.eventsAfter(1, ['metrics', 'job:7'], 10)).map((e) => e.id)).toEqual([3, 4, 5])
      expect((await store.eventsAfter(0, ['metrics'], 2)).map((e) => e.id)).toEqual([1, 3])
      expect(await store.eventsAfter(0, ['job:7'], 10)).toEqual([
        { id: 4, ts: T0, topic: 'job:7', event: 'x', data: '3' },
      ])
    })

    it('lists every host’s metrics:<host> events for metrics, and one host’s alone for metrics:<host>', async () => {
      const { store } = await open()
      const topics = ['metrics:a', 'hosts', 'metrics:b', 'metrics', 'metrics:a', 'metricsx']
      await store.appendEvents(topics.map((topic, i) => ({ id: i + 1, ts: T0, topic, event: 'x', data: String(i) })))
      expect((await store.eventsAfter(0, ['metrics'], 10)).map((e) => e.topic)).toEqual([
        'metrics:a',
        'metrics:b',
        'metrics',
        'metrics:a',
      ])
      expect((await store.eventsAfter(0, ['metrics:a'], 10)).map((e) => e.id)).toEqual([1, 5])
      expect((await store.eventsAfter(0, ['hosts', 'metrics:b'], 10)).map((e) => e.id)).toEqual([2, 3])
    })

    it('writes 1-minute and 1-hour rollups equal to a brute-force computation over the same samples', async () => {
      const opened = await open()
      const { store } = opened
      const samples = samplesFor(7, T0, T0 + 3 * HOUR + 17 * MIN)
      await load(store, 'h', 'queue.depth', samples)
      await store.maintain(T0 + 3 * HOUR + LATE_MS)
      await expectRollupsOf(
        opened,
        'queue.depth',
        samples.filter((s) => s.ts < T0 + 3 * HOUR),
      )
      expect((await store.storageStats()).tiers.map((t) => [t.tier, t.samples])).toEqual([
        ['raw', samples.length],
        ['1m', 180],
        ['1h', 3],
      ])
    })

    it('answers a range across the rollup/raw boundary continuously, with true extremes and averages within 1e-9', async () => {
      const { store } = await open()
      const samples = samplesFor(11, T0, T0 + 30 * HOUR)
      await load(store, 'h', 'queue.depth', samples)
      await store.maintain(T0 + 24 * HOUR + LATE_MS)
      // 30 h in 300 points: 6-minute steps, from the 1m tier for the first 24 h and raw samples after
      const r = await store.range('queue.depth', 'h', T0, T0 + 30 * HOUR - 1, 300)
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

    it('serves a short range from rollups once its raw samples are past retention', async () => {
      const { store } = await open({ retentionMs: { raw: 2 * HOUR, '1m': DAY, '1h': 30 * DAY } })
      const samples = samplesFor(3, T0, T0 + 6 * HOUR)
      await load(store, 'h', 'x', samples)
      await store.maintain(T0 + 6 * HOUR + LATE_MS)
      const r = await store.range('x', 'h', T0, T0 + 10 * MIN - 1, 600)
      expect(r.tier).toBe('raw')
      const expected = [...bruteForce(samples, MIN).entries()].filter(([t]) => t < T0 + 10 * MIN)
      expect(r.points.map((p) => [p[0], p[2], p[3]])).toEqual(expected.map(([t, e]) => [t, e.min, e.max]))
    })

    it('keeps samples written before a restart, closed or not, and closes them after it', async () => {
      const { store, reopen } = await open()
      const samples = samplesFor(5, T0, T0 + 90 * MIN)
      await load(store, 'h', 'x', samples)
      await store.maintain(T0 + HOUR + LATE_MS)
      const again = await reopen()
      const all = await again.range('x', 'h', T0, T0 + 90 * MIN, 100_000)
      expect(all.points.map((p) => [p[0], p[1]])).toEqual(samples.map((s) => [s.ts, s.value]))
      await again.maintain(T0 + 2 * HOUR + LATE_MS)
      expect((await again.storageStats()).openSamples).toBe(0)
      expect((await again.range('x', 'h', T0, T0 + 90 * MIN, 100_000)).points).toEqual(all.points)
    })

    it('lets the last write win for a repeated timestamp, before and after the hour closes', async () => {
      const { store } = await open()
      await store.writeTick('h', T0 + 1000, { x: 1 }, null)
      await store.writeTick('h', T0 + 2000, { x: 2 }, null)
      await store.writeSamples('h', [
        { name: 'x', ts: T0 + 1000, value: 10 },
        { name: 'x', ts: T0 + 3000, value: 3 },
        { name: 'x', ts: T0 + 3000, value: 30 },
      ])
      const before = (await store.range('x', 'h', T0, T0 + 5000, 100)).points
      expect(before).toEqual([
        [T0 + 1000, 10, 10, 10],
        [T0 + 2000, 2, 2, 2],
        [T0 + 3000, 30, 30, 30],
      ])
      await store.maintain(T0 + HOUR + LATE_MS)
      expect((await store.range('x', 'h', T0, T0 + 5000, 100)).points).toEqual(before)
    })

    it('merges samples for closed hours into their chunks, the late write winning a tie, with rollups equal to a brute-force computation over the merged samples', async () => {
      const opened = await open()
      const { store } = opened
      const first = samplesFor(21, T0, T0 + 3 * HOUR)
      await load(store, 'h', 'queue.depth', first)
      await store.maintain(T0 + 3 * HOUR + LATE_MS)
      expect((await store.storageStats()).openSamples).toBe(0)

      // A replay after the fact: every 7th sample again with a new value, and new samples between them
      const late = [
        ...first.filter((_, i) => i % 7 === 0).map((s) => ({ ts: s.ts, value: s.value + 1000 })),
        ...samplesFor(22, T0 + 20 * MIN, T0 + 2 * HOUR + 40 * MIN).map((s) => ({ ts: s.ts + 1, value: s.value })),
      ]
      for (let i = 0; i < late.length; i += 500) {
        await store.writeSamples(
          'h',
          late.slice(i, i + 500).map((s) => ({ name: 'queue.depth', ...s })),
        )
      }
      const byTs = new Map(first.map((s) => [s.ts, s.value]))
      for (const s of late) byTs.set(s.ts, s.value)
      const merged = [...byTs.entries()].sort((a, b) => a[0] - b[0]).map(([ts, value]) => ({ ts, value }))
      // Every acknowledged write is read back, merged into its chunk or not yet (ten minutes at a 1 ms step)
      const from = T0 + HOUR + 25 * MIN
      const to = from + 10 * MIN - 1
      const span = await store.range('queue.depth', 'h', from, to, to - from + 1)
      expect([span.tier, span.stepMs]).toEqual(['raw', 1])
      const want = merged.filter((s) => s.ts >= from && s.ts <= to)
      expect(want.length).toBeGreaterThan(500)
      expect(span.points.map((p) => [p[0], p[1]])).toEqual(want.map((s) => [s.ts, s.value]))
      // And once merged (by the read that asked on SQLite, by housekeeping on PostgreSQL), the chunks hold them
      await store.maintain(T0 + 3 * HOUR + LATE_MS)
      expect((await store.storageStats()).lateWaiting).toBe(0)
      expect(await storedRaw(opened, 'queue.depth')).toEqual(merged.map((s) => [s.ts, s.value]))
      await expectRollupsOf(opened, 'queue.depth', merged)
      expect((await store.storageStats()).tiers.map((t) => [t.tier, t.samples])).toEqual([
        ['raw', merged.length],
        ['1m', 180],
        ['1h', 3],
      ])
    })

    it('refuses and counts a sample older than raw retention, and stores nothing of it', async () => {
      const { store } = await open({ retentionMs: { raw: 2 * HOUR, '1m': DAY, '1h': 30 * DAY } })
      await store.writeTick('h', T0 + 5 * HOUR, { x: 1 }, null)
      await store.maintain(T0 + 5 * HOUR + LATE_MS)
      expect(store.acceptsFrom(T0 + 5 * HOUR + LATE_MS)).toBe(T0 + 3 * HOUR + LATE_MS)
      await store.writeTick('h', T0 + HOUR, { x: 5 }, null)
      const stats = await store.storageStats()
      expect([stats.lateSamples, stats.lateWaiting]).toEqual([1, 0])
      expect((await store.range('x', 'h', T0, T0 + 6 * HOUR, 100_000)).points).toEqual([[T0 + 5 * HOUR, 1, 1, 1]])
    })

    it('refuses a tick with a fractional timestamp at write time and stores nothing of it', async () => {
      const { store } = await open()
      await store.writeTick('h', T0, { x: 1 }, null)
      await expect(store.writeTick('h', T0 + 1.5, { x: 2, y: 3 }, null)).rejects.toThrow(RangeError)
      expect((await store.metricNames()).map((m) => m.name)).toEqual(['x'])
      await store.maintain(T0 + HOUR + LATE_MS)
      expect((await store.range('x', 'h', T0, T0 + 10, 100)).points).toEqual([[T0, 1, 1, 1]])
    })

    it('deletes each tier’s data past its retention', async () => {
      const { store } = await open({ retentionMs: { raw: 2 * DAY, '1m': 5 * DAY, '1h': 10 * DAY } })
      // One sample a minute over 12 days, closed day by day
      for (let day = 0; day < 12; day++) {
        await load(
          store,
          'h',
          'x',
          Array.from({ length: 1440 }, (_, i) => ({ ts: T0 + day * DAY + i * MIN, value: i % 97 })),
        )
        await store.maintain(T0 + (day + 1) * DAY + LATE_MS)
      }
      const now = T0 + 12 * DAY + LATE_MS
      await store.maintain(now)
      expect((await store.range('x', 'h', T0, T0 + DAY, 100)).points).toEqual([])
      const old = await store.range('x', 'h', T0 + 3 * DAY, T0 + 4 * DAY - 1, 24)
      expect([old.tier, old.stepMs, old.points.length]).toEqual(['1h', HOUR, 24])
      const tiers = (await store.storageStats()).tiers.map((t) => t.samples)
      // Raw: the last 2 days and the hour rows straddling the limit; 1m: 5 days and a bit, as buckets of a minute
      expect(tiers[0]).toBeLessThanOrEqual((2 * DAY + 2 * HOUR) / MIN)
      expect(tiers[0]).toBeGreaterThanOrEqual((2 * DAY) / MIN - 60)
      expect(tiers[1]).toBeLessThanOrEqual((5 * DAY + 2 * HOUR) / MIN)
      expect(tiers[2]).toBeLessThanOrEqual(11 * 24)
    })
  })
}
