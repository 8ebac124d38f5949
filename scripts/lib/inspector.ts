import WebSocket from 'ws'

/**
 * A DevTools-protocol session with a Node process started with `--inspect=127.0.0.1:0`, for figures only the
 * process itself knows exactly, such as its heap after a full collection.
 */
export class Inspector {
  readonly #ws: WebSocket
  #next = 1
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>()

  private constructor(ws: WebSocket) {
    this.#ws = ws
    ws.on('message', (d) => {
      const msg = JSON.parse(d.toString()) as { id?: number; result?: unknown; error?: { message: string } }
      const waiter = msg.id === undefined ? undefined : this.#pending.get(msg.id)
      if (!waiter || msg.id === undefined) return
      this.#pending.delete(msg.id)
      if (msg.error) waiter.reject(new Error(msg.error.message))
      else waiter.resolve(msg.result)
    })
    ws.on('close', () => {
      for (const w of this.#pending.values()) w.reject(new Error('inspector session closed'))
      this.#pending.clear()
    })
  }

  /** Connects to the URL the process printed on stderr (`Debugger listening on ws://…`). */
  static async attach(stderr: string): Promise<Inspector> {
    const url = /Debugger listening on (ws:\/\/\S+)/.exec(stderr)?.[1]
    if (!url) throw new Error(`no inspector URL in the process's stderr:\n${stderr}`)
    const ws = new WebSocket(url)
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    return new Inspector(ws)
  }

  call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.#next++
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.#ws.send(JSON.stringify({ id, method, params }))
    })
  }

  /** Bytes of heap still in use after a full garbage collection: what the process really holds on to. */
  async liveHeapBytes(): Promise<number> {
    await this.call('HeapProfiler.collectGarbage')
    const r = (await this.call('Runtime.evaluate', {
      expression: 'process.memoryUsage().heapUsed',
      returnByValue: true,
    })) as { result: { value: number } }
    return r.result.value
  }

  close(): void {
    this.#ws.close()
  }
}
