/** Series ids by host, then name: a lookup per sample with no string building on the write path. */
export class SeriesIndex {
  readonly #byHost = new Map<string, Map<string, number>>()
  #size = 0

  get size(): number {
    return this.#size
  }

  get(host: string, name: string): number | undefined {
    return this.#byHost.get(host)?.get(name)
  }

  set(host: string, name: string, id: number): void {
    let names = this.#byHost.get(host)
    if (!names) {
      names = new Map()
      this.#byHost.set(host, names)
    }
    if (!names.has(name)) this.#size++
    names.set(name, id)
  }

  delete(host: string, name: string): void {
    const names = this.#byHost.get(host)
    if (!names?.delete(name)) return
    this.#size--
    if (names.size === 0) this.#byHost.delete(host)
  }

  count(host: string): number {
    return this.#byHost.get(host)?.size ?? 0
  }

  *entries(): IterableIterator<{ host: string; name: string; id: number }> {
    for (const [host, names] of this.#byHost) for (const [name, id] of names) yield { host, name, id }
  }
}
