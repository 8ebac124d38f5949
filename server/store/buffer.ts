/**
 * One series' samples not yet in a closed chunk, sorted by time. A sample at a time already held replaces it: the
 * last write wins, the rule for duplicate timestamps everywhere in the store.
 */
export class SampleBuffer {
  ts = new Float64Array(64)
  v = new Float64Array(64)
  n = 0

  add(t: number, value: number): void {
    const n = this.n
    if (n === 0 || t > (this.ts[n - 1] as number)) {
      if (n === this.ts.length) this.#grow()
      this.ts[n] = t
      this.v[n] = value
      this.n++
      return
    }
    const at = this.indexOf(t)
    if (at < n && this.ts[at] === t) {
      this.v[at] = value
      return
    }
    if (n === this.ts.length) this.#grow()
    this.ts.copyWithin(at + 1, at, n)
    this.v.copyWithin(at + 1, at, n)
    this.ts[at] = t
    this.v[at] = value
    this.n++
  }

  /** The index of the first sample at or after `t`. */
  indexOf(t: number): number {
    let lo = 0
    let hi = this.n
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((this.ts[mid] as number) < t) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** Forgets the `k` oldest samples. */
  dropFirst(k: number): void {
    this.ts.copyWithin(0, k, this.n)
    this.v.copyWithin(0, k, this.n)
    this.n -= k
  }

  #grow(): void {
    const ts = new Float64Array(this.ts.length * 2)
    const v = new Float64Array(this.v.length * 2)
    ts.set(this.ts)
    v.set(this.v)
    this.ts = ts
    this.v = v
  }
}

/**
 * A head row's payload: float64 (series id, value) pairs when every sample shares one timestamp (a tick), else
 * (series id, ts, value) triples.
 */
export function unpackHead(
  minTs: number,
  maxTs: number,
  data: Uint8Array,
  each: (id: number, ts: number, value: number) => void,
): void {
  const f = new Float64Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength))
  if (minTs === maxTs) for (let i = 0; i + 1 < f.length; i += 2) each(f[i] as number, minTs, f[i + 1] as number)
  else for (let i = 0; i + 2 < f.length; i += 3) each(f[i] as number, f[i + 1] as number, f[i + 2] as number)
}

/** (series id, ts, value) triples staged for one write: one Float64Array, grown as needed and reused. */
export class Triples {
  data = new Float64Array(3 * 256)
  n = 0

  push(id: number, ts: number, value: number): void {
    const at = this.n * 3
    if (at + 3 > this.data.length) {
      const grown = new Float64Array(this.data.length * 2)
      grown.set(this.data)
      this.data = grown
    }
    this.data[at] = id
    this.data[at + 1] = ts
    this.data[at + 2] = value
    this.n++
  }

  /** The staged triples, without a copy. */
  view(): Float64Array {
    return this.data.subarray(0, this.n * 3)
  }
}
