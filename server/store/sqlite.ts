import { statSync } from 'node:fs'
import { and, asc, count, eq, gt, inArray, like, lt, max, min, or, sql } from 'drizzle-orm'
import { events, ingestCursors, meta, samples, series } from '../../db/schema.ts'
import { type Db, openDb } from './db.ts'
import { History } from './history.ts'
import { SeriesIndex } from './series-index.ts'
import type { Cursor, NamedSample, SeriesRange, Store, StoredEvent, TickIn } from './store.ts'
import { TIERS } from './tiers.ts'

export interface SqliteStoreOptions {
  dataDir: string
  /** An already open connection to share; the store then owns it and closes it. */
  db?: Db
  /** Age limit of each tier: raw samples, 1-minute and 1-hour rollups. */
  retentionMs: { raw: number; '1m': number; '1h': number }
  replayMs: number
}

const DEFAULT_RANGE_MS = 3_600_000
const STATS_TTL_MS = 10_000
/** The event ids handed out ahead of use, kept so that a crash never leads to an id being issued twice. */
const RESERVED_KEY = 'events.reserved_through'
/** A window that took no late sample for this long is merged into its chunk. */
const LATE_IDLE_MS = 1000
/** Late samples held before the oldest windows are merged at once, whatever their state. */
const LATE_MAX_SAMPLES = 1_000_000

/**
 * The metric store on `vigil.db` in the data dir (opened, and migrated, unless `db` is given).
 * @example openSqliteStore({ dataDir: './data', retentionMs: { raw: 7 * DAY, '1m': 90 * DAY, '1h': 730 * DAY }, replayMs: 900_000 })
 */
export function openSqliteStore(opts: SqliteStoreOptions): Store {
  const { file, sqlite, db } = opts.db ?? openDb(opts.dataDir)

  const seriesIds = new SeriesIndex()
  for (const row of db.select({ id: series.id, host: series.host, name: series.name }).from(series).all()) {
    seriesIds.set(row.host, row.name, row.id)
  }

  const insertSeries = db
    .insert(series)
    .values({ host: sql.placeholder('host'), name: sql.placeholder('name'), createdAt: sql.placeholder('at') })
    .returning({ id: series.id })
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
        // `metrics` stands for every host's `metrics:<host>`, as on the bus
        or(
          inArray(events.topic, sql`(select value from json_each(${sql.placeholder('topics')}))`),
          and(eq(sql.placeholder('family'), 1), like(events.topic, 'metrics:%')),
        ),
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
  // The newest event is kept whatever its age: it carries the id counter across restarts
  const deleteOldEvents = db
    .delete(events)
    .where(and(lt(events.ts, sql.placeholder('before')), lt(events.id, sql`(select max(id) from ${events})`)))
    .prepare()

  const saveReserved = db
    .insert(meta)
    .values({ key: RESERVED_KEY, value: sql.placeholder('value') })
    .onConflictDoUpdate({ target: meta.key, set: { value: sql`excluded.value` } })
    .prepare()
  const reserved = Number(
    db.select({ value: meta.value }).from(meta).where(eq(meta.key, RESERVED_KEY)).get()?.value ?? 0,
  )

  const history = new History(sqlite, db, {
    retentionMs: TIERS.map((t) => opts.retentionMs[t.name]),
  })
  const latest = new Map<number, { ts: number; value: number }>()
  /** Series whose newest sample was looked up in history: a hub that restarts has noted none yet. */
  const looked = new Set<number>()
  function latestOfId(id: number): { ts: number; value: number } | undefined {
    if (!looked.has(id)) {
      looked.add(id)
      const stored = latest.has(id) ? null : history.newestSample(id)
      if (stored) latest.set(id, stored)
    }
    return latest.get(id)
  }
  let lastId = Math.max(selectLastEvent.get()?.id ?? 0, reserved)

  function seriesId(host: string, name: string, now: number): number {
    let id = seriesIds.get(host, name)
    if (id === undefined) {
      const row = insertSeries.get({ host, name, at: now })
      if (!row) throw new Error(`could not create series ${host}/${name}`)
      id = row.id
      seriesIds.set(host, name, id)
      created.push([host, name])
    }
    return id
  }

  function appendEvent(e: StoredEvent): void {
    insertEvent.run({ id: e.id, ts: e.ts, topic: e.topic, event: e.event, data: e.data })
    if (e.id > lastId) lastId = e.id
  }
  const appendEvents = sqlite.transaction((batch: readonly StoredEvent[]) => {
    for (const e of batch) appendEvent(e)
  })

  /** Series made in a transaction that failed are forgotten again, so the id map never points at a missing row. */
  const created: [host: string, name: string][] = []
  function noteLatest(id: number, ts: number, value: number): void {
    const prev = latestOfId(id)
    if (!prev) latest.set(id, { ts, value })
    else if (ts >= prev.ts) {
      prev.ts = ts
      prev.value = value
    }
  }
  function transact<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
    const tx = sqlite.transaction(fn)
    return (...args: A) => {
      created.length = 0
      try {
        tx(...args)
      } catch (err) {
        history.discard()
        for (const [host, name] of created) seriesIds.delete(host, name)
        throw err
      }
    }
  }

  // SQLite allows one writer: one transaction per tick keeps the WAL small and the write cheap
  const writeTick = transact(
    (host: string, ts: number, values: Readonly<Record<string, number>>, event: StoredEvent | null) => {
      for (const name in values) {
        const value = values[name]
        if (value === undefined || !Number.isFinite(value)) continue
        const id = seriesId(host, name, ts)
        history.stage(id, ts, value)
        noteLatest(id, ts, value)
      }
      history.commit()
      if (event) appendEvent(event)
    },
  )
  const saveCursor = db
    .insert(ingestCursors)
    .values({
      stream: sql.placeholder('stream'),
      through: sql.placeholder('through'),
      updatedAt: sql.placeholder('at'),
    })
    .onConflictDoUpdate({
      target: ingestCursors.stream,
      set: { through: sql`excluded.through`, updatedAt: sql`excluded.updated_at` },
    })
    .prepare()
  const selectCursor = db
    .select({ through: ingestCursors.through })
    .from(ingestCursors)
    .where(eq(ingestCursors.stream, sql.placeholder('stream')))
    .prepare()
  const writeTicks = transact((host: string, ticks: readonly TickIn[], cursor: Cursor | null) => {
    for (const t of ticks) {
      for (const name in t.values) {
        const value = t.values[name]
        if (value === undefined || !Number.isFinite(value)) continue
        const id = seriesId(host, name, t.ts)
        history.stage(id, t.ts, value)
        noteLatest(id, t.ts, value)
      }
    }
    history.commit()
    if (cursor) saveCursor.run({ stream: cursor.stream, through: cursor.through, at: Date.now() })
  })

  const writeSamples = transact((host: string, batch: readonly NamedSample[]) => {
    for (const s of batch) {
      const id = seriesId(host, s.name, s.ts)
      history.stage(id, s.ts, s.value)
      noteLatest(id, s.ts, s.value)
    }
    history.commit()
  })

  // Late samples are merged in batches: a window once no sample came for it in LATE_IDLE_MS (the replay moved
  // on), or the oldest windows at once when too many wait. A failed merge (a full disk) is tried again later
  let lateTimer: NodeJS.Timeout | null = null
  let lateRetryMs = LATE_IDLE_MS
  let lateMerges = 0
  function mergeLate(pick: Parameters<History['mergeLate']>[0]): void {
    try {
      const n = history.mergeLate(pick)
      lateMerges += n
      if (n > 0) measured = null
      lateRetryMs = LATE_IDLE_MS
    } catch {
      lateRetryMs = Math.min(lateRetryMs * 2, 30_000)
    }
  }
  function scheduleLate(): void {
    if (history.lateWaiting > LATE_MAX_SAMPLES) {
      let left = history.lateWaiting
      mergeLate((g) => {
        if (left <= LATE_MAX_SAMPLES / 2) return false
        left -= g.samples.n
        return true
      })
    }
    if (lateTimer || history.lateWaiting === 0) return
    lateTimer = setTimeout(() => {
      lateTimer = null
      const idleSince = performance.now() - LATE_IDLE_MS
      mergeLate((g) => g.touchedAt <= idleSince)
      scheduleLate()
    }, lateRetryMs)
    lateTimer.unref()
  }

  importLegacySamples()

  /** Moves rows of the one-row-per-sample table of earlier versions into the head, then lets them close normally. */
  function importLegacySamples(): void {
    const legacy = db.select({ n: count() }).from(samples).get()?.n ?? 0
    if (legacy === 0) return
    sqlite.transaction(() => {
      for (const { id } of seriesIds.entries()) {
        for (const row of db.select().from(samples).where(eq(samples.seriesId, id)).orderBy(asc(samples.ts)).all()) {
          history.stage(id, row.ts, row.value)
        }
        history.commit()
      }
      db.delete(samples).run()
    })()
  }

  // dbstat walks every page: measure bytes at most every STATS_TTL_MS, count samples live
  let measured: { at: number; tierBytes: number[]; headBytes: number; retained: number } | null = null
  const pageBytes = sqlite.prepare('select name, sum(pgsize) as n from dbstat group by name')
  function measure(now: number) {
    if (measured && now - measured.at < STATS_TTL_MS) return measured
    const bytes = new Map<string, number>()
    for (const row of pageBytes.all() as { name: string; n: number }[]) bytes.set(row.name, row.n)
    const tableBytes = (name: string) =>
      (bytes.get(name) ?? 0) + (bytes.get(`${name}_series_start`) ?? 0) + (bytes.get(`${name}_start`) ?? 0)
    measured = {
      at: now,
      tierBytes: TIERS.map((t) => tableBytes(`chunks_${t.name}`)),
      headBytes: bytes.get('head') ?? 0,
      retained: db.select({ n: count() }).from(events).get()?.n ?? 0,
    }
    return measured
  }
  /** Series whose every sample aged out of every tier go too, so ids of finished jobs don't pile up. */
  function forgetEmptySeries(): void {
    const keep = JSON.stringify(history.buffered())
    const gone = sqlite
      .prepare(
        `delete from series where id not in (select series_id from chunks_raw union select series_id from chunks_1m
         union select series_id from chunks_1h union select value from json_each(?)) returning host, name, id`,
      )
      .all(keep) as { host: string; name: string; id: number }[]
    for (const g of gone) {
      seriesIds.delete(g.host, g.name)
      latest.delete(g.id)
      looked.delete(g.id)
    }
  }
  function fileSize(path: string): number {
    try {
      return statSync(path).size
    } catch {
      return 0
    }
  }

  // better-sqlite3 does the work before returning: each method runs synchronously and settles its promise
  return {
    async writeTick(host, ts, values, event) {
      writeTick(host, ts, values, event)
      if (history.lateWaiting > 0) scheduleLate()
    },
    async appendEvents(batch) {
      appendEvents(batch)
    },
    async eventsAfter(afterId, topics, limit) {
      const family = topics.includes('metrics') ? 1 : 0
      return selectEventsAfter.all({ after: afterId, topics: JSON.stringify(topics), family, limit })
    },
    async oldestEventId() {
      return selectOldestEvent.get()?.id ?? null
    },
    lastEventId() {
      return lastId
    },
    async reserveEventIds(through) {
      saveReserved.run({ value: String(through) })
    },
    async writeTicks(host, ticks, cursor) {
      writeTicks(host, ticks, cursor)
      if (history.lateWaiting > 0) scheduleLate()
    },
    async cursor(stream) {
      return selectCursor.get({ stream })?.through ?? 0
    },
    async writeSamples(host, batch) {
      writeSamples(host, batch)
      if (history.lateWaiting > 0) scheduleLate()
    },
    async range(metric, host, fromArg, toArg, points): Promise<SeriesRange> {
      const id = seriesIds.get(host, metric)
      const to = toArg ?? (id === undefined ? null : history.newest(id)) ?? Date.now()
      const from = fromArg ?? Math.max(0, to - DEFAULT_RANGE_MS)
      if (id === undefined) {
        const stepMs = Math.max(1, Math.ceil((to - from + 1) / points))
        return { seriesFound: false, from, to, stepMs, tier: 'raw', points: [] }
      }
      return { seriesFound: true, from, to, ...history.range(id, from, to, points) }
    },
    async metricNames() {
      return [...seriesIds.entries()].map(({ host, name }) => ({ host, name }))
    },
    async countSeries(host, names) {
      let added = 0
      for (const name of names) if (seriesIds.get(host, name) === undefined) added++
      return { have: seriesIds.count(host), added }
    },
    async latest(since = Number.NEGATIVE_INFINITY) {
      const out: { host: string; name: string; ts: number; value: number }[] = []
      for (const { host, name, id } of seriesIds.entries()) {
        const l = latestOfId(id)
        if (l && l.ts >= since) out.push({ host, name, ts: l.ts, value: l.value })
      }
      return out
    },
    async latestOf(host, names) {
      const out = new Map<string, { ts: number; value: number }>()
      for (const name of names) {
        const id = seriesIds.get(host, name)
        const l = id === undefined ? undefined : latestOfId(id)
        if (l) out.set(name, { ts: l.ts, value: l.value })
      }
      return out
    },
    async maintain(now) {
      const h = history.maintain(now)
      const ev = deleteOldEvents.run({ before: now - opts.replayMs }).changes
      if (h.removed.some((n) => n > 0)) forgetEmptySeries()
      if (h.closedRows > 0 || h.removed.some((n) => n > 0) || ev > 0) measured = null
      return { ...h, events: ev }
    },
    acceptsFrom(now) {
      return now - opts.retentionMs.raw
    },
    async storageStats() {
      const m = measure(Date.now())
      const c = history.counts()
      return {
        dbBytes: fileSize(file),
        walBytes: fileSize(`${file}-wal`),
        series: seriesIds.size,
        tiers: c.tiers.map((t, i) => ({ ...t, bytes: m.tierBytes[i] ?? 0 })),
        openSamples: c.buffered,
        openEncoded: c.encoded,
        headBytes: m.headBytes,
        lateSamples: c.late,
        lateWaiting: history.lateWaiting,
        lateMerges: lateMerges + history.mergedOnRead,
        events: { retained: m.retained, oldestId: selectOldestEvent.get()?.id ?? null, lastId },
      }
    },
    async close() {
      if (lateTimer) clearTimeout(lateTimer)
      // What fails to merge now stays in the late table and is merged by the next process
      mergeLate(() => true)
      sqlite.pragma('wal_checkpoint(TRUNCATE)')
      sqlite.close()
    },
  }
}
