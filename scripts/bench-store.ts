/**
 * `npm run bench:store [-- --series 200 --days 7 --queries 100 --no-naive]`: history storage. Writes a synthetic
 * workload (N series at 1 Hz for D days, values shaped like a real host's: percentages, byte gauges, bursty
 * rates, mostly-idle counters, temperatures, constants) through the real store on a simulated clock, one
 * transaction per tick as the sampler does, housekeeping every simulated minute. Then prints ingest samples/s,
 * bytes per sample per tier, the file size, and p50/p99 query latency for 1 h, 24 h, 7 d and 30 d at 1,000
 * points. The baseline is a naive one-row-per-sample table with an index on (series, ts), filled with the same
 * samples (a minute of ticks per transaction) and queried with SQL bucketing, in the same run.
 *
 * `--backend postgres` also runs the same workload, sample for sample, through the PostgreSQL store on a private
 * server this script starts (Debian `postgresql`, in a temp dir, on a free port), and prints its figures beside
 * SQLite's with their ratios.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { openPgDb, openPgStore, openSqliteStore, type Store } from '../server/store/index.ts'
import { startPostgres } from '../server/testing/services.ts'
import { numberFlag, percentile } from './lib/proc.ts'

const SERIES = numberFlag('series', 200)
const DAYS = numberFlag('days', 7)
const QUERIES = numberFlag('queries', 100)
const NAIVE = !process.argv.includes('--no-naive')
const backendAt = process.argv.indexOf('--backend')
const BACKEND = backendAt < 0 ? 'sqlite' : process.argv[backendAt + 1]
if (BACKEND !== 'sqlite' && BACKEND !== 'postgres') {
  console.error(`--backend takes sqlite or postgres, not ${BACKEND}`)
  process.exit(2)
}
/** Naive range scans take seconds each at 7 days; fewer of them keep the run short. */
const NAIVE_QUERIES = Math.min(QUERIES, 30)
const HOUR = 3_600_000
const DAY = 24 * HOUR
const T0 = Date.UTC(2026, 9, 1)
const END = T0 + DAYS * DAY
const POINTS = 1000

/** xorshift32: fast, deterministic, good enough for synthetic noise; reset for each backend, so both get the same samples. */
const SEED = 2463534242
let seed = SEED
function rand(): number {
  seed ^= seed << 13
  seed ^= seed >>> 17
  seed ^= seed << 5
  return (seed >>> 0) / 4_294_967_296
}
const round = (v: number, d: number) => Math.round(v * 10 ** d) / 10 ** d

type Kind = 'pct' | 'bytes' | 'rate' | 'sparse' | 'temp' | 'load' | 'const'
/** Shares of each kind, after what a 16-core host with a few custom metrics reports. */
const MIX: [Kind, number][] = [
  ['pct', 0.25],
  ['bytes', 0.15],
  ['rate', 0.15],
  ['sparse', 0.15],
  ['temp', 0.1],
  ['load', 0.1],
  ['const', 0.1],
]

interface Gen {
  name: string
  kind: Kind
  next(): number
}

function generator(kind: Kind, i: number): Gen {
  const name = `bench.${kind}.s${i}`
  let v = rand()
  switch (kind) {
    case 'pct': {
      const mean = 5 + rand() * 60
      v = mean
      return {
        name,
        kind,
        next: () => {
          v = Math.min(100, Math.max(0, v + (mean - v) * 0.1 + (rand() - 0.5) * 6))
          return round(v, 2)
        },
      }
    }
    case 'bytes': {
      let pages = Math.floor(1e6 + rand() * 3e6)
      return {
        name,
        kind,
        next: () => {
          if (rand() < 0.6) pages += Math.floor((rand() - 0.5) * 200)
          return pages * 4096
        },
      }
    }
    case 'rate': {
      const base = 1e3 + rand() * 1e6
      return { name, kind, next: () => Math.round(rand() < 0.1 ? base * 20 * rand() : base * (0.8 + rand() * 0.4)) }
    }
    case 'sparse':
      return { name, kind, next: () => (rand() < 0.05 ? Math.round(rand() * 5e5) : 0) }
    case 'temp': {
      v = 40 + rand() * 20
      return {
        name,
        kind,
        next: () => {
          if (rand() < 0.3) v = Math.min(95, Math.max(30, v + (rand() - 0.5) * 2))
          return round(v, 1)
        },
      }
    }
    case 'load': {
      v = rand() * 4
      return {
        name,
        kind,
        next: () => {
          v = Math.max(0, v + (rand() - 0.5) * 0.1)
          return round(v, 2)
        },
      }
    }
    case 'const': {
      const c = Math.floor(rand() * 1e12)
      return { name, kind, next: () => c }
    }
  }
}

/** The series of the workload, from the start of the random sequence: the same for every backend. */
function makeGens(): Gen[] {
  seed = SEED
  const gens: Gen[] = []
  for (const [kind, share] of MIX) {
    const n = Math.round(share * SERIES)
    for (let k = 0; k < n && gens.length < SERIES; k++) gens.push(generator(kind, gens.length))
  }
  while (gens.length < SERIES) gens.push(generator('pct', gens.length))
  return gens
}

const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-store-'))
const ticks = DAYS * 86_400
const total = ticks * SERIES
const fmt = (n: number) => Math.round(n).toLocaleString('en')
console.log(
  `bench:store ${new Date().toISOString()} node ${process.version}, ${cpus().length} cores, ${SERIES} series × 1 Hz × ${DAYS} d = ${total.toLocaleString('en')} samples`,
)

interface Run {
  ingestMs: number
  rawBytes: number
  rawSamples: number
  latency: Map<string, [number, number]>
}

const ranges: [string, number][] = [
  ['1h', HOUR],
  ['24h', DAY],
  ['7d', 7 * DAY],
  ['30d', 30 * DAY],
]

/** p50 and p99 of `n` runs of `run`, in ms. */
async function percentiles(run: () => unknown, n: number): Promise<[number, number]> {
  const times: number[] = []
  for (let q = 0; q < n; q++) {
    const t0 = performance.now()
    await run()
    times.push(performance.now() - t0)
  }
  times.sort((a, b) => a - b)
  return [percentile(times, 50), percentile(times, 99)]
}

/** p50 and p99 per range of `n` queries, each over a random series and span of that length. */
async function latencyByRange(query: (s: number, from: number, to: number) => unknown, n: number) {
  const out = new Map<string, [number, number]>()
  for (const [label, span] of ranges) {
    out.set(
      label,
      await percentiles(() => {
        const s = Math.floor(rand() * SERIES)
        const to = span >= DAYS * DAY ? END - 1 : T0 + span + Math.floor(rand() * (DAYS * DAY - span)) - 1
        return query(s, to - span + 1, to)
      }, n),
    )
  }
  return out
}

const line = (m: ReadonlyMap<string, readonly [number, number]>) =>
  [...m].map(([l, [p50, p99]]) => `${l} p50 ${p50.toFixed(2)} ms p99 ${p99.toFixed(2)} ms`).join(', ')

/**
 * Writes the workload through `store` one tick at a time, housekeeping every simulated minute, then prints and
 * returns its ingest rate, tier sizes and query latencies. `beside` runs with every tick, off the clock.
 */
async function measure(label: string, store: Store, beside?: (ts: number, row: Float64Array) => void): Promise<Run> {
  const gens = makeGens()
  const values: Record<string, number> = {}
  const row = new Float64Array(SERIES)
  let ingestMs = 0
  for (let k = 0; k < ticks; k++) {
    const ts = T0 + k * 1000
    for (let s = 0; s < SERIES; s++) {
      const g = gens[s] as Gen
      const v = g.next()
      values[g.name] = v
      row[s] = v
    }
    const t = performance.now()
    await store.writeTick('bench', ts, values, null)
    if (ts % 60_000 === 0) await store.maintain(ts)
    ingestMs += performance.now() - t
    beside?.(ts, row)
  }
  const t = performance.now()
  await store.maintain(END + HOUR)
  ingestMs += performance.now() - t

  const stats = await store.storageStats()
  console.log(
    `${label} ingest: ${fmt(total / (ingestMs / 1000))} samples/s (${(ingestMs / 1000).toFixed(1)} s, one transaction per tick)`,
  )
  for (const tier of stats.tiers) {
    const per = tier.tier === 'raw' ? 'sample' : 'bucket'
    console.log(
      `  tier ${tier.tier.padEnd(3)}: ${fmt(tier.samples)} ${per}s, ${fmt(tier.bytes)} bytes stored (table + indexes) = ${(tier.bytes / Math.max(1, tier.samples)).toFixed(3)} B/${per}`,
    )
  }
  const latency = await latencyByRange(
    (s, from, to) => store.range((gens[s] as Gen).name, 'bench', from, to, POINTS),
    QUERIES,
  )
  console.log(`${label} query (${POINTS} points, ${QUERIES} each): ${line(latency)}`)
  const raw = stats.tiers[0]
  return { ingestMs, rawBytes: raw?.bytes ?? 0, rawSamples: raw?.samples ?? 0, latency }
}

/** Per-kind raw cost: the encoded chunk bytes of each kind's series over its samples. */
function printKinds(perSeries: { name: string; bytes: number; n: number }[]): void {
  const kinds = new Map<string, { bytes: number; n: number }>()
  for (const r of perSeries) {
    const kind = r.name.split('.')[1] ?? '?'
    const k = kinds.get(kind) ?? { bytes: 0, n: 0 }
    k.bytes += r.bytes
    k.n += r.n
    kinds.set(kind, k)
  }
  console.log(
    `  raw chunk payload by kind (B/sample): ${[...kinds].map(([k, v]) => `${k} ${(v.bytes / v.n).toFixed(2)}`).join(', ')}`,
  )
}

const CHUNK_BYTES_BY_SERIES =
  'select s.name as name, sum(length(c.data)) as bytes, sum(c.count) as n from chunks_raw c join series s on s.id = c.series_id group by s.name'

try {
  const store = openSqliteStore({
    dataDir: dir,
    retentionMs: { raw: 7 * DAY, '1m': 90 * DAY, '1h': 730 * DAY },
    replayMs: 900_000,
  })
  const naive = NAIVE ? new Database(join(dir, 'naive.db')) : null
  naive?.pragma('journal_mode = WAL')
  naive?.pragma('synchronous = NORMAL')
  naive?.exec('create table samples (series_id integer not null, ts integer not null, value real not null)')
  naive?.exec('create index samples_series_ts on samples (series_id, ts)')
  const naiveInsert = naive?.prepare('insert into samples (series_id, ts, value) values (?, ?, ?)')
  naive?.pragma('cache_size = -262144')
  // The baseline gets a minute of ticks per transaction (Vigil takes one per tick): per-tick commits made it
  // too slow to build 7 days in a benchmark run
  const pending: [number, Float64Array][] = []
  const naiveFlush = naive?.transaction(() => {
    for (const [ts, values] of pending) for (let s = 0; s < values.length; s++) naiveInsert?.run(s, ts, values[s])
  })
  let naiveMs = 0
  const naiveTick = naiveFlush
    ? (ts: number, values: Float64Array) => {
        const t = performance.now()
        pending.push([ts, values.slice()])
        if (pending.length === 60) {
          naiveFlush()
          pending.length = 0
        }
        naiveMs += performance.now() - t
      }
    : undefined

  const vigil = await measure('vigil', store, naiveTick)
  if (naiveFlush && pending.length > 0) {
    const t = performance.now()
    naiveFlush()
    naiveMs += performance.now() - t
  }
  const db = new Database(join(dir, 'vigil.db'), { readonly: true })
  printKinds(db.prepare(CHUNK_BYTES_BY_SERIES).all() as { name: string; bytes: number; n: number }[])
  db.close()
  await store.close()
  const vigilFile = statSync(join(dir, 'vigil.db')).size
  const vacuumDb = new Database(join(dir, 'vigil.db'))
  vacuumDb.exec('VACUUM')
  vacuumDb.close()
  const vacuumed = statSync(join(dir, 'vigil.db')).size
  console.log(
    `vigil file: ${fmt(vigilFile)} bytes (${(vigilFile / total).toFixed(3)} B/sample, every tier and the head); after VACUUM ${fmt(vacuumed)} bytes (${(vacuumed / total).toFixed(3)} B/sample)`,
  )

  if (naive) {
    naive.pragma('wal_checkpoint(TRUNCATE)')
    const naiveFile = statSync(join(dir, 'naive.db')).size
    console.log(
      `naive ingest: ${fmt(total / (naiveMs / 1000))} samples/s (${(naiveMs / 1000).toFixed(1)} s, 60 ticks per transaction); file ${fmt(naiveFile)} bytes = ${(naiveFile / total).toFixed(2)} B/sample`,
    )
    const bucketed = naive.prepare(
      `select min(ts) as ts, avg(value) as avg, min(value) as min, max(value) as max from samples
       where series_id = ? and ts between ? and ? group by (ts - ?) / ? order by 1`,
    )
    const naiveLatency = await latencyByRange(
      (s, from, to) => bucketed.all(s, from, to, from, Math.ceil((to - from + 1) / POINTS)),
      NAIVE_QUERIES,
    )
    console.log(`naive query (${POINTS} points, ${NAIVE_QUERIES} each): ${line(naiveLatency)}`)
    naive.close()
    console.log(
      `ratio (naive ÷ vigil): ingest ${(naiveMs / vigil.ingestMs).toFixed(2)}×, bytes/sample raw tier ${(naiveFile / vigil.rawBytes).toFixed(1)}×, whole file ${(naiveFile / vigilFile).toFixed(1)}×, ` +
        ranges
          .map(([l]) => `${l} p99 ${((naiveLatency.get(l)?.[1] ?? 0) / (vigil.latency.get(l)?.[1] ?? 1)).toFixed(1)}×`)
          .join(', '),
    )
  }

  if (BACKEND === 'postgres') await postgres(vigil)
} finally {
  rmSync(dir, { recursive: true, force: true })
}

/** The same workload through the PostgreSQL store, its figures beside SQLite's. */
async function postgres(sqlite: Run): Promise<void> {
  const server = await startPostgres()
  try {
    const pg = await openPgDb(await server.createDatabase(), { maxConnections: 4 })
    try {
      const store = await openPgStore({
        pg,
        retentionMs: { raw: 7 * DAY, '1m': 90 * DAY, '1h': 730 * DAY },
        replayMs: 900_000,
        statsTtlMs: 0,
      })
      const run = await measure('postgres', store)
      const perSeries = await pg.pool.query<{ name: string; bytes: string; n: string }>(CHUNK_BYTES_BY_SERIES)
      printKinds(perSeries.rows.map((r) => ({ name: r.name, bytes: Number(r.bytes), n: Number(r.n) })))
      const size = await pg.pool.query<{ n: string }>('select pg_database_size(current_database()) as n')
      const dbBytes = Number(size.rows[0]?.n ?? 0)
      console.log(`postgres database: ${fmt(dbBytes)} bytes (${(dbBytes / total).toFixed(3)} B/sample, every tier)`)
      await store.close()
      const rawPer = (r: Run) => r.rawBytes / Math.max(1, r.rawSamples)
      console.log(
        `ratio (postgres ÷ sqlite): ingest ${(run.ingestMs / sqlite.ingestMs).toFixed(2)}× the time, raw B/sample ${(rawPer(run) / rawPer(sqlite)).toFixed(2)}×, ` +
          ranges
            .map(
              ([l]) => `${l} p99 ${((run.latency.get(l)?.[1] ?? 0) / (sqlite.latency.get(l)?.[1] ?? 1)).toFixed(1)}×`,
            )
            .join(', '),
      )
    } finally {
      await pg.close()
    }
  } finally {
    await server.stop()
  }
}
