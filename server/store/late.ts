import { SampleBuffer } from './buffer.ts'

/** The samples of one series for one closed window, waiting to be merged into its chunk. */
export interface LateGroup {
  seriesId: number
  window: number
  samples: SampleBuffer
  /** The durable `late` rows holding samples of this group. */
  rows: Set<number>
  /** When it last took a sample (ms on the caller's clock): an idle group is one the replay has moved past. */
  touchedAt: number
}

/**
 * Late samples held in memory by (series, window) until merged, and which durable rows still hold unmerged ones.
 * A replay sends a window's samples together, so merging a group once it falls idle rewrites each chunk about
 * once, however many batches its samples came in: the cost follows the hours touched, not the samples.
 */
export class LateBuffer {
  readonly #groups = new Map<string, LateGroup>()
  /** Per durable row, how many groups still hold its samples. */
  readonly #refs = new Map<number, number>()
  #size = 0

  /** Samples held, duplicates at one time counted once. */
  get size(): number {
    return this.#size
  }

  get groups(): number {
    return this.#groups.size
  }

  /** Adds the samples of one durable row: (series id, ts, value) triples, each at its window. */
  addRow(rowId: number, triples: ArrayLike<number>, n: number, windowOf: (ts: number) => number, now: number): void {
    const touched = new Set<LateGroup>()
    for (let i = 0; i < n; i++) {
      const id = triples[i * 3] as number
      const ts = triples[i * 3 + 1] as number
      const window = windowOf(ts)
      const key = `${id}:${window}`
      let g = this.#groups.get(key)
      if (!g) {
        g = { seriesId: id, window, samples: new SampleBuffer(), rows: new Set(), touchedAt: now }
        this.#groups.set(key, g)
      }
      const before = g.samples.n
      g.samples.add(ts, triples[i * 3 + 2] as number)
      this.#size += g.samples.n - before
      g.touchedAt = now
      touched.add(g)
    }
    for (const g of touched) {
      if (g.rows.has(rowId)) continue
      g.rows.add(rowId)
      this.#refs.set(rowId, (this.#refs.get(rowId) ?? 0) + 1)
    }
  }

  /** The groups `pick` chooses, oldest touched first. */
  select(pick: (g: LateGroup) => boolean): LateGroup[] {
    return [...this.#groups.values()].filter(pick).sort((a, b) => a.touchedAt - b.touchedAt)
  }

  /**
   * Forgets merged groups; returns the durable rows no group needs any more, which the caller deletes in the same
   * transaction as the merge.
   */
  unreferenced(merged: readonly LateGroup[]): number[] {
    const counts = new Map(this.#refs)
    const free: number[] = []
    for (const g of merged) {
      for (const row of g.rows) {
        const left = (counts.get(row) ?? 1) - 1
        counts.set(row, left)
        if (left === 0) free.push(row)
      }
    }
    return free
  }

  /** Drops merged groups once their transaction committed. */
  forget(merged: readonly LateGroup[]): void {
    for (const g of merged) {
      this.#groups.delete(`${g.seriesId}:${g.window}`)
      this.#size -= g.samples.n
      for (const row of g.rows) {
        const left = (this.#refs.get(row) ?? 1) - 1
        if (left === 0) this.#refs.delete(row)
        else this.#refs.set(row, left)
      }
    }
  }
}
