/** A chart point; Chart.js reads these directly with `parsing: false`. */
export interface Point {
  x: number
  y: number
  /** A history bucket's min and max, shaded around the line; live samples have none. */
  lo?: number
  hi?: number
}

/**
 * One metric's points in time order, shared in place with its Chart.js dataset. History and live events meet
 * here: history replaces everything up to its `to`, live points after it are kept, and a live point at or
 * before the newest one is dropped, so the line has no gap and no duplicate.
 */
export class SeriesBuffer {
  readonly points: Point[] = []
  /** Counts the changes that are not appends or trims (history put in place), for a copy to know when to reload. */
  version = 0

  /** The newest timestamp held, or -Infinity when empty. */
  get lastX(): number {
    return this.points.at(-1)?.x ?? Number.NEGATIVE_INFINITY
  }

  /** Appends a live sample; returns false for one that is not newer than what is held. */
  push(x: number, y: number): boolean {
    if (x <= this.lastX) return false
    this.points.push({ x, y })
    return true
  }

  /**
   * Replaces everything up to `to` with history points ([ts, avg, min, max]), keeping live points after `to`.
   * A bucket whose min and max differ keeps them for the band.
   */
  setHistory(history: readonly (readonly [number, number, ...number[]])[], to: number): void {
    const live = this.points.filter((p) => p.x > to)
    this.version++
    this.points.length = 0
    for (const [x, y, lo, hi] of history) {
      if (x > to) continue
      this.points.push(lo !== undefined && hi !== undefined && lo !== hi ? { x, y, lo, hi } : { x, y })
    }
    for (const p of live) this.push(p.x, p.y)
  }

  /**
   * Puts history points in place of what is held over `[from, to]` (a span a replay has just filled), keeping the
   * points on both sides: the gap closes without a reload.
   */
  fillSpan(history: readonly (readonly [number, number, ...number[]])[], from: number, to: number): void {
    const before = this.points.filter((p) => p.x < from)
    const after = this.points.filter((p) => p.x > to)
    this.version++
    this.points.length = 0
    this.points.push(...before)
    for (const [x, y, lo, hi] of history) {
      if (x < from || x > to) continue
      this.points.push(lo !== undefined && hi !== undefined && lo !== hi ? { x, y, lo, hi } : { x, y })
    }
    this.points.push(...after)
  }

  /** Drops points older than `minX`, keeping one before it so the line enters the chart from its edge. */
  trim(minX: number): void {
    let i = 0
    while (i + 1 < this.points.length && (this.points[i + 1] as Point).x < minX) i++
    if (i > 0) this.points.splice(0, i)
  }
}
