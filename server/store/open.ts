import { SampleBuffer } from './buffer.ts'
import { decodeChunk, encodeChunk } from './codec.ts'
import { alignDown, WINDOW_MS } from './tiers.ts'

/** A run of a series' open samples, encoded with the chunk codec: all in one window, `from`..`to` inclusive. */
interface Segment {
  from: number
  to: number
  n: number
  data: Uint8Array
}

/** The newest samples stay plain when a series is encoded, for out-of-order writes near the head. */
const KEEP_PLAIN = 32

/**
 * One series' samples not yet in a closed chunk: a sorted plain buffer (16 B a sample), and, once the store asks
 * (its open samples past a memory budget), segments encoded with the chunk codec (about 1.5 B a sample) for all
 * but the newest few. The last write of a time wins, in the tail and in the segments alike.
 */
export class OpenSeries {
  readonly #segments: Segment[] = []
  #tail = new SampleBuffer()

  /** Samples held. */
  get n(): number {
    let n = this.#tail.n
    for (const s of this.#segments) n += s.n
    return n
  }

  /** Samples held plain. */
  get plain(): number {
    return this.#tail.n
  }

  /** The newest sample's time, or null when empty. */
  newest(): number | null {
    const t = this.#tail
    if (t.n > 0) return t.ts[t.n - 1] as number
    return this.#segments.at(-1)?.to ?? null
  }

  /** The newest sample, or null when empty. */
  newestSample(): { ts: number; value: number } | null {
    const t = this.#tail
    if (t.n > 0) return { ts: t.ts[t.n - 1] as number, value: t.v[t.n - 1] as number }
    const last = this.#segments.at(-1)
    return last ? lastOf(decodeChunk(last.data)) : null
  }

  /** Adds a sample; true when it went into the plain tail (a new one there, not a replacement). */
  add(ts: number, value: number): boolean {
    const last = this.#segments.at(-1)
    if (last && ts <= last.to) {
      this.#addEncoded(ts, value)
      return false
    }
    const before = this.#tail.n
    this.#tail.add(ts, value)
    return this.#tail.n > before
  }

  /** Calls `each` for every sample in [a, b), in time order. */
  each(a: number, b: number, each: (ts: number, value: number) => void): void {
    for (const s of this.#segments) {
      if (s.to < a || s.from >= b) continue
      const { ts, cols } = decodeChunk(s.data)
      const v = cols[0] as Float64Array
      for (let k = 0; k < ts.length; k++) {
        const t = ts[k] as number
        if (t >= a && t < b) each(t, v[k] as number)
      }
    }
    const tail = this.#tail
    for (let k = tail.indexOf(a); k < tail.n && (tail.ts[k] as number) < b; k++)
      each(tail.ts[k] as number, tail.v[k] as number)
  }

  /** The windows (hour starts) with samples before `cutoff`, oldest first. */
  windowsBefore(cutoff: number): number[] {
    const out = new Set<number>()
    for (const s of this.#segments) if (s.from < cutoff) out.add(alignDown(s.from, WINDOW_MS))
    const tail = this.#tail
    for (let k = 0; k < tail.n && (tail.ts[k] as number) < cutoff; ) {
      const w = alignDown(tail.ts[k] as number, WINDOW_MS)
      out.add(w)
      k = tail.indexOf(w + WINDOW_MS)
    }
    return [...out].sort((x, y) => x - y)
  }

  /**
   * One window's samples in time order, without removing them: rows `i..end` of `buf`. The tail itself when no
   * segment holds any of the window (no copy), else a merged copy.
   */
  window(w: number): { buf: SampleBuffer; i: number; end: number } {
    const tail = this.#tail
    if (!this.#segments.some((s) => s.from >= w && s.from < w + WINDOW_MS)) {
      return { buf: tail, i: tail.indexOf(w), end: tail.indexOf(w + WINDOW_MS) }
    }
    const out = new SampleBuffer()
    this.each(w, w + WINDOW_MS, (t, v) => out.add(t, v))
    return { buf: out, i: 0, end: out.n }
  }

  /** Forgets every sample before `cutoff` (once their windows are safely in chunks). */
  dropBefore(cutoff: number): void {
    while (this.#segments.length > 0 && (this.#segments[0] as Segment).to < cutoff) this.#segments.shift()
    this.#tail.dropFirst(this.#tail.indexOf(cutoff))
  }

  /** Moves all but the newest plain samples into segments, one per window they span; returns how many moved. */
  encode(): number {
    const tail = this.#tail
    const end = tail.n - KEEP_PLAIN
    if (end <= 0) return 0
    for (let i = 0; i < end; ) {
      const w = alignDown(tail.ts[i] as number, WINDOW_MS)
      const stop = Math.min(end, tail.indexOf(w + WINDOW_MS))
      this.#segments.push({
        from: tail.ts[i] as number,
        to: tail.ts[stop - 1] as number,
        n: stop - i,
        data: encodeChunk(tail.ts, [tail.v], i, stop),
      })
      i = stop
    }
    // A fresh tail: the old one's arrays grew to hold what is now encoded
    const kept = new SampleBuffer()
    for (let k = end; k < tail.n; k++) kept.add(tail.ts[k] as number, tail.v[k] as number)
    this.#tail = kept
    return end
  }

  /** A write at or before the newest encoded time (a replay, a repeat): merged into its window's segment. */
  #addEncoded(ts: number, value: number): void {
    const w = alignDown(ts, WINDOW_MS)
    let at = -1
    for (let i = 0; i < this.#segments.length; i++) {
      const s = this.#segments[i] as Segment
      if (alignDown(s.from, WINDOW_MS) === w && s.from <= ts) at = i
    }
    if (at < 0) at = this.#segments.findIndex((s) => alignDown(s.from, WINDOW_MS) === w)
    if (at < 0) {
      // Its window has no segment yet: one of its own, in time order
      const next = this.#segments.findIndex((s) => s.from > ts)
      const seg = { from: ts, to: ts, n: 1, data: encodeChunk([ts], [[value]]) }
      this.#segments.splice(next < 0 ? this.#segments.length : next, 0, seg)
      return
    }
    const s = this.#segments[at] as Segment
    const merged = new SampleBuffer()
    const { ts: old, cols } = decodeChunk(s.data)
    for (let k = 0; k < old.length; k++) merged.add(old[k] as number, cols[0]?.[k] as number)
    merged.add(ts, value)
    this.#segments[at] = {
      from: merged.ts[0] as number,
      to: merged.ts[merged.n - 1] as number,
      n: merged.n,
      data: encodeChunk(merged.ts, [merged.v], 0, merged.n),
    }
  }
}

/** A decoded chunk's last sample (its first column), or null when it holds none. */
export function lastOf(chunk: { ts: Float64Array; cols: Float64Array[] }): { ts: number; value: number } | null {
  const k = chunk.ts.length - 1
  return k < 0 ? null : { ts: chunk.ts[k] as number, value: (chunk.cols[0] as Float64Array)[k] as number }
}
