import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openSqliteStore, type SqliteStoreOptions } from './sqlite.ts'
import type { Store } from './store.ts'

const DAY = 86_400_000
const dirs: string[] = []
const stores: Store[] = []
function open(retentionMs = { raw: 7 * DAY, '1m': 90 * DAY, '1h': 730 * DAY }, replayMs = 900_000) {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-store-'))
  dirs.push(dir)
  const store = openSqliteStore({ dataDir: dir, retentionMs, replayMs })
  stores.push(store)
  return { store, dir, reopen: () => reopen(store, dir, retentionMs, replayMs) }
}
function reopen(store: Store, dir: string, retentionMs: SqliteStoreOptions['retentionMs'], replayMs: number): Store {
  store.close()
  stores.splice(stores.indexOf(store), 1)
  const again = openSqliteStore({ dataDir: dir, retentionMs, replayMs })
  stores.push(again)
  return again
}
afterEach(() => {
  for (const s of stores.splice(0)) s.close()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

const T0 = 1_700_000_000_000

describe('SQLite store', () => {
  it('keeps a one-sample spike as the max of its bucket', () => {
    const { store } = open()
    for (let i = 0; i < 600; i++) store.writeTick('h', T0 + i * 1000, { 'cpu.usage_pct': i === 377 ? 99 : 5 }, null)
    const r = store.range('cpu.usage_pct', 'h', T0, T0 + 599_999, 10)
    expect(r.points).toHaveLength(10)
    expect(r.stepMs).toBe(60_000)
    const spike = r.points[6]
    expect(spike).toEqual([T0 + 360_000, (59 * 5 + 99) / 60, 5, 99])
    expect(r.points.filter((p) => p[3] === 99)).toHaveLength(1)
  })

  it('returns every raw sample when the step is finer than the sampling interval', () => {
    const { store } = open()
    for (let i = 0; i < 5; i++) store.writeTick('h', T0 + i * 1000, { 'load.1m': i }, null)
    const r = store.range('load.1m', 'h', T0, T0 + 4000, 10_000)
    expect(r.points).toEqual([0, 1, 2, 3, 4].map((i) => [T0 + i * 1000, i, i, i]))
  })

  it('defaults `to` to the newest stored sample of the series', () => {
    const { store } = open()
    store.writeTick('h', T0, { 'mem.used_bytes': 1 }, null)
    store.writeTick('h', T0 + 1000, { 'mem.used_bytes': 2 }, null)
    const r = store.range('mem.used_bytes', 'h', T0, undefined, 100)
    expect(r.to).toBe(T0 + 1000)
    expect(r.points.map((p) => p[1])).toEqual([1, 2])
  })

  it('skips NaN and infinite values instead of failing the tick', () => {
    const { store } = open()
    store.writeTick('h', T0, { a: Number.NaN, b: Number.POSITIVE_INFINITY, c: 3 }, null)
    expect(store.metricNames().map((m) => m.name)).toEqual(['c'])
  })

  it('keeps the last event id across reopening, even when pruning removed every other event', () => {
    const { store, reopen } = open(undefined, 1000)
    for (let id = 1; id <= 5; id++)
      store.appendEvent({ id, ts: T0 + id, topic: 'metrics', event: 'metrics', data: '{}' })
    store.maintain(T0 + 1_000_000)
    expect(store.oldestEventId()).toBe(5)
    expect(reopen().lastEventId()).toBe(5)
  })

  it('lists events after an id filtered by topic, in id order', () => {
    const { store } = open()
    const topics = ['metrics', 'hosts', 'metrics', 'job:7', 'metrics']
    topics.forEach((topic, i) => {
      store.appendEvent({ id: i + 1, ts: T0, topic, event: 'x', data: String(i) })
    })
    expect(store.eventsAfter(1, ['metrics', 'job:7'], 10).map((e) => e.id)).toEqual([3, 4, 5])
    expect(store.eventsAfter(0, ['metrics'], 2).map((e) => e.id)).toEqual([1, 3])
  })

  it('lists every host’s metrics:<host> events for metrics, and one host’s alone for metrics:<host>', () => {
    const { store } = open()
    const topics = ['metrics:a', 'hosts', 'metrics:b', 'metrics', 'metrics:a', 'metricsx']
    topics.forEach((topic, i) => {
      store.appendEvent({ id: i + 1, ts: T0, topic, event: 'x', data: String(i) })
    })
    expect(store.eventsAfter(0, ['metrics'], 10).map((e) => e.topic)).toEqual([
      'metrics:a',
      'metrics:b',
      'metrics',
      'metrics:a',
    ])
    expect(store.eventsAfter(0, ['metrics:a'], 10).map((e) => e.id)).toEqual([1, 5])
    expect(store.eventsAfter(0, ['hosts', 'metrics:b'], 10).map((e) => e.id)).toEqual([2, 3])
  })
})
