import { SampleBuffer } from './buffer.ts'
import { decodeChunk, encodeChunk } from './codec.ts'
import {
  alignDown,
  type Buckets,
  emptyBuckets,
  mergeBuckets,
  rollup,
  TIERS,
  type TierSpec,
  WINDOW_MS,
} from './tiers.ts'

/** A row of a tier table as written: its tier (index in TIERS), start, sample or bucket count and encoded data. */
export interface TierRow {
  tier: number
  start: number
  count: number
  data: Buffer
}

const asBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength)

/** The samples of a raw chunk, in a buffer that more samples can be merged into by the last-write-wins rule. */
export function chunkSamples(data: Uint8Array | null): SampleBuffer {
  const out = new SampleBuffer()
  if (!data) return out
  const { ts, cols } = decodeChunk(data)
  const v = cols[0] as Float64Array
  for (let k = 0; k < ts.length; k++) out.add(ts[k] as number, v[k] as number)
  return out
}

/** A rollup row's buckets, keeping those `keep` says. */
export function rowBuckets(data: Uint8Array, keep: (ts: number) => boolean): Buckets {
  const { ts, cols } = decodeChunk(data)
  const [mn, mx, sm, ct] = cols as [Float64Array, Float64Array, Float64Array, Float64Array]
  const kept = emptyBuckets()
  for (let k = 0; k < ts.length; k++) {
    const at = ts[k] as number
    if (!keep(at)) continue
    kept.ts.push(at)
    kept.min.push(mn[k] as number)
    kept.max.push(mx[k] as number)
    kept.sum.push(sm[k] as number)
    kept.count.push(ct[k] as number)
  }
  return kept
}

export const encodeBuckets = (b: Buckets): Buffer => asBuffer(encodeChunk(b.ts, [b.min, b.max, b.sum, b.count]))

/**
 * Every row a window's samples become: its raw chunk, and for each rollup tier the row that holds the window,
 * its buckets for the window recomputed from `merged` (exactly, whatever they replace) and the others kept.
 * `prior(t, start)` gives the stored row of a rollup tier, or null. The same on every backend.
 */
export function windowRows(
  window: number,
  merged: SampleBuffer,
  prior: (tier: number, start: number) => Uint8Array | null,
): TierRow[] {
  const rows: TierRow[] = [
    { tier: 0, start: window, count: merged.n, data: asBuffer(encodeChunk(merged.ts, [merged.v], 0, merged.n)) },
  ]
  const outside = (at: number) => at < window || at >= window + WINDOW_MS
  for (let t = 1; t < TIERS.length; t++) {
    const spec = TIERS[t] as TierSpec
    const start = alignDown(window, spec.groupMs)
    const fresh = rollup(merged.ts, merged.v, 0, merged.n, spec.resMs)
    const stored = prior(t, start)
    const b = stored ? mergeBuckets(rowBuckets(stored, outside), fresh) : fresh
    rows.push({ tier: t, start, count: b.ts.length, data: encodeBuckets(b) })
  }
  return rows
}
