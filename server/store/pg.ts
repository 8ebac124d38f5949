import { decodeChunk } from './codec.ts'
import { lastOf } from './open.ts'
import type { PgDb } from './pg-db.ts'
import { PgHistory } from './pg-history.ts'
import { SeriesIndex } from './series-index.ts'
import type { Cursor, NamedSample, SeriesRange, StorageStats, Store, StoredEvent } from './store.ts'
import { TIERS, WINDOW_MS } from './tiers.ts'

/**
 * Each series' newest open sample and, when the series has no open sample newer than its newest raw chunk could
 * hold (its open samples are late ones for closed hours, or it has none), that chunk.
 */
const NEWEST = `SELECT s.host, s.name, o.ts, o.value,
    CASE WHEN o.ts IS NULL OR o.ts < c.start_ts + ${WINDOW_MS} THEN c.data END AS data
  FROM series s
  LEFT JOIN LATERAL (SELECT ts, value FROM open_samples WHERE series_id = s.id ORDER BY ts DESC LIMIT 1) o ON true
  LEFT JOIN LATERAL (SELECT start_ts, data FROM chunks_raw WHERE series_id = s.id ORDER BY start_ts DESC LIMIT 1) c
    ON true`

interface NewestRow {
  host: string
  name: string
  ts: string | null
  value: number | null
  data: Buffer | null
}

/** The rows' newest samples at or after `since`: the later of the open one and the chunk's last, the open on a tie. */
function newestOf(rows: readonly NewestRow[], since = Number.NEGATIVE_INFINITY) {
  const out: [NewestRow, { ts: number; value: number }][] = []
  for (const row of rows) {
    const open = row.ts === null ? null : { ts: Number(row.ts), value: row.value as number }
    const chunk = row.data ? lastOf(decodeChunk(row.data)) : null
    const l = chunk && (!open || chunk.ts > open.ts) ? chunk : open
    if (l && l.ts >= since) out.push([row, l])
  }
  return out
}

export interface PgStoreOptions {
  /** The database; the caller owns it and closes it after the store. */
  pg: PgDb
  /** Age limit of each tier: raw samples, 1-minute and 1-hour rollups. */
  retentionMs: { raw: number; '1m': number; '1h': number }
  replayMs: number
  /** How long storage figures (row counts and sizes, which take a scan) are reused; 10 s by default. */
  statsTtlMs?: number
}

const DEFAULT_RANGE_MS = 3_600_000
const RESERVED_KEY = 'events.reserved_through'
/** A series with no data left in any tier is forgotten only this long after it was made: a hub may be writing it. */
const FORGET_AFTER_MS = 3_600_000

/**
 * One write, one statement, one round trip: samples (upserted, the last write of a time winning), events and an
 * ingest cursor, all or nothing. Arrays travel as parameters, so the statement is prepared once per connection.
 */
const WRITE = `WITH s AS (
    INSERT INTO open_samples (series_id, ts, value)
    SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::float8[])
    ON CONFLICT (series_id, ts) DO UPDATE SET value = excluded.value
  ), e AS (
    INSERT INTO events (id, ts, topic, event, data)
    SELECT * FROM unnest($4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::text[])
  ), c AS (
    INSERT INTO ingest_cursors (stream, through, updated_at)
    SELECT s, t, $11::bigint FROM unnest($9::text[], $10::bigint[]) AS u (s, t)
    ON CONFLICT (stream) DO UPDATE SET through = excluded.through, updated_at = excluded.updated_at
  ) SELECT 1`

/** Agent batches written together at most, and group statements in flight at once. */
const GROUP_MAX = 256
const GROUPS_IN_FLIGHT = 4

/** An agent batch waiting for its group's statement. */
interface Grouped {
  host: string
  staged: Staged
  cursor: Cursor | null
  done(err?: unknown): void
}

/** Samples of one write, as the columns the statement takes; a time written twice keeps its last value. */
class Staged {
  ids: number[] = []
  ts: number[] = []
  values: number[] = []
  #at = new Map<string, number>()

  add(id: number, ts: number, value: number, mayRepeat: boolean): void {
    if (mayRepeat) {
      const k = `${id}:${ts}`
      const at = this.#at.get(k)
      if (at !== undefined) {
        this.values[at] = value
        return
      }
      this.#at.set(k, this.ids.length)
    }
    this.ids.push(id)
    this.ts.push(ts)
    this.values.push(value)
  }
}

function checkTs(ts: number): void {
  // Checked at write time, not when the hour closes: one bad timestamp there would stop every close after it
  if (!Number.isSafeInteger(ts) || Math.abs(ts) > 2 ** 50) throw new RangeError(`timestamp ${ts} is not an integer ms`)
}

/**
 * The metric store on PostgreSQL (`VIGIL_DATABASE_URL`): the same contract as on SQLite, shared by every hub on the
 * database. Each write is one statement; housekeeping closes hours under a lock, so hubs never close one twice.
 * @example const store = await openPgStore({ pg: await openPgDb(url), retentionMs, replayMs: 900_000 })
 */
export async function openPgStore(opts: PgStoreOptions): Promise<Store> {
  const { pool } = opts.pg
  const history = new PgHistory(pool)
  const seriesIds = new SeriesIndex()
  const retention = TIERS.map((t) => opts.retentionMs[t.name])
  const statsTtlMs = opts.statsTtlMs ?? 10_000

  const start = await pool.query<{ last: string | null; reserved: string | null }>(
    'SELECT (SELECT max(id) FROM events) AS last, (SELECT value FROM meta WHERE key = $1) AS reserved',
    [RESERVED_KEY],
  )
  let lastId = Math.max(Number(start.rows[0]?.last ?? 0), Number(start.rows[0]?.reserved ?? 0))
  /** Samples older than raw retention from the last housekeeping are refused: their chunks are gone. */
  let floor = Number.NEGATIVE_INFINITY
  let refused = 0
  let lateMerges = 0
  let stats: { at: number; value: StorageStats } | null = null

  /** Ids of a host's series, made where missing; another hub making the same one at once is the same row. */
  async function idsFor(host: string, names: Iterable<string>, now: number): Promise<void> {
    const missing: string[] = []
    for (const name of names) if (seriesIds.get(host, name) === undefined) missing.push(name)
    if (missing.length === 0) return
    const r = await pool.query<{ id: string; name: string }>({
      name: 'vigil_series_make',
      text: `WITH made AS (
          INSERT INTO series (host, name, created_at) SELECT $1, n, $3 FROM unnest($2::text[]) AS n
          ON CONFLICT (host, name) DO NOTHING RETURNING id, name
        ) SELECT id, name FROM made UNION ALL SELECT id, name FROM series WHERE host = $1 AND name = ANY($2)`,
      values: [host, missing, now],
    })
    for (const row of r.rows) seriesIds.set(host, row.name, Number(row.id))
  }

  async function write(
    staged: Staged | null,
    events: readonly StoredEvent[],
    cursors: readonly Cursor[],
  ): Promise<void> {
    await pool.query({
      name: 'vigil_write',
      text: WRITE,
      values: [
        staged?.ids ?? [],
        staged?.ts ?? [],
        staged?.values ?? [],
        events.map((e) => e.id),
        events.map((e) => e.ts),
        events.map((e) => e.topic),
        events.map((e) => e.event),
        events.map((e) => e.data),
        cursors.map((c) => c.stream),
        cursors.map((c) => c.through),
        Date.now(),
      ],
    })
    for (const e of events) if (e.id > lastId) lastId = e.id
  }

  /** Stages a host's samples: non-finite values skipped, those past raw retention refused and counted. */
  async function stage(host: string, samples: Iterable<[name: string, ts: number, value: number]>, mayRepeat: boolean) {
    const list: [string, number, number][] = []
    for (const [name, ts, value] of samples) {
      checkTs(ts)
      if (!Number.isFinite(value)) continue
      if (ts < floor) {
        refused++
        continue
      }
      list.push([name, ts, value])
    }
    await idsFor(
      host,
      list.map((s) => s[0]),
      Date.now(),
    )
    const staged = new Staged()
    for (const [name, ts, value] of list) staged.add(seriesIds.get(host, name) as number, ts, value, mayRepeat)
    return staged
  }

  /**
   * Group commit for agent batches: the batches of many hosts that arrive while earlier groups are being written
   * go in one statement, each with its cursor, all or nothing; a failed group fails each of its batches, which
   * their agents send again. At the top of each second a hundred agents' ticks are one round trip, not a hundred.
   */
  let queue: Grouped[] = []
  let inFlight = 0
  /** Hosts with a batch in a group being written: their next batch waits for it, so a host's writes keep order. */
  const writing = new Map<string, number>()
  function flushGroups(): void {
    while (inFlight < GROUPS_IN_FLIGHT && queue.length > 0) {
      const group: Grouped[] = []
      const rest: Grouped[] = []
      for (const g of queue) (group.length < GROUP_MAX && !writing.has(g.host) ? group : rest).push(g)
      if (group.length === 0) return
      queue = rest
      for (const g of group) writing.set(g.host, (writing.get(g.host) ?? 0) + 1)
      inFlight++
      writeGroup(group)
        .then(
          () => {
            for (const g of group) g.done()
          },
          (err: unknown) => {
            for (const g of group) g.done(err)
          },
        )
        .finally(() => {
          for (const g of group) {
            const n = (writing.get(g.host) ?? 1) - 1
            if (n === 0) writing.delete(g.host)
            else writing.set(g.host, n)
          }
          inFlight--
          flushGroups()
        })
    }
  }
  async function writeGroup(group: readonly Grouped[]): Promise<void> {
    if (group.length === 1) {
      const [only] = group as [Grouped]
      return write(only.staged, [], only.cursor ? [only.cursor] : [])
    }
    const merged = new Staged()
    // One row may not be written twice in a statement: a host (or a spool) twice in a group is merged
    const repeats = new Set(group.map((g) => g.host)).size < group.length
    const cursors = new Map<string, Cursor>()
    for (const g of group) {
      const { ids, ts, values } = g.staged
      for (let i = 0; i < ids.length; i++) merged.add(ids[i] as number, ts[i] as number, values[i] as number, repeats)
      const c = g.cursor
      if (c && !(c.through <= (cursors.get(c.stream)?.through ?? Number.NEGATIVE_INFINITY))) cursors.set(c.stream, c)
    }
    return write(merged, [], [...cursors.values()])
  }

  function* tickSamples(ts: number, values: Readonly<Record<string, number>>) {
    for (const name in values) yield [name, ts, values[name] as number] as [string, number, number]
  }

  async function measure(): Promise<StorageStats> {
    const now = Date.now()
    if (stats && now - stats.at < statsTtlMs) return stats.value
    const { closedUpTo } = await history.bounds()
    const r = await pool.query<Record<string, string | null>>({
      name: 'vigil_stats',
      text: `SELECT pg_database_size(current_database()) AS db,
        (SELECT count(*) FROM series) AS series,
        (SELECT coalesce(sum(count), 0) FROM chunks_raw) AS n0, (SELECT coalesce(sum(count), 0) FROM chunks_1m) AS n1,
        (SELECT coalesce(sum(count), 0) FROM chunks_1h) AS n2,
        pg_total_relation_size('chunks_raw') AS b0, pg_total_relation_size('chunks_1m') AS b1,
        pg_total_relation_size('chunks_1h') AS b2, pg_total_relation_size('open_samples') AS head,
        (SELECT count(*) FROM open_samples WHERE ts >= $1) AS open, (SELECT count(*) FROM open_samples WHERE ts < $1) AS late,
        (SELECT count(*) FROM events) AS events, (SELECT min(id) FROM events) AS oldest`,
      values: [Number.isFinite(closedUpTo) ? closedUpTo : -(2 ** 52)],
    })
    const row = r.rows[0] ?? {}
    const n = (k: string) => Number(row[k] ?? 0)
    const late = n('late')
    const value: StorageStats = {
      dbBytes: n('db'),
      walBytes: 0,
      series: n('series'),
      tiers: TIERS.map((t, i) => ({
        tier: t.name,
        // Raw counts the open samples too, late ones included, as on SQLite
        samples: n(`n${i}`) + (i === 0 ? n('open') + late : 0),
        retentionMs: retention[i] as number,
        bytes: n(`b${i}`),
      })),
      openSamples: n('open'),
      openEncoded: 0,
      headBytes: n('head'),
      lateSamples: refused,
      lateWaiting: late,
      lateMerges,
      events: { retained: n('events'), oldestId: row.oldest ? Number(row.oldest) : null, lastId },
    }
    stats = { at: now, value }
    return value
  }

  return {
    async writeTick(host, ts, values, event) {
      await write(await stage(host, tickSamples(ts, values), false), event ? [event] : [], [])
    },
    async writeTicks(host, ticks, cursor) {
      const all = ticks.flatMap((t) => [...tickSamples(t.ts, t.values)])
      const staged = await stage(host, all, ticks.length > 1)
      await new Promise<void>((resolve, reject) => {
        queue.push({ host, staged, cursor, done: (err) => (err === undefined ? resolve() : reject(err)) })
        flushGroups()
      })
    },
    async writeSamples(host, batch) {
      await write(
        await stage(
          host,
          batch.map((s: NamedSample) => [s.name, s.ts, s.value]),
          true,
        ),
        [],
        [],
      )
    },
    async appendEvents(batch) {
      if (batch.length > 0) await write(null, batch, [])
    },
    async cursor(stream) {
      const r = await pool.query<{ through: string }>({
        name: 'vigil_cursor',
        text: 'SELECT through FROM ingest_cursors WHERE stream = $1',
        values: [stream],
      })
      return Number(r.rows[0]?.through ?? 0)
    },
    async eventsAfter(afterId, topics, limit) {
      const r = await pool.query<{ id: string; ts: string; topic: string; event: string; data: string }>({
        name: 'vigil_events_after',
        // `metrics` stands for every host's `metrics:<host>`, as on the bus
        text: `SELECT id, ts, topic, event, data FROM events
          WHERE id > $1 AND (topic = ANY($2) OR ($3 AND topic LIKE 'metrics:%')) ORDER BY id LIMIT $4`,
        values: [afterId, topics, topics.includes('metrics'), limit],
      })
      return r.rows.map((e) => ({ id: Number(e.id), ts: Number(e.ts), topic: e.topic, event: e.event, data: e.data }))
    },
    async oldestEventId() {
      const r = await pool.query<{ id: string | null }>('SELECT min(id) AS id FROM events')
      const id = r.rows[0]?.id
      return id === null || id === undefined ? null : Number(id)
    },
    lastEventId() {
      return lastId
    },
    async reserveEventIds(through) {
      await pool.query({
        name: 'vigil_reserve_ids',
        text: `INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
        values: [RESERVED_KEY, String(through)],
      })
    },
    async range(metric, host, fromArg, toArg, points): Promise<SeriesRange> {
      await idsKnown(host, metric)
      const id = seriesIds.get(host, metric)
      const to = toArg ?? (id === undefined ? null : await history.newest(id)) ?? Date.now()
      const from = fromArg ?? Math.max(0, to - DEFAULT_RANGE_MS)
      if (id === undefined) {
        const stepMs = Math.max(1, Math.ceil((to - from + 1) / points))
        return { seriesFound: false, from, to, stepMs, tier: 'raw', points: [] }
      }
      return { seriesFound: true, from, to, ...(await history.range(id, from, to, points)) }
    },
    async metricNames() {
      const r = await pool.query<{ id: string; host: string; name: string }>({
        name: 'vigil_series_all',
        text: 'SELECT id, host, name FROM series ORDER BY id',
      })
      for (const row of r.rows) seriesIds.set(row.host, row.name, Number(row.id))
      return r.rows.map((row) => ({ host: row.host, name: row.name }))
    },
    async countSeries(host, names) {
      const wanted = [...new Set(names)]
      if (wanted.every((n) => seriesIds.get(host, n) !== undefined)) return { have: seriesIds.count(host), added: 0 }
      const r = await pool.query<{ have: string; known: string }>({
        name: 'vigil_series_count',
        text: `SELECT count(*) AS have, count(*) FILTER (WHERE name = ANY($2)) AS known FROM series WHERE host = $1`,
        values: [host, wanted],
      })
      const have = Number(r.rows[0]?.have ?? 0)
      return { have, added: wanted.length - Number(r.rows[0]?.known ?? 0) }
    },
    async latest(since = Number.MIN_SAFE_INTEGER) {
      const r = await pool.query<NewestRow>({
        name: 'vigil_latest',
        text: `${NEWEST} WHERE o.ts >= $1 OR c.start_ts + ${WINDOW_MS} > $1`,
        values: [since],
      })
      return newestOf(r.rows, since).map(([row, l]) => ({ host: row.host, name: row.name, ...l }))
    },
    async latestOf(host, names) {
      const r = await pool.query<NewestRow>({
        name: 'vigil_latest_of',
        text: `${NEWEST} WHERE s.host = $1 AND s.name = ANY($2)`,
        values: [host, [...names]],
      })
      return new Map(newestOf(r.rows).map(([row, l]) => [row.name, l]))
    },
    async maintain(now) {
      floor = now - opts.retentionMs.raw
      const closed = await history.close(now)
      lateMerges += closed.merged
      const removed = await history.retain(now, retention)
      const ev = await pool.query({
        name: 'vigil_prune_events',
        // The newest event is kept whatever its age: it carries the id counter across restarts
        text: 'DELETE FROM events WHERE ts < $1 AND id < (SELECT max(id) FROM events)',
        values: [now - opts.replayMs],
      })
      if (removed.some((n) => n > 0)) {
        const gone = await pool.query<{ host: string; name: string }>({
          name: 'vigil_forget_series',
          text: `DELETE FROM series s WHERE s.created_at < $1
            AND NOT EXISTS (SELECT 1 FROM open_samples WHERE series_id = s.id)
            AND NOT EXISTS (SELECT 1 FROM chunks_raw WHERE series_id = s.id)
            AND NOT EXISTS (SELECT 1 FROM chunks_1m WHERE series_id = s.id)
            AND NOT EXISTS (SELECT 1 FROM chunks_1h WHERE series_id = s.id) RETURNING host, name`,
          values: [now - FORGET_AFTER_MS],
        })
        for (const g of gone.rows) seriesIds.delete(g.host, g.name)
      }
      stats = null
      return { closedRows: closed.closedRows, removed, events: ev.rowCount ?? 0 }
    },
    acceptsFrom(now) {
      return now - opts.retentionMs.raw
    },
    storageStats: measure,
    async close() {
      // The pool is the caller's: what is in flight finishes before it ends
    },
  }

  /** Learns the id of a series another hub made, so a read finds it. */
  async function idsKnown(host: string, name: string): Promise<void> {
    if (seriesIds.get(host, name) !== undefined) return
    const r = await pool.query<{ id: string }>({
      name: 'vigil_series_one',
      text: 'SELECT id FROM series WHERE host = $1 AND name = $2',
      values: [host, name],
    })
    const id = r.rows[0]?.id
    if (id !== undefined) seriesIds.set(host, name, Number(id))
  }
}
