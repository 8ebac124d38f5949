import type Database from 'better-sqlite3'
import { and, asc, desc, eq, gte, lt, lte, min, sql, sum } from 'drizzle-orm'
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3'
import { chunks1h, chunks1m, chunksRaw, head, late, meta } from '../../db/schema.ts'
import { SampleBuffer, Triples, unpackHead } from './buffer.ts'
import { decodeChunk, encodeChunk } from './codec.ts'
import { LateBuffer, type LateGroup } from './late.ts'
import { lastOf, OpenSeries } from './open.ts'
import {
  type Accumulator,
  alignDown,
  type Buckets,
  LATE_MS,
  mergeBuckets,
  planRange,
  rollup,
  TIERS,
  type TierSpec,
  WINDOW_MS,
} from './tiers.ts'
import { chunkSamples, encodeBuckets, rowBuckets, windowRows } from './window.ts'

const CLOSED_KEY = 'history.closed_up_to'
const TABLES = [chunksRaw, chunks1m, chunks1h] as const

export interface HistoryOptions {
  /** Age limit of each tier, in TIERS order (raw, 1m, 1h). */
  retentionMs: readonly number[]
}

export interface TierCounts {
  tier: TierSpec['name']
  /** Raw: samples; rollup tiers: buckets. */
  samples: number
  retentionMs: number
}

const asBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength)
const windowOf = (ts: number): number => alignDown(ts, WINDOW_MS)
/**
 * Open samples held plain (16 B each) before the largest series are encoded (about 1.5 B each): 2 M samples, about
 * 32 MiB. A host's 200 series never reach it; a fleet of 100 such hosts passes it within two minutes at 1 Hz.
 */
const PLAIN_BUDGET = 2_000_000
/** Samples encoded at most per write while over the budget: about 3 ms of work. */
const ENCODE_PER_WRITE = 10_000
/** A tail shorter than this is not worth a segment. */
const ENCODE_MIN_TAIL = 64

/**
 * Metric history in tiers: writes go to the durable head and to per-series buffers; each hour, once it is
 * LATE_MS old, every series' samples close into one raw chunk plus its 1-minute and 1-hour rollups, in one
 * transaction, and the head rows they came from go. Reads pick a tier and merge the others in at its edges.
 */
export class History {
  readonly #buffers = new Map<number, OpenSeries>()
  /** Open samples held plain, over every series; past PLAIN_BUDGET the largest tails are encoded. */
  #plain = 0
  /** Series to encode next, largest tails first, while over the budget. */
  #encodeQueue: number[] = []
  /** When no tail was worth encoding, the plain count to wait for before looking again. */
  #encodeAfter = 0
  readonly #counts = TIERS.map(() => 0)
  readonly #floors = TIERS.map(() => Number.POSITIVE_INFINITY)
  #closedUpTo: number
  /** Samples older than this (raw retention from the last housekeeping) are refused: their chunks are gone. */
  #floor = Number.NEGATIVE_INFINITY
  #refused = 0
  readonly #staged = new Triples()
  #stagedMin = Number.POSITIVE_INFINITY
  #stagedMax = Number.NEGATIVE_INFINITY
  readonly #lateStaged = new Triples()
  readonly #late = new LateBuffer()
  #mergedOnRead = 0
  readonly #stmt

  constructor(
    private readonly sqlite: Database.Database,
    db: BetterSQLite3Database,
    private readonly opts: HistoryOptions,
  ) {
    const tier = TABLES.map((t) => ({
      insert: db
        .insert(t)
        .values({
          seriesId: sql.placeholder('id'),
          startTs: sql.placeholder('start'),
          count: sql.placeholder('count'),
          data: sql.placeholder('data'),
        })
        .onConflictDoUpdate({
          target: [t.seriesId, t.startTs],
          set: { count: sql`excluded.count`, data: sql`excluded.data` },
        })
        .prepare(),
      one: db
        .select({ count: t.count, data: t.data })
        .from(t)
        .where(and(eq(t.seriesId, sql.placeholder('id')), eq(t.startTs, sql.placeholder('start'))))
        .prepare(),
      range: db
        .select({ data: t.data })
        .from(t)
        .where(
          and(
            eq(t.seriesId, sql.placeholder('id')),
            gte(t.startTs, sql.placeholder('from')),
            lt(t.startTs, sql.placeholder('to')),
          ),
        )
        .orderBy(asc(t.startTs))
        .prepare(),
      newest: db
        .select({ data: t.data })
        .from(t)
        .where(eq(t.seriesId, sql.placeholder('id')))
        .orderBy(desc(t.startTs))
        .limit(1)
        .prepare(),
      countUpTo: db
        .select({ n: sum(t.count).mapWith(Number) })
        .from(t)
        .where(lte(t.startTs, sql.placeholder('limit')))
        .prepare(),
      deleteUpTo: db
        .delete(t)
        .where(lte(t.startTs, sql.placeholder('limit')))
        .prepare(),
      floor: db
        .select({ start: min(t.startTs) })
        .from(t)
        .prepare(),
      total: db
        .select({ n: sum(t.count).mapWith(Number) })
        .from(t)
        .prepare(),
    }))
    this.#stmt = {
      tier,
      insertHead: db
        .insert(head)
        .values({
          minTs: sql.placeholder('minTs'),
          maxTs: sql.placeholder('maxTs'),
          data: sql.placeholder('data'),
        })
        .prepare(),
      deleteHead: db
        .delete(head)
        .where(lt(head.maxTs, sql.placeholder('before')))
        .prepare(),
      insertLate: db
        .insert(late)
        .values({ data: sql.placeholder('data') })
        .returning({ id: late.id })
        .prepare(),
      deleteLate: this.sqlite.prepare('delete from late where id in (select value from json_each(?))'),
      saveClosed: db
        .insert(meta)
        .values({ key: CLOSED_KEY, value: sql.placeholder('value') })
        .onConflictDoUpdate({ target: meta.key, set: { value: sql`excluded.value` } })
        .prepare(),
    }

    const saved = db.select({ value: meta.value }).from(meta).where(eq(meta.key, CLOSED_KEY)).get()
    this.#closedUpTo = saved ? Number(saved.value) : Number.NEGATIVE_INFINITY
    tier.forEach((t, i) => {
      this.#counts[i] = t.total.get()?.n ?? 0
    })
    this.#refreshFloors()
    for (const row of db.select().from(head).orderBy(asc(head.id)).all()) {
      unpackHead(row.minTs, row.maxTs, row.data, (id, ts, value) => {
        if (ts >= this.#closedUpTo) this.#buffer(id).add(ts, value)
      })
    }
    for (const open of this.#buffers.values()) this.#plain += open.plain
    while (this.#plain > PLAIN_BUDGET && this.#encodeSome() > 0) {}
    // Late samples not yet merged when the last process ended, in the order they were written
    for (const row of db.select().from(late).orderBy(asc(late.id)).all()) {
      const f = new Float64Array(row.data.buffer.slice(row.data.byteOffset, row.data.byteOffset + row.data.byteLength))
      this.#late.addRow(row.id, f, Math.floor(f.length / 3), windowOf, performance.now())
    }
  }

  get closedUpTo(): number {
    return this.#closedUpTo
  }

  /** Queues one sample of the write in progress; `commit` makes the write durable. */
  stage(id: number, ts: number, value: number): void {
    // Checked here, not when the hour closes: one bad timestamp there would stop every close after it
    if (!Number.isSafeInteger(ts) || Math.abs(ts) > 2 ** 50)
      throw new RangeError(`timestamp ${ts} is not an integer ms`)
    if (ts < this.#closedUpTo) {
      this.#stageLate(id, ts, value)
      return
    }
    this.#staged.push(id, ts, value)
    if (ts < this.#stagedMin) this.#stagedMin = ts
    if (ts > this.#stagedMax) this.#stagedMax = ts
  }

  #stageLate(id: number, ts: number, value: number): void {
    if (ts < this.#floor) {
      this.#refused++
      return
    }
    this.#lateStaged.push(id, ts, value)
  }

  /** Writes the staged samples to the head (late ones to the late table), then to the buffers. Call inside the caller's transaction. */
  commit(): number {
    const lateN = this.#lateStaged.n
    if (lateN > 0) {
      const triples = this.#lateStaged.view()
      const row = this.#stmt.insertLate.get({
        data: Buffer.from(triples.buffer, triples.byteOffset, triples.byteLength),
      })
      if (!row) throw new Error('could not store late samples')
      this.#late.addRow(row.id, triples, lateN, windowOf, performance.now())
      this.#lateStaged.n = 0
    }
    const n = this.#staged.n
    if (n === 0) return lateN
    const s = this.#staged.data
    const oneTs = this.#stagedMin === this.#stagedMax
    let payload: Float64Array
    if (oneTs) {
      // Packed in place into the front of the staging buffer: pair i never overwrites a triple still to be read
      for (let i = 0; i < n; i++) {
        const id = s[i * 3] as number
        const value = s[i * 3 + 2] as number
        s[i * 2] = id
        s[i * 2 + 1] = value
      }
      payload = s.subarray(0, n * 2)
    } else payload = s.subarray(0, n * 3)
    this.#stmt.insertHead.run({
      minTs: this.#stagedMin,
      maxTs: this.#stagedMax,
      data: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
    })
    const ts = this.#stagedMin
    let plain = 0
    if (oneTs) for (let i = 0; i < n; i++) plain += +this.#buffer(s[i * 2] as number).add(ts, s[i * 2 + 1] as number)
    else
      for (let i = 0; i < n; i++)
        plain += +this.#buffer(s[i * 3] as number).add(s[i * 3 + 1] as number, s[i * 3 + 2] as number)
    this.#plain += plain
    if (this.#plain > Math.max(PLAIN_BUDGET, this.#encodeAfter)) this.#encodeSome()
    this.discard()
    return n + lateN
  }

  discard(): void {
    this.#lateStaged.n = 0
    this.#staged.n = 0
    this.#stagedMin = Number.POSITIVE_INFINITY
    this.#stagedMax = Number.NEGATIVE_INFINITY
  }

  /** Closes every window that ended LATE_MS before `now`, then applies retention. */
  maintain(now: number): { closedRows: number; removed: number[] } {
    this.#floor = now - (this.opts.retentionMs[0] ?? Number.POSITIVE_INFINITY)
    let closedRows = 0
    const cutoff = alignDown(now - LATE_MS, WINDOW_MS)
    if (cutoff > this.#closedUpTo) {
      // Buffers change only once the transaction has committed: a failed close (a full disk) leaves them whole
      const closed: OpenSeries[] = []
      const counts = [...this.#counts]
      try {
        this.sqlite.transaction(() => {
          for (const [id, open] of this.#buffers) {
            const windows = open.windowsBefore(cutoff)
            for (const window of windows) {
              const { buf, i, end } = open.window(window)
              this.#closeWindow(id, window, buf, i, end)
              closedRows++
            }
            if (windows.length > 0) closed.push(open)
          }
          this.#stmt.deleteHead.run({ before: cutoff })
          this.#stmt.saveClosed.run({ value: String(cutoff) })
        })()
      } catch (err) {
        counts.forEach((n, t) => {
          this.#counts[t] = n
        })
        throw err
      }
      for (const open of closed) open.dropBefore(cutoff)
      this.#plain = 0
      for (const [id, open] of this.#buffers) {
        if (open.n === 0) this.#buffers.delete(id)
        this.#plain += open.plain
      }
      this.#closedUpTo = cutoff
    }
    const removed = TIERS.map((spec, t) => {
      const stmt = this.#stmt.tier[t]
      if (!stmt) return 0
      const limit = now - (this.opts.retentionMs[t] ?? Number.POSITIVE_INFINITY) - spec.groupMs
      const n = stmt.countUpTo.get({ limit })?.n ?? 0
      if (n > 0) stmt.deleteUpTo.run({ limit })
      this.#counts[t] = (this.#counts[t] as number) - n
      return n
    })
    this.#refreshFloors()
    return { closedRows, removed }
  }

  /** `points` buckets at most over [from, to], from the coarsest tier fine enough, other tiers filling its gaps. */
  range(id: number, from: number, to: number, points: number) {
    // A read sees every acknowledged write: the series' late samples are merged first
    if (this.#late.groups > 0) this.#mergedOnRead += this.mergeLate((g) => g.seriesId === id)
    const { stepMs, tier, acc, spans } = planRange(from, to, points, this.#closedUpTo, this.#floors)
    for (const [t, a, b] of spans) this.#feed(t, id, a, b, acc)
    return { stepMs, tier, points: acc.points() }
  }

  /** The time of the newest sample of a series, or null when it has none. */
  newest(id: number): number | null {
    const open = this.#buffers.get(id)?.newest()
    if (open !== undefined && open !== null) return open
    for (const stmt of this.#stmt.tier) {
      const row = stmt.newest.get({ id })
      if (row) {
        const { ts } = decodeChunk(row.data)
        return ts.length > 0 ? (ts[ts.length - 1] as number) : null
      }
    }
    return null
  }

  /**
   * The newest raw sample of a series, value and all: from its open samples, else its newest raw chunk. Null when
   * raw history has none (rollups keep no last value).
   */
  newestSample(id: number): { ts: number; value: number } | null {
    const open = this.#buffers.get(id)?.newestSample()
    if (open) return open
    const row = this.#stmt.tier[0]?.newest.get({ id })
    return row ? lastOf(decodeChunk(row.data)) : null
  }

  /** Series ids that still have buffered samples. */
  buffered(): number[] {
    return [...this.#buffers.keys()]
  }

  /** Windows merged because a read asked for their series before they fell idle. */
  get mergedOnRead(): number {
    return this.#mergedOnRead
  }

  /** Late samples waiting to be merged. */
  get lateWaiting(): number {
    return this.#late.size
  }

  /**
   * Merges the late groups `pick` chooses into their windows, in one transaction: each window's raw chunk gets
   * its late samples (the late one winning a tie) and its 1-minute and 1-hour buckets are recomputed from the
   * merged chunk, exactly. Returns how many windows were rewritten.
   */
  mergeLate(pick: (g: LateGroup) => boolean = () => true): number {
    const groups = this.#late.select(pick)
    if (groups.length === 0) return 0
    const counts = [...this.#counts]
    try {
      this.sqlite.transaction(() => {
        for (const g of groups) this.#rewriteWindow(g.seriesId, g.window, g.samples)
        const free = this.#late.unreferenced(groups)
        if (free.length > 0) this.#stmt.deleteLate.run(JSON.stringify(free))
      })()
    } catch (err) {
      counts.forEach((n, t) => {
        this.#counts[t] = n
      })
      throw err
    }
    this.#late.forget(groups)
    this.#refreshFloors()
    return groups.length
  }

  counts(): { tiers: TierCounts[]; buffered: number; encoded: number; late: number } {
    let buffered = 0
    for (const b of this.#buffers.values()) buffered += b.n
    return {
      tiers: TIERS.map((spec, t) => ({
        tier: spec.name,
        samples: (this.#counts[t] as number) + (t === 0 ? buffered : 0),
        retentionMs: this.opts.retentionMs[t] ?? Number.POSITIVE_INFINITY,
      })),
      buffered,
      encoded: buffered - this.#plain,
      late: this.#refused,
    }
  }

  /**
   * Encodes the largest plain tails, up to ENCODE_PER_WRITE samples, so a write over the budget pays a bounded
   * share of the work and the rest waits for the next one.
   */
  #encodeSome(): number {
    let done = 0
    while (done < ENCODE_PER_WRITE && this.#plain > PLAIN_BUDGET / 2) {
      if (this.#encodeQueue.length === 0) {
        this.#encodeQueue = [...this.#buffers]
          .filter(([, open]) => open.plain >= ENCODE_MIN_TAIL)
          .sort((a, b) => a[1].plain - b[1].plain)
          .map(([id]) => id)
        if (this.#encodeQueue.length === 0) {
          // Many series with short tails: looked at again once the plain samples grew by a good share
          this.#encodeAfter = this.#plain + PLAIN_BUDGET / 4
          break
        }
      }
      const open = this.#buffers.get(this.#encodeQueue.pop() as number)
      const moved = open?.encode() ?? 0
      this.#plain -= moved
      done += moved
    }
    return done
  }

  #buffer(id: number): OpenSeries {
    let b = this.#buffers.get(id)
    if (!b) {
      b = new OpenSeries()
      this.#buffers.set(id, b)
    }
    return b
  }

  #refreshFloors(): void {
    this.#stmt.tier.forEach((stmt, t) => {
      this.#floors[t] = stmt.floor.get()?.start ?? Number.POSITIVE_INFINITY
    })
  }

  /** One series' samples of one window: the raw chunk, and its buckets merged into the rollup rows. */
  #closeWindow(id: number, window: number, buf: SampleBuffer, i: number, end: number): void {
    const raw = this.#stmt.tier[0]
    if (!raw) return
    if (raw.one.get({ id, start: window })) {
      // A window closed twice (history imported over live data): merged, the newer write winning on a tie
      const add = new SampleBuffer()
      for (let k = i; k < end; k++) add.add(buf.ts[k] as number, buf.v[k] as number)
      this.#rewriteWindow(id, window, add)
    } else this.#writeWindow(id, window, buf, i, end)
  }

  /**
   * Merges `add` into a window that has (or may have) a chunk already, `add` winning a tie, and recomputes the
   * window's buckets in every rollup tier from the merged samples: exact, whatever was replaced.
   */
  #rewriteWindow(id: number, window: number, add: SampleBuffer): void {
    const raw = this.#stmt.tier[0]
    if (!raw) return
    const prior = raw.one.get({ id, start: window })
    const merged = chunkSamples(prior?.data ?? null)
    for (let k = 0; k < add.n; k++) merged.add(add.ts[k] as number, add.v[k] as number)
    const priorCounts = TIERS.map(() => 0)
    priorCounts[0] = prior?.count ?? 0
    const rows = windowRows(window, merged, (t, start) => {
      const row = this.#stmt.tier[t]?.one.get({ id, start })
      priorCounts[t] = row?.count ?? 0
      return row?.data ?? null
    })
    for (const row of rows) {
      this.#stmt.tier[row.tier]?.insert.run({ id, start: row.start, count: row.count, data: row.data })
      this.#counts[row.tier] = (this.#counts[row.tier] as number) + row.count - (priorCounts[row.tier] as number)
    }
  }

  /** Writes samples `i..end` of a window that has no chunk yet as its raw chunk, and rolls them up. */
  #writeWindow(id: number, window: number, buf: SampleBuffer, i: number, end: number): void {
    this.#stmt.tier[0]?.insert.run({
      id,
      start: window,
      count: end - i,
      data: asBuffer(encodeChunk(buf.ts, [buf.v], i, end)),
    })
    this.#counts[0] = (this.#counts[0] as number) + end - i
    for (let t = 1; t < TIERS.length; t++) {
      const spec = TIERS[t] as TierSpec
      this.#mergeRollup(t, id, alignDown(window, spec.groupMs), rollup(buf.ts, buf.v, i, end, spec.resMs))
    }
  }

  /** Merges `add` into a rollup row. */
  #mergeRollup(t: number, id: number, start: number, add: Buckets): void {
    const stmt = this.#stmt.tier[t]
    if (!stmt) return
    const prior = stmt.one.get({ id, start })
    const b = prior
      ? mergeBuckets(
          rowBuckets(prior.data, () => true),
          add,
        )
      : add
    stmt.insert.run({ id, start, count: b.ts.length, data: encodeBuckets(b) })
    this.#counts[t] = (this.#counts[t] as number) + b.ts.length - (prior?.count ?? 0)
  }

  /** Feeds tier `t`'s data in [a, b) to the accumulator: decoded rows, and for raw the open buffer too. */
  #feed(t: number, id: number, a: number, b: number, acc: Accumulator): void {
    const spec = TIERS[t] as TierSpec
    const stmt = this.#stmt.tier[t]
    if (!stmt) return
    for (const row of stmt.range.all({ id, from: alignDown(a, spec.groupMs), to: b })) {
      const { ts, cols } = decodeChunk(row.data)
      const c0 = cols[0] as Float64Array
      for (let k = 0; k < ts.length; k++) {
        const at = ts[k] as number
        if (at < a || at >= b) continue
        if (t === 0) acc.add(at, c0[k] as number, c0[k] as number, c0[k] as number, 1)
        else {
          const [, mx, sm, ct] = cols as [Float64Array, Float64Array, Float64Array, Float64Array]
          acc.add(at, c0[k] as number, mx[k] as number, sm[k] as number, ct[k] as number)
        }
      }
    }
    if (t === 0) this.#buffers.get(id)?.each(a, b, (at, v) => acc.add(at, v, v, v, 1))
  }
}
