import WebSocket from 'ws'
import type { Reply } from '../protocol/index.ts'

/** A real `ws` client on /api/control that collects replies in order. */
export class ControlClient {
  readonly ws: WebSocket
  readonly replies: Reply[] = []
  readonly closed: Promise<{ code: number; reason: string }>
  #waiters: (() => void)[] = []

  constructor(url: string, headers: Record<string, string>, options: WebSocket.ClientOptions = {}) {
    this.ws = new WebSocket(url, { headers, ...options })
    this.ws.on('message', (d) => {
      this.replies.push(JSON.parse(d.toString()) as Reply)
      for (const w of this.#waiters) w()
    })
    this.closed = new Promise((resolve) =>
      this.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    )
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve())
      this.ws.once('error', reject)
    })
  }

  /** Resolves with the HTTP status of a refused upgrade. */
  static refusal(url: string, headers: Record<string, string>): Promise<number> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers })
      ws.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0)
        ws.terminate()
      })
      ws.on('open', () => reject(new Error('upgrade was accepted')))
      ws.on('error', () => {})
    })
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg))
  }

  /** Waits until `n` replies have arrived in all. */
  waitReplies(n: number, timeoutMs = 10_000): Promise<Reply[]> {
    if (this.replies.length >= n) return Promise.resolve(this.replies)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.replies.length} of ${n} replies after ${timeoutMs} ms`)),
        timeoutMs,
      )
      const check = () => {
        if (this.replies.length < n) return
        clearTimeout(timer)
        this.#waiters = this.#waiters.filter((w) => w !== check)
        resolve(this.replies)
      }
      this.#waiters.push(check)
    })
  }

  /** Sends one message and resolves with its reply. */
  async request(msg: unknown): Promise<Reply> {
    const n = this.replies.length + 1
    this.send(msg)
    return (await this.waitReplies(n))[n - 1] as Reply
  }

  close(): void {
    this.ws.close(1000)
  }
}
