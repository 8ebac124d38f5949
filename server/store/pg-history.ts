import type pg from 'pg'
import { SampleBuffer } from './buffer.ts'
import { decodeChunk } from './codec.ts'
import { type Accumulator, alignDown, LATE_MS, planRange, TIERS, type TierSpec, WINDOW_MS } from './tiers.ts'
import { chunkSamples, type TierRow, windowRows } from './window.ts'

const TABLES = ['chunks_raw', 'chunks_1m', 'chunks_1h'] as const
export const CLOSED_KEY = 'history.closed_up_to'
/**
 * Serializes closing and merging across every process on the database: two hubs merging late samples into the
 * same chunk at once would each write the chunk without the other's samples.
 */
export const HISTORY_LOCK_KEY = 0x76_69_67_68 // "vigh"
/** Series closed per transaction: their open samples of the closed hours are read and deleted at once. */
const CLOSE_GROUP = 200

function getOr<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key)
  if (v === undefined) {
    v = make()
    map.set(key, v)
  }
  return v
}

export interface PgHistoryCounts {
  /** Windows of samples past `closedUpTo` made into chunks. */
  closedRows: number
  /** Windows closed before that got late samples merged in. */
  merged: number
}

/**
 * Tiered history on PostgreSQL: the same chunks, rollups and read rules as `History` on SQLite, with the open hour
 * as rows of `open_samples`, so that every hub reads what any hub wrote. Housekeeping moves the samples of each
 * closed hour (and any that came late for one closed before) into their chunks, recomputing the rollups exactly.
 */
export class PgHistory {
  constructor(private readonly pool: pg.Pool) {}

  /** Where history was closed up to (every hub's closing moves it), and each tier's oldest row. */
  async bounds(): Promise<{ closedUpTo: number; floors: number[] }> {
    const r = await this.pool.query<{ closed: string | null; f0: string | null; f1: string | null; f2: string | null }>(
      {
        name: 'vigil_history_bounds',
        text: `SELECT (SELECT value FROM meta WHERE key = $1) AS closed,
        (SELECT min(start_ts) FROM chunks_raw) AS f0, (SELECT min(start_ts) FROM chunks_1m) AS f1,
        (SELECT min(start_ts) FROM chunks_1h) AS f2`,
        values: [CLOSED_KEY],
      },
    )
    const row = r.rows[0]
    const num = (v: string | null | undefined) => (v === null || v === undefined ? Number.POSITIVE_INFINITY : Number(v))
    return {
      closedUpTo: row?.closed ? Number(row.closed) : Number.NEGATIVE_INFINITY,
      floors: [num(row?.f0), num(row?.f1), num(row?.f2)],
    }
  }

  /** `points` buckets at most over [from, to], from the coarsest tier fine enough, other tiers filling its gaps. */
  async range(id: number, from: number, to: number, points: number) {
    const { closedUpTo, floors } = await this.bounds()
    const { stepMs, tier, acc, spans } = planRange(from, to, points, closedUpTo, floors)
    await Promise.all(
      spans.map(([t, a, b]) => (t === 0 ? this.#feedRaw(id, a, b, acc) : this.#feedRollup(t, id, a, b, acc))),
    )
    return { stepMs, tier, points: acc.points() }
  }

  /** The time of the newest sample of a series, or null when it has none. */
  async newest(id: number): Promise<number | null> {
    const open = await this.pool.query<{ ts: string | null }>({
      name: 'vigil_newest_open',
      text: 'SELECT max(ts) AS ts FROM open_samples WHERE series_id = $1',
      values: [id],
    })
    const ts = open.rows[0]?.ts
    if (ts !== null && ts !== undefined) return Number(ts)
    for (const table of TABLES) {
      const r = await this.pool.query<{ data: Buffer }>({
        name: `vigil_newest_${table}`,
        text: `SELECT data FROM ${table} WHERE series_id = $1 ORDER BY start_ts DESC LIMIT 1`,
        values: [id],
      })
      const row = r.rows[0]
      if (row) {
        const d = decodeChunk(row.data)
        return d.ts.length > 0 ? (d.ts[d.ts.length - 1] as number) : null
      }
    }
    return null
  }

  /**
   * Closes every window that ended LATE_MS before `now` and merges late samples into windows closed before, then
   * moves `closedUpTo`. Each group of series is one transaction under the history lock: a failure (the server
   * restarting) leaves its samples open, to be closed by the next run.
   */
  async close(now: number): Promise<PgHistoryCounts> {
    const cutoff = alignDown(now - LATE_MS, WINDOW_MS)
    const { closedUpTo } = await this.bounds()
    const counts: PgHistoryCounts = { closedRows: 0, merged: 0 }
    const due = await this.pool.query<{ id: string }>({
      name: 'vigil_close_due',
      text: `SELECT s.id FROM series s WHERE EXISTS
        (SELECT 1 FROM open_samples o WHERE o.series_id = s.id AND o.ts < $1) ORDER BY s.id`,
      values: [cutoff],
    })
    const ids = due.rows.map((r) => Number(r.id))
    for (let i = 0; i < ids.length; i += CLOSE_GROUP) {
      const c = await this.#closeGroup(ids.slice(i, i + CLOSE_GROUP), cutoff, closedUpTo)
      counts.closedRows += c.closedRows
      counts.merged += c.merged
    }
    if (cutoff > closedUpTo) {
      await this.pool.query({
        name: 'vigil_save_closed',
        text: `INSERT INTO meta (key, value) VALUES ($1, $2)
          ON CONFLICT (key) DO UPDATE SET value = GREATEST(meta.value::bigint, excluded.value::bigint)::text`,
        values: [CLOSED_KEY, String(cutoff)],
      })
    }
    return counts
  }

  /** Deletes each tier's rows past its retention; returns the samples (raw) or buckets removed per tier. */
  async retain(now: number, retentionMs: readonly number[]): Promise<number[]> {
    const removed: number[] = []
    for (const [t, spec] of TIERS.entries()) {
      const limit = now - (retentionMs[t] ?? Number.POSITIVE_INFINITY) - spec.groupMs
      if (!Number.isFinite(limit)) {
        removed.push(0)
        continue
      }
      const r = await this.pool.query<{ n: string }>({
        name: `vigil_retain_${TABLES[t]}`,
        text: `WITH d AS (DELETE FROM ${TABLES[t]} WHERE start_ts <= $1 RETURNING count)
          SELECT coalesce(sum(count), 0) AS n FROM d`,
        values: [limit],
      })
      removed.push(Number(r.rows[0]?.n ?? 0))
    }
    return removed
  }

  async #closeGroup(ids: number[], cutoff: number, closedUpTo: number): Promise<PgHistoryCounts> {
    const client = await this.pool.connect()
    try {
      await client.query('BEGIN')
      await client.query('SELECT pg_advisory_xact_lock($1)', [HISTORY_LOCK_KEY])
      const taken = await client.query<{ series_id: string; ts: string; value: number }>({
        name: 'vigil_close_take',
        text: 'DELETE FROM open_samples WHERE series_id = ANY($1) AND ts < $2 RETURNING series_id, ts, value',
        values: [ids, cutoff],
      })
      // Samples by series, then window, each window sorted by time
      const windows = new Map<number, Map<number, [number, number][]>>()
      for (const row of taken.rows) {
        const id = Number(row.series_id)
        const ts = Number(row.ts)
        const w = alignDown(ts, WINDOW_MS)
        const byWindow = getOr(windows, id, () => new Map<number, [number, number][]>())
        getOr(byWindow, w, () => []).push([ts, row.value])
      }
      const keys = (t: number) => {
        const out: [number, number][] = []
        for (const [id, byWindow] of windows) {
          const starts = new Set([...byWindow.keys()].map((w) => alignDown(w, (TIERS[t] as TierSpec).groupMs)))
          for (const start of starts) out.push([id, start])
        }
        return out
      }
      // Every stored row the group's windows touch, then the rows as rewritten: a rollup row a day's windows share
      // is rewritten window after window, in memory, and written once
      const rows = new Map<string, TierRow & { id: number }>()
      const prior = new Map<string, Buffer>()
      const key = (t: number, id: number, start: number) => `${t}:${id}:${start}`
      for (const t of TIERS.keys()) {
        const want = keys(t)
        if (want.length === 0) continue
        const r = await client.query<{ series_id: string; start_ts: string; data: Buffer }>({
          name: `vigil_close_prior_${TABLES[t]}`,
          text: `SELECT c.series_id, c.start_ts, c.data FROM ${TABLES[t]} c
            JOIN unnest($1::bigint[], $2::bigint[]) AS k(series_id, start_ts)
              ON c.series_id = k.series_id AND c.start_ts = k.start_ts`,
          values: [want.map((k) => k[0]), want.map((k) => k[1])],
        })
        for (const row of r.rows) prior.set(key(t, Number(row.series_id), Number(row.start_ts)), row.data)
      }
      const counts: PgHistoryCounts = { closedRows: 0, merged: 0 }
      for (const [id, byWindow] of windows) {
        for (const w of [...byWindow.keys()].sort((a, b) => a - b)) {
          const samples = (byWindow.get(w) as [number, number][]).sort((a, b) => a[0] - b[0])
          const stored = rows.get(key(0, id, w))?.data ?? prior.get(key(0, id, w)) ?? null
          const merged = stored ? chunkSamples(stored) : new SampleBuffer()
          for (const [ts, v] of samples) merged.add(ts, v)
          if (w < closedUpTo) counts.merged++
          else counts.closedRows++
          for (const row of windowRows(w, merged, (t, start) => {
            const k = key(t, id, start)
            return rows.get(k)?.data ?? prior.get(k) ?? null
          })) {
            rows.set(key(row.tier, id, row.start), { ...row, id })
          }
        }
      }
      for (const t of TIERS.keys()) {
        const list = [...rows.values()].filter((r) => r.tier === t)
        if (list.length === 0) continue
        await client.query({
          name: `vigil_close_write_${TABLES[t]}`,
          text: `INSERT INTO ${TABLES[t]} (series_id, start_ts, count, data)
            SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::bytea[])
            ON CONFLICT (series_id, start_ts) DO UPDATE SET count = excluded.count, data = excluded.data`,
          values: [list.map((r) => r.id), list.map((r) => r.start), list.map((r) => r.count), list.map((r) => r.data)],
        })
      }
      await client.query('COMMIT')
      return counts
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      client.release()
    }
  }

  /** Feeds raw samples in [a, b): closed chunks, with the open samples of the span winning over them at a tie. */
  async #feedRaw(id: number, a: number, b: number, acc: Accumulator): Promise<void> {
    const [chunks, open] = await Promise.all([
      this.pool.query<{ start_ts: string; data: Buffer }>({
        name: 'vigil_range_chunks_raw',
        text: `SELECT start_ts, data FROM chunks_raw WHERE series_id = $1 AND start_ts >= $2 AND start_ts < $3
          ORDER BY start_ts`,
        values: [id, alignDown(a, WINDOW_MS), b],
      }),
      this.pool.query<{ ts: string; value: number }>({
        name: 'vigil_range_open',
        text: 'SELECT ts, value FROM open_samples WHERE series_id = $1 AND ts >= $2 AND ts < $3 ORDER BY ts',
        values: [id, a, b],
      }),
    ])
    const openByWindow = new Map<number, SampleBuffer>()
    for (const row of open.rows) {
      const ts = Number(row.ts)
      const w = alignDown(ts, WINDOW_MS)
      getOr(openByWindow, w, () => new SampleBuffer()).add(ts, row.value)
    }
    const feed = (buf: SampleBuffer) => {
      for (let k = 0; k < buf.n; k++) {
        const at = buf.ts[k] as number
        const v = buf.v[k] as number
        if (at >= a && at < b) acc.add(at, v, v, v, 1)
      }
    }
    for (const row of chunks.rows) {
      const w = Number(row.start_ts)
      const add = openByWindow.get(w)
      if (add) {
        // Late samples not merged yet: the window's chunk with them in, by the last-write-wins rule
        const merged = chunkSamples(row.data)
        for (let k = 0; k < add.n; k++) merged.add(add.ts[k] as number, add.v[k] as number)
        openByWindow.delete(w)
        feed(merged)
        continue
      }
      const { ts, cols } = decodeChunk(row.data)
      const c0 = cols[0] as Float64Array
      for (let k = 0; k < ts.length; k++) {
        const at = ts[k] as number
        if (at >= a && at < b) acc.add(at, c0[k] as number, c0[k] as number, c0[k] as number, 1)
      }
    }
    for (const buf of openByWindow.values()) feed(buf)
  }

  async #feedRollup(t: number, id: number, a: number, b: number, acc: Accumulator): Promise<void> {
    const spec = TIERS[t] as TierSpec
    const r = await this.pool.query<{ data: Buffer }>({
      name: `vigil_range_${TABLES[t]}`,
      text: `SELECT data FROM ${TABLES[t]} WHERE series_id = $1 AND start_ts >= $2 AND start_ts < $3 ORDER BY start_ts`,
      values: [id, alignDown(a, spec.groupMs), b],
    })
    for (const row of r.rows) {
      const { ts, cols } = decodeChunk(row.data)
      const [mn, mx, sm, ct] = cols as [Float64Array, Float64Array, Float64Array, Float64Array]
      for (let k = 0; k < ts.length; k++) {
        const at = ts[k] as number
        if (at >= a && at < b) acc.add(at, mn[k] as number, mx[k] as number, sm[k] as number, ct[k] as number)
      }
    }
  }
}
