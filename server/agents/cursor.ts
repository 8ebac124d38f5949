/**
 * How far one agent spool's ticks are stored: `through` is the contiguous high-water mark (every sequence number up
 * to it is stored or known lost), and the ticks stored above it (live ones sent during a replay) are held until the
 * replay fills the space below. Only `through` is durable: after a hub restart the agent sends what is above it
 * again, and storing a tick twice replaces it with itself.
 */
export class SeqCursor {
  #through: number
  readonly #above = new Set<number>()
  /** Ranges the agent reported lost (a full spool): passed over when `through` reaches them. */
  readonly #lost = new Map<number, number>()

  constructor(through: number) {
    this.#through = through
  }

  get through(): number {
    return this.#through
  }

  /** Whether a tick is stored already. */
  has(seq: number): boolean {
    return seq <= this.#through || this.#above.has(seq)
  }

  /** `through` once `seqs` are stored as well, without changing anything: written with them in one transaction. */
  preview(seqs: readonly number[]): number {
    const extra = new Set(seqs)
    let t = this.#through
    for (;;) {
      const lostTo = this.#lost.get(t + 1)
      if (lostTo !== undefined) t = Math.max(t, lostTo)
      else if (this.#above.has(t + 1) || extra.has(t + 1)) t++
      else return t
    }
  }

  /** Records `seqs` as stored, once their transaction committed. */
  commit(seqs: readonly number[], through: number): void {
    for (const s of seqs) if (s > through) this.#above.add(s)
    this.#settle(through)
  }

  /** Marks `from`..`to` lost (dropped by the agent): `through` may pass over them. */
  lose(from: number, to: number): void {
    if (to <= this.#through) return
    this.#lost.set(Math.max(from, this.#through + 1), to)
  }

  #settle(through: number): void {
    this.#through = through
    for (const s of this.#above) if (s <= through) this.#above.delete(s)
    for (const [from, to] of this.#lost) if (to <= through) this.#lost.delete(from)
  }
}
