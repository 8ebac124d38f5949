import { backoffMs } from '../../server/protocol/backoff.ts'
import type { Command, Reply } from '../../server/protocol/index.ts'

export type ControlState = 'connecting' | 'open' | 'reconnecting' | 'closed'

/** A refused or failed command: the server's code and message, or `timeout` / `disconnected`. */
export class CommandFailed extends Error {
  readonly code: string
  constructor(code: string, message: string) {
    super(message)
    this.code = code
  }
}

type Outgoing = { [C in Command as C['type']]: Omit<C, 'id'> }[Command['type']]

const PING_EVERY_MS = 25_000
const PONG_WITHIN_MS = 10_000
const REPLY_WITHIN_MS = 10_000
/** A connection open this long resets the backoff. */
const STABLE_MS = 60_000
/** Close codes after which reconnecting cannot help: a normal close, and auth revoked. */
const FINAL_CODES = new Set([1000, 1008])

export type ControlListener = (
  state: ControlState,
  detail: { retryAt?: number; code?: number; reason?: string },
) => void

interface Pending {
  resolve(result: unknown): void
  reject(err: CommandFailed): void
  timer: ReturnType<typeof setTimeout>
}

/**
 * The WebSocket client of the control channel: request ids and acknowledgements, an application ping every 25 s
 * (closing when no pong arrives within 10 s), and reconnects with exponential backoff and full jitter, except after
 * close 1000 or 1008.
 */
export class ControlSocket {
  #ws: WebSocket | null = null
  #seq = 0
  #attempt = 0
  #openedAt = 0
  #pingTimer: ReturnType<typeof setInterval> | null = null
  #pongTimer: ReturnType<typeof setTimeout> | null = null
  readonly #pending = new Map<string, Pending>()
  readonly #url: string
  readonly #onState: ControlListener

  constructor(url: string, onState: ControlListener) {
    this.#url = url
    this.#onState = onState
  }

  start(): void {
    this.#onState(this.#attempt === 0 ? 'connecting' : 'reconnecting', {})
    const ws = new WebSocket(this.#url)
    this.#ws = ws
    ws.onopen = () => {
      this.#openedAt = Date.now()
      this.#onState('open', {})
      this.#pingTimer = setInterval(() => this.#ping(), PING_EVERY_MS)
    }
    ws.onmessage = (e) => this.#onMessage(String(e.data))
    ws.onclose = (e) => this.#onClose(e.code, e.reason)
  }

  /** Sends a command; resolves with its result or rejects with the server's error code and message. */
  request(cmd: Outgoing): Promise<unknown> {
    const ws = this.#ws
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new CommandFailed('disconnected', 'The control channel is not connected'))
    }
    const id = `c${++this.#seq}`
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(new CommandFailed('timeout', 'No acknowledgement within 10 s'))
      }, REPLY_WITHIN_MS)
      this.#pending.set(id, { resolve, reject, timer })
      ws.send(JSON.stringify({ ...cmd, id }))
    })
  }

  #ping(): void {
    this.#ws?.send(JSON.stringify({ type: 'ping', id: 'heartbeat' }))
    this.#pongTimer ??= setTimeout(() => this.#ws?.close(4000, 'no pong'), PONG_WITHIN_MS)
  }

  #onMessage(text: string): void {
    const reply = JSON.parse(text) as Reply
    if ('type' in reply) {
      if (this.#pongTimer) clearTimeout(this.#pongTimer)
      this.#pongTimer = null
      return
    }
    const pending = reply.id === null ? undefined : this.#pending.get(String(reply.id))
    if (!pending) return
    this.#pending.delete(String(reply.id))
    clearTimeout(pending.timer)
    if (reply.ok) pending.resolve(reply.result)
    else pending.reject(new CommandFailed(reply.error.code, reply.error.message))
  }

  #onClose(code: number, reason: string): void {
    if (this.#pingTimer) clearInterval(this.#pingTimer)
    if (this.#pongTimer) clearTimeout(this.#pongTimer)
    this.#pingTimer = null
    this.#pongTimer = null
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer)
      p.reject(new CommandFailed('disconnected', 'The control channel closed before the acknowledgement'))
      this.#pending.delete(id)
    }
    if (FINAL_CODES.has(code)) {
      this.#onState('closed', { code, reason })
      return
    }
    if (this.#openedAt && Date.now() - this.#openedAt >= STABLE_MS) this.#attempt = 0
    this.#openedAt = 0
    const wait = backoffMs(this.#attempt++)
    this.#onState('reconnecting', { retryAt: Date.now() + wait, code })
    setTimeout(() => this.start(), wait)
  }
}
