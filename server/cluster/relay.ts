import { randomUUID } from 'node:crypto'
import type { RedisClientType } from 'redis'
import { z } from 'zod'
import { AppError, type Code, STATUS } from '../errors.ts'

/** Commands between hubs travel at most this far in bytes; a sampling change is a few hundred. */
const MAX_MESSAGE_BYTES = 64 * 1024

const Code_ = z.enum(Object.keys(STATUS) as [Code, ...Code[]])
const Id = z.string().min(1).max(64)
const Message = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('request'),
    id: Id,
    from: z.string().min(1).max(128),
    host: z.string().min(1).max(253),
    command: z.unknown(),
  }),
  z.object({
    kind: z.literal('reply'),
    id: Id,
    ok: z.boolean(),
    result: z.unknown().optional(),
    error: z.object({ code: Code_, message: z.string().max(1000) }).optional(),
  }),
])
type Message = z.infer<typeof Message>

export interface RelayOptions {
  /** This hub's id, as other hubs address it. */
  hub: string
  /** Carries out a command for a host whose agent is on this hub; its result (or AppError) goes back to the sender. */
  handle(host: string, command: unknown): Promise<unknown>
  /** A message from another hub that did not parse: dropped, and told here. */
  onInvalid?(reason: string): void
  channelPrefix?: string
}

interface Pending {
  resolve(result: unknown): void
  reject(err: AppError): void
  timer: NodeJS.Timeout
}

/**
 * Commands for hosts whose agents are on another hub, over Redis pub/sub: each hub listens on a channel of its
 * own; a request names the host, the holding hub carries it out (its agent confirms), and the reply comes back to
 * the sender's channel. Nothing here is durable: settings are durable desired state elsewhere, so a request lost
 * with a hub times out at the sender, and the agent still gets the setting when it reconnects.
 */
export class CommandRelay {
  readonly #opts: RelayOptions
  readonly #pub: RedisClientType
  readonly #sub: RedisClientType
  readonly #pending = new Map<string, Pending>()
  readonly #prefix: string

  private constructor(opts: RelayOptions, pub: RedisClientType, sub: RedisClientType) {
    this.#opts = opts
    this.#pub = pub
    this.#sub = sub
    this.#prefix = opts.channelPrefix ?? 'vigil:hub:'
  }

  /**
   * Subscribes to this hub's channel on `sub`, a connection of its own (pub/sub takes it over). Both clients are the
   * caller's, with their `error` listeners: node-redis throws an unheard socket error.
   */
  static async open(opts: RelayOptions, pub: RedisClientType, sub: RedisClientType): Promise<CommandRelay> {
    const relay = new CommandRelay(opts, pub, sub)
    await sub.subscribe(relay.#prefix + opts.hub, (raw) => relay.#receive(raw))
    return relay
  }

  /**
   * Sends a command for `host` to the hub holding it and waits for its reply. Rejects with `unavailable` when
   * that hub is not listening or does not answer within `timeoutMs`, or with the holder's own error.
   */
  async send(toHub: string, host: string, command: unknown, timeoutMs: number): Promise<unknown> {
    const id = randomUUID()
    const message: Message = { kind: 'request', id, from: this.#opts.hub, host, command }
    const reply = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(new AppError('unavailable', `Hub ${toHub} did not answer for ${host} within ${timeoutMs} ms`))
      }, timeoutMs)
      this.#pending.set(id, { resolve, reject, timer })
    })
    const receivers = await this.#publish(toHub, message).catch((err: Error) => {
      this.#settle(id, new AppError('unavailable', `Could not reach hub ${toHub}: ${err.message}`))
      return -1
    })
    if (receivers === 0) this.#settle(id, new AppError('unavailable', `Hub ${toHub} is not listening`))
    return reply
  }

  #publish(toHub: string, message: Message): Promise<number> {
    return this.#pub.publish(this.#prefix + toHub, JSON.stringify(message))
  }

  #settle(id: string, err: AppError): void {
    const p = this.#pending.get(id)
    if (!p) return
    this.#pending.delete(id)
    clearTimeout(p.timer)
    p.reject(err)
  }

  #receive(raw: string): void {
    if (raw.length > MAX_MESSAGE_BYTES) {
      this.#opts.onInvalid?.(`a message of ${raw.length} bytes, over ${MAX_MESSAGE_BYTES}`)
      return
    }
    let parsed: Message
    try {
      parsed = Message.parse(JSON.parse(raw))
    } catch (err) {
      this.#opts.onInvalid?.((err as Error).message)
      return
    }
    if (parsed.kind === 'request') {
      void this.#serve(parsed)
      return
    }
    const p = this.#pending.get(parsed.id)
    if (!p) return // answered after the sender gave up
    this.#pending.delete(parsed.id)
    clearTimeout(p.timer)
    if (parsed.ok) p.resolve(parsed.result)
    else p.reject(new AppError(parsed.error?.code ?? 'internal', parsed.error?.message ?? 'The holding hub failed'))
  }

  async #serve(req: Extract<Message, { kind: 'request' }>): Promise<void> {
    let reply: Message
    try {
      reply = { kind: 'reply', id: req.id, ok: true, result: await this.#opts.handle(req.host, req.command) }
    } catch (err) {
      const code: Code = err instanceof AppError ? err.code : 'internal'
      reply = { kind: 'reply', id: req.id, ok: false, error: { code, message: (err as Error).message } }
    }
    // A reply to a hub that went away is dropped: its sender has timed out
    await this.#publish(req.from, reply).catch(() => {})
  }

  /** Stops listening; requests still waiting are refused as `unavailable`. */
  async close(): Promise<void> {
    await this.#sub.unsubscribe(this.#prefix + this.#opts.hub).catch(() => {})
    for (const id of [...this.#pending.keys()])
      this.#settle(id, new AppError('unavailable', 'The hub is shutting down'))
  }
}
