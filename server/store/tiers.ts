import type { SeriesPoint } from '../protocol/index.ts'

export type TierName = 'raw' | '1m' | '1h'

export interface TierSpec {
  name: TierName
  /** Bucket width; 1 for raw samples. */
  resMs: number
  /** The span one stored row covers, aligned to multiples of itself. */
  groupMs: number
}

/** Raw chunks close an hour at a time; the 1-minute rollup of that hour is written with it. */
export const WINDOW_MS = 3_600_000
export const TIERS: readonly TierSpec[] = [
  { name: 'raw', resMs: 1, groupMs: WINDOW_MS },
  { name: '1m', resMs: 60_000, groupMs: WINDOW_MS },
  { name: '1h', resMs: 3_600_000, groupMs: 86_400_000 },
]

/**
 * How long after its hour ends a window stays open. A sample for a window already closed is late: it is kept
 * durably and merged into the window's chunk in a batch, with the window's rollups recomputed.
 */
export const LATE_MS = 600_000

export const alignDown = (t: number, unit: number): number => Math.floor(t / unit) * unit

/** Buckets in time order, one array a field: the layout a rollup row is encoded from. */
export interface Buckets {
  ts: number[]
  min: number[]
  max: number[]
  sum: number[]
  count: number[]
}

export const emptyBuckets = (): Buckets => ({ ts: [], min: [], max: [], sum: [], count: [] })

/**
 * Rolls samples `start..end` (sorted by time) up into buckets of `resMs`. Sums run in time order, so they equal a
 * plain left-to-right sum over the same samples.
 */
export function rollup(ts: ArrayLike<number>, vs: ArrayLike<number>, start: number, end: number, resMs: number) {
  const out = emptyBuckets()
  let at = -1
  for (let i = start; i < end; i++) {
    const b = alignDown(ts[i] as number, resMs)
    const v = vs[i] as number
    if (at < 0 || out.ts[at] !== b) {
      out.ts.push(b)
      out.min.push(v)
      out.max.push(v)
      out.sum.push(v)
      out.count.push(1)
      at++
    } else {
      if (v < (out.min[at] as number)) out.min[at] = v
      if (v > (out.max[at] as number)) out.max[at] = v
      out.sum[at] = (out.sum[at] as number) + v
      out.count[at] = (out.count[at] as number) + 1
    }
  }
  return out
}

/** Merges two bucket lists by time; buckets with the same start combine (min of mins, sum of sums…). */
export function mergeBuckets(a: Buckets, b: Buckets): Buckets {
  const out = emptyBuckets()
  let i = 0
  let j = 0
  const take = (from: Buckets, k: number) => {
    const last = out.ts.length - 1
    if (last >= 0 && out.ts[last] === from.ts[k]) {
      out.min[last] = Math.min(out.min[last] as number, from.min[k] as number)
      out.max[last] = Math.max(out.max[last] as number, from.max[k] as number)
      out.sum[last] = (out.sum[last] as number) + (from.sum[k] as number)
      out.count[last] = (out.count[last] as number) + (from.count[k] as number)
      return
    }
    out.ts.push(from.ts[k] as number)
    out.min.push(from.min[k] as number)
    out.max.push(from.max[k] as number)
    out.sum.push(from.sum[k] as number)
    out.count.push(from.count[k] as number)
  }
  while (i < a.ts.length || j < b.ts.length) {
    if (j >= b.ts.length || (i < a.ts.length && (a.ts[i] as number) <= (b.ts[j] as number))) take(a, i++)
    else take(b, j++)
  }
  return out
}

/** The bucket width for at most `points` buckets over [origin, to], a whole number of `res`. */
export function stepFor(origin: number, to: number, points: number, res: number): number {
  return Math.ceil(Math.ceil((to - origin + 1) / points) / res) * res
}

/**
 * The coarsest tier whose buckets are no wider than the step a query needs and whose grid costs at most a quarter
 * of the points asked for (a 62 s step on the 1-minute tier would become 120 s and halve them).
 */
export function pickTier(wanted: number, from: number, to: number, points: number): number {
  for (let t = TIERS.length - 1; t > 0; t--) {
    const res = (TIERS[t] as TierSpec).resMs
    if (wanted >= res && stepFor(alignDown(from, res), to, points, res) <= wanted * 1.25) return t
  }
  return 0
}

/**
 * Query output: fixed-width buckets from `origin`, fed raw samples and stored buckets from any tier in any order.
 * Extremes stay true extremes: a stored bucket brings its own min and max, never its average.
 */
export class Accumulator {
  readonly #first: Float64Array
  readonly #min: Float64Array
  readonly #max: Float64Array
  readonly #sum: Float64Array
  readonly #count: Float64Array

  constructor(
    readonly origin: number,
    readonly stepMs: number,
    readonly size: number,
  ) {
    this.#first = new Float64Array(size).fill(Number.POSITIVE_INFINITY)
    this.#min = new Float64Array(size).fill(Number.POSITIVE_INFINITY)
    this.#max = new Float64Array(size).fill(Number.NEGATIVE_INFINITY)
    this.#sum = new Float64Array(size)
    this.#count = new Float64Array(size)
  }

  add(ts: number, min: number, max: number, sum: number, count: number): void {
    const k = Math.floor((ts - this.origin) / this.stepMs)
    if (k < 0 || k >= this.size) return
    if (ts < (this.#first[k] as number)) this.#first[k] = ts
    if (min < (this.#min[k] as number)) this.#min[k] = min
    if (max > (this.#max[k] as number)) this.#max[k] = max
    this.#sum[k] = (this.#sum[k] as number) + sum
    this.#count[k] = (this.#count[k] as number) + count
  }

  /** `[ts of the bucket's first data, avg, min, max]` for every bucket that got data. */
  points(): SeriesPoint[] {
    const out: SeriesPoint[] = []
    for (let k = 0; k < this.size; k++) {
      const n = this.#count[k] as number
      if (n > 0) {
        out.push([
          this.#first[k] as number,
          (this.#sum[k] as number) / n,
          this.#min[k] as number,
          this.#max[k] as number,
        ])
      }
    }
    return out
  }
}

/** Parts of `[from, to)` not yet covered by `taken`, given as sorted disjoint half-open intervals. */
export function uncovered(from: number, to: number, taken: readonly [number, number][]): [number, number][] {
  const out: [number, number][] = []
  let at = from
  for (const [a, b] of [...taken].sort((x, y) => x[0] - y[0])) {
    if (b <= at) continue
    if (a >= to) break
    if (a > at) out.push([at, Math.min(a, to)])
    at = Math.max(at, b)
    if (at >= to) break
  }
  if (at < to) out.push([at, to])
  return out
}

/**
 * How a range read is answered: the output grid (`acc`, on the chosen tier's resolution), and which tier serves
 * each span of [from, to]: the chosen one where it has data, finer tiers then coarser ones filling its gaps. The
 * raw tier covers from its oldest row on, the open samples included; rollups cover up to `closedUpTo`.
 */
export function planRange(from: number, to: number, points: number, closedUpTo: number, floors: readonly number[]) {
  const wanted = Math.max(1, Math.ceil((to - from + 1) / points))
  const chosen = pickTier(wanted, from, to, points)
  const res = (TIERS[chosen] as TierSpec).resMs
  // Output buckets sit on the tier's grid, so a stored bucket never straddles two of them
  const origin = alignDown(from, res)
  const stepMs = stepFor(origin, to, points, res)
  const acc = new Accumulator(origin, stepMs, Math.ceil((to - origin + 1) / stepMs))
  const order = [chosen]
  for (let t = chosen - 1; t >= 0; t--) order.push(t)
  for (let t = chosen + 1; t < TIERS.length; t++) order.push(t)
  const taken: [number, number][] = []
  const spans: [tier: number, a: number, b: number][] = []
  for (const t of order) {
    const floor = Math.min(floors[t] ?? Number.POSITIVE_INFINITY, closedUpTo)
    const cover: [number, number] = t === 0 ? [floor, Number.POSITIVE_INFINITY] : [floor, closedUpTo]
    for (const [a, b] of uncovered(Math.max(from, cover[0]), Math.min(to + 1, cover[1]), taken)) {
      spans.push([t, a, b])
      taken.push([a, b])
    }
  }
  return { stepMs, tier: (TIERS[chosen] as TierSpec).name, acc, spans }
}
