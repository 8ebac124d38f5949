import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import type { MetricsEvent, SeriesResponse } from '../protocol/index.ts'
import { healthOf } from '../testing/child.ts'
import { type Collector, sqliteOf, useTestHubs } from '../testing/hub.ts'

const hubs = useTestHubs()

/**
 * Fast-group ticks streamed live after `since`, by their timestamps: the ones carrying `mem.used_bytes`, the
 * series read back. A slow-group tick is an event of its own, at a time no fast tick may share.
 */
const tickTimes = (c: Collector, since: number) =>
  c.events
    .map((e) => e.data as MetricsEvent)
    .filter((m) => m.ts >= since && m.values['mem.used_bytes'] !== undefined)
    .map((m) => m.ts)

async function storedTimes(url: string, from: number): Promise<number[]> {
  const res = await fetch(`${url}/api/series?metric=mem.used_bytes&from=${from}&points=10000`)
  return ((await res.json()) as SeriesResponse).points.map((p) => p[0])
}

describe('storage faults', () => {
  it('keeps streaming and reports degraded storage while a second connection holds the write lock, then stores every queued tick', async () => {
    const t = await hubs.start({ VIGIL_SAMPLE_MS: '100' })
    const url = t.hub.url
    const live = hubs.metrics(url)
    await live.waitFor((e) => e.length >= 2)

    const lock = new Database(join(t.dir, 'vigil.db'))
    lock.exec('BEGIN IMMEDIATE')
    const lockedAt = Date.now()
    await live.waitFor(() => tickTimes(live, lockedAt).length >= 10)
    await expect.poll(async () => (await healthOf(url)).status, { timeout: 10_000 }).toBe('degraded')
    const reason = (await healthOf(url)).reasons[0]
    expect(reason?.component).toBe('storage')
    expect(reason?.message).toMatch(/^history writes failing \(SQLITE_BUSY\); \d+ writes waiting, 0 dropped$/)

    lock.exec('ROLLBACK')
    lock.close()
    await expect.poll(async () => (await healthOf(url)).status, { timeout: 10_000 }).toBe('ok')
    const streamed = tickTimes(live, lockedAt)
    const stored = await storedTimes(url, lockedAt)
    for (const ts of streamed) expect(stored).toContain(ts)
  })

  it('reports a full disk (faked with max_page_count) as degraded, keeps streaming, and catches up once space returns', async () => {
    const t = await hubs.start({ VIGIL_SAMPLE_MS: '100' })
    const url = t.hub.url
    const live = hubs.metrics(url)
    await live.waitFor((e) => e.length >= 2)

    const sqlite = sqliteOf(t.hub)
    sqlite.pragma(`max_page_count = ${Number(sqlite.pragma('page_count', { simple: true }))}`)
    const fullAt = Date.now()
    await expect.poll(async () => (await healthOf(url)).status, { timeout: 20_000 }).toBe('degraded')
    expect((await healthOf(url)).reasons[0]?.message).toMatch(/^history writes failing \(SQLITE_FULL\)/)
    const before = tickTimes(live, fullAt).length
    await live.waitFor(() => tickTimes(live, fullAt).length >= before + 5)

    sqlite.pragma('max_page_count = 1073741823')
    await expect.poll(async () => (await healthOf(url)).status, { timeout: 20_000 }).toBe('ok')
    const stored = await storedTimes(url, fullAt)
    for (const ts of tickTimes(live, fullAt)) expect(stored).toContain(ts)
    expect(sqlite.pragma('integrity_check', { simple: true })).toBe('ok')
  })
})
