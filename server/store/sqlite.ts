import { statSync } from 'node:fs'
import { and, asc, between, count, eq, gt, inArray, lt, max, min, sql } from 'drizzle-orm'
import { events, samples, series } from '../../db/schema.ts'
import type { SeriesPoint } from '../protocol.ts'
import { type Db, openDb } from './db.ts'
import type { SeriesRange, Store, StoredEvent } from './store.ts'

export interface SqliteStoreOptions {
  dataDir: string
  /** An already open connection to share; the store then owns it and closes it. */
  db?: Db
  rawRetentionMs: number
  replayMs: number
}

const DEFAULT_RANGE_MS = 3_600_000
const STATS_TTL_MS = 10_000

/**
 * The metric store on `vigil.db` in the data dir (opened, and migrated, unless `db` is given).
 * @example const store = openSqliteStore({ dataDir: './data', rawRetentionMs: 86_400_000, replayMs: 900_000 })
 */
export function openSqliteStore(opts: SqliteStoreOptions): Store {
  const { file, sqlite, db } = opts.db ?? openDb(opts.dataDir)

  const seriesIds = new Map<string, number>()
  for (const row of db.select({ id: series.id, host: series.host, name: series.name }).from(series).all()) {
    seriesIds.set(`${row.host}\0${row.name}`, row.id)
  }

  const insertSeries = db
    .insert(series)
    .values({ host: sql.placeholder('host'), name: sql.placeholder('name'), createdAt: sql.placeholder('at') })
    .returning({ id: series.id })
    .prepare()
  // A repeated (series, ts) keeps the later value: a re-sent tick must not fail the whole batch
  const insertSample = db
    .insert(samples)
    .values({ seriesId: sql.placeholder('id'), ts: sql.placeholder('ts'), value: sql.placeholder('value') })
    .onConflictDoUpdate({ target: [samples.seriesId, samples.ts], set: { value: sql`excluded.value` } })
    .prepare()
  const insertEvent = db
    .insert(events)
    .values({
      id: sql.placeholder('id'),
      ts: sql.placeholder('ts'),
      topic: sql.placeholder('topic'),
      event: sql.placeholder('event'),
      data: sql.placeholder('data'),
    })
    .prepare()
  const selectEventsAfter = db
    .select()
    .from(events)
    .where(
      and(
        gt(events.id, sql.placeholder('after')),
        inArray(events.topic, sql`(select value from json_each(${sql.placeholder('topics')}))`),
      ),
    )
    .orderBy(asc(events.id))
    .limit(sql.placeholder('limit'))
    .prepare()
  const selectOldestEvent = db
    .select({ id: min(events.id) })
    .from(events)
    .prepare()
  const selectLastEvent = db
    .select({ id: max(events.id) })
    .from(events)
    .prepare()
  const selectNewestTs = db
    .select({ ts: max(samples.ts) })
    .from(samples)
    .where(eq(samples.seriesId, sql.placeholder('id')))
    .prepare()
  const bucket = sql`cast((${samples.ts} - ${sql.placeholder('from')}) / ${sql.placeholder('step')} as integer)`
  const selectBuckets = db
    .select({
      ts: sql<number>`min(${samples.ts})`,
      avg: sql<number>`avg(${samples.value})`,
      min: sql<number>`min(${samples.value})`,
      max: sql<number>`max(${samples.value})`,
    })
    .from(samples)
    .where(
      and(
        eq(samples.seriesId, sql.placeholder('id')),
        between(samples.ts, sql.placeholder('from'), sql.placeholder('to')),
      ),
    )
    .groupBy(bucket)
    .orderBy(bucket)
    .prepare()
  const deleteOldSamples = db
    .delete(samples)
    .where(and(eq(samples.seriesId, sql.placeholder('id')), lt(samples.ts, sql.placeholder('before'))))
    .prepare()
  // The newest event is kept whatever its age: it carries the id counter across restarts
  const deleteOldEvents = db
    .delete(events)
    .where(and(lt(events.ts, sql.placeholder('before')), lt(events.id, sql`(select max(id) from ${events})`)))
    .prepare()

  let sampleCount = db.select({ n: count() }).from(samples).get()?.n ?? 0
  let lastId = selectLastEvent.get()?.id ?? 0

  function seriesId(host: string, name: string, now: number): number {
    const key = `${host}\0${name}`
    let id = seriesIds.get(key)
    if (id === undefined) {
      const row = insertSeries.get({ host, name, at: now })
      if (!row) throw new Error(`could not create series ${host}/${name}`)
      id = row.id
      seriesIds.set(key, id)
    }
    return id
  }

  function appendEvent(e: StoredEvent): void {
    insertEvent.run({ id: e.id, ts: e.ts, topic: e.topic, event: e.event, data: e.data })
    if (e.id > lastId) lastId = e.id
  }

  // SQLite allows one writer: one transaction per tick keeps the WAL small and the write cheap
  const writeTick = sqlite.transaction(
    (host: string, ts: number, values: Readonly<Record<string, number>>, event: StoredEvent | null) => {
      for (const name in values) {
        const value = values[name]
        if (value === undefined || !Number.isFinite(value)) continue
        insertSample.run({ id: seriesId(host, name, ts), ts, value })
        sampleCount++
      }
      if (event) appendEvent(event)
    },
  )

  // dbstat walks every page: measure bytes at most every STATS_TTL_MS, count samples live
  let measured: { at: number; samplesBytes: number; retained: number } | null = null
  function measure(now: number) {
    if (measured && now - measured.at < STATS_TTL_MS) return measured
    const bytes = sqlite.prepare("select coalesce(sum(pgsize), 0) as n from dbstat where name = 'samples'").get() as {
      n: number
    }
    measured = { at: now, samplesBytes: bytes.n, retained: db.select({ n: count() }).from(events).get()?.n ?? 0 }
    return measured
  }
  function fileSize(path: string): number {
    try {
      return statSync(path).size
    } catch {
      return 0
    }
  }

  return {
    writeTick(host, ts, values, event) {
      writeTick(host, ts, values, event)
    },
    appendEvent,
    eventsAfter(afterId, topics, limit) {
      return selectEventsAfter.all({ after: afterId, topics: JSON.stringify(topics), limit })
    },
    oldestEventId() {
      return selectOldestEvent.get()?.id ?? null
    },
    lastEventId() {
      return lastId
    },
    range(metric, host, fromArg, toArg, points): SeriesRange {
      const id = seriesIds.get(`${host}\0${metric}`)
      const to = toArg ?? (id === undefined ? null : selectNewestTs.get({ id })?.ts) ?? Date.now()
      const from = fromArg ?? Math.max(0, to - DEFAULT_RANGE_MS)
      const stepMs = Math.max(1, Math.ceil((to - from + 1) / points))
      if (id === undefined) return { seriesFound: false, from, to, stepMs, points: [] }
      const rows = selectBuckets.all({ id, from, to, step: stepMs })
      const out: SeriesPoint[] = rows.map((r) => [r.ts, r.avg, r.min, r.max])
      return { seriesFound: true, from, to, stepMs, points: out }
    },
    metricNames() {
      return [...seriesIds.keys()].map((k) => {
        const [host = '', name = ''] = k.split('\0')
        return { host, name }
      })
    },
    hosts() {
      return [...new Set([...seriesIds.keys()].map((k) => k.slice(0, k.indexOf('\0'))))]
    },
    prune(now) {
      let removed = 0
      const before = now - opts.rawRetentionMs
      sqlite.transaction(() => {
        for (const id of seriesIds.values()) removed += deleteOldSamples.run({ id, before }).changes
      })()
      sampleCount -= removed
      const ev = deleteOldEvents.run({ before: now - opts.replayMs }).changes
      if (removed > 0 || ev > 0) measured = null
      return { samples: removed, events: ev }
    },
    storageStats() {
      const m = measure(Date.now())
      return {
        dbBytes: fileSize(file),
        walBytes: fileSize(`${file}-wal`),
        series: seriesIds.size,
        tiers: [{ tier: 'raw', samples: sampleCount, bytes: m.samplesBytes, retentionMs: opts.rawRetentionMs }],
        events: { retained: m.retained, oldestId: selectOldestEvent.get()?.id ?? null, lastId },
      }
    },
    close() {
      sqlite.pragma('wal_checkpoint(TRUNCATE)')
      sqlite.close()
    },
  }
}
