import type { IncomingMessage } from 'node:http'
import { upgradeWebSocket } from '@hono/node-server'
import type { MiddlewareHandler } from 'hono'
import { getCookie } from 'hono/cookie'
import type { RawData, WebSocket } from 'ws'
import type { Alerts } from '../alerts/index.ts'
import type { Audit, NewAuditEntry } from '../audit/index.ts'
import { redact } from '../audit/index.ts'
import {
  type AuthEnv,
  COMMAND_ROLES,
  type Principal,
  resolveIdentity,
  SESSION_COOKIE,
  type Tokens,
} from '../auth/index.ts'
import { AppError, errorBody, issueMessage } from '../errors.ts'
import { clientOf } from '../http.ts'
import type { Jobs } from '../jobs/index.ts'
import { type ConnectionCaps, RETRY_AFTER_S, refusalMessage } from '../limits/index.ts'
import type { Logger } from '../log.ts'
import {
  ADMIN_COMMANDS,
  COMMAND_TYPES,
  Command,
  type ControlErrorCode,
  Envelope,
  type Identity,
  type Reply,
  type RequestId,
} from '../protocol/index.ts'
import { heartbeat, upgradeGuard } from '../websocket.ts'
import { type CommandContext, dispatch, RelayedCommand } from './commands.ts'
import type { Sampling } from './sampling.ts'

/** Largest accepted frame; a bigger one closes the socket with 1009. */
export const MAX_PAYLOAD = 64 * 1024
/** Replies a peer may leave unread before its socket is dropped: the per-client queue of the control channel. */
export const MAX_UNREAD_BYTES = 1024 * 1024
/** Rejections within ABUSE_WINDOW_MS past which the socket is closed with 1008. */
const ABUSE_REJECTIONS = 1000
const ABUSE_WINDOW_MS = 10_000

const KNOWN_TYPES: ReadonlySet<string> = new Set(COMMAND_TYPES)

export const CLOSE = { normal: 1000, goingAway: 1001, policy: 1008, tooBig: 1009, internal: 1011 } as const

export interface ControlOptions {
  tokens: Tokens
  audit: Audit
  sampling: Sampling
  jobs: Jobs
  alerts: Alerts
  host: string
  /** Origins allowed besides the hub's own (VIGIL_ALLOWED_ORIGINS). */
  allowedOrigins: ReadonlySet<string>
  pingMs: number
  /** Token bucket per socket: messages per second, and the burst it allows. */
  rate: number
  burst: number
  /** Open control sockets per client address and per token. */
  caps: ConnectionCaps
  log: Logger
  /** Sends a sampling command for a host on another hub to it (several hubs on Redis); see `CommandContext`. */
  relay?: CommandContext['relay']
}

interface Peer {
  ws: WebSocket
  /** The commands of this socket in flight, one after the other. */
  queue: Promise<void>
  identity: Identity
  principal: Principal
  remote: string | null
  alive: boolean
  tokens: number
  refilledAt: number
  rejections: number[]
}

/** Requests that passed the upgrade checks, waiting for their socket. */
interface Pending {
  identity: Identity
  principal: Principal
}

/** The size of a frame as `ws` hands it over: a Buffer, or fragments. */
export function frameBytes(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0)
  return data instanceof ArrayBuffer ? data.byteLength : data.length
}

/** The request id of a message, if it has one, so that even a refusal can be matched to its request. */
function requestIdOf(data: RawData, isBinary: boolean): RequestId | null {
  if (isBinary) return null
  try {
    const env = Envelope.safeParse(JSON.parse(data.toString()))
    return env.success ? (env.data.id ?? null) : null
  } catch {
    return null
  }
}

/**
 * The WebSocket control channel: checks Origin and credentials at upgrade, then per message: rate limit, JSON,
 * shape, role and arguments, dispatch through the handler map, one reply per message, one audit row per command.
 */
export class Control {
  readonly #opts: ControlOptions
  readonly #peers = new Set<Peer>()
  readonly #pending = new WeakMap<IncomingMessage, Pending>()
  readonly #stopHeartbeat: () => void

  constructor(opts: ControlOptions) {
    this.#opts = opts
    this.#stopHeartbeat = heartbeat(opts.pingMs, () => this.#peers)
  }

  get peers(): number {
    return this.#peers.size
  }

  /** The route's handlers: Origin (403), credentials (401), then the upgrade itself. */
  handlers(): [MiddlewareHandler<AuthEnv>, MiddlewareHandler<AuthEnv>, MiddlewareHandler<AuthEnv>] {
    const { tokens } = this.#opts
    const check: MiddlewareHandler<AuthEnv> = async (c, next) => {
      // The control channel always needs a token or a session, even on loopback
      const r = await resolveIdentity(tokens, false, c.req.header('authorization'), getCookie(c, SESSION_COOKIE))
      if ('status' in r || r.principal === null) {
        return c.json(errorBody('unauthorized', 'status' in r ? r.message : 'Token required'), 401)
      }
      const slot = this.#opts.caps.acquire(clientOf(c).address, r.principal.tokenId)
      if (typeof slot !== 'function') {
        c.header('retry-after', String(RETRY_AFTER_S))
        return c.json(errorBody('too_many_connections', refusalMessage('control sockets', slot)), 429)
      }
      // The socket outlives the request: the slot is free when it closes, upgraded or not
      c.env.incoming.socket.once('close', slot)
      this.#pending.set(c.env.incoming, { identity: r.identity, principal: r.principal })
      await next()
    }
    // The socket is handled from the server's 'connection' event, where `ws` gives ping and terminate
    return [upgradeGuard(this.#opts.allowedOrigins), check, upgradeWebSocket(() => ({}))]
  }

  /** Takes a socket whose upgrade `handlers()` checked; false for any other. */
  readonly accept = (ws: WebSocket, req: IncomingMessage): boolean => {
    const pending = this.#pending.get(req)
    if (!pending) return false
    this.#pending.delete(req)
    const peer: Peer = {
      ws,
      queue: Promise.resolve(),
      ...pending,
      remote: req.socket.remoteAddress ?? null,
      alive: true,
      tokens: this.#opts.burst,
      refilledAt: Date.now(),
      rejections: [],
    }
    this.#peers.add(peer)
    ws.on('pong', () => {
      peer.alive = true
    })
    ws.on('message', (data, isBinary) => {
      // The shared WebSocket server takes agents' larger frames; this channel keeps its own limit
      if (frameBytes(data) > MAX_PAYLOAD) ws.close(CLOSE.tooBig, 'frame too big')
      else this.#onMessage(peer, data, isBinary)
    })
    ws.on('close', () => this.#peers.delete(peer))
    ws.on('error', (err) => this.#opts.log.warn('control socket error', { err, remote: peer.remote }))
    return true
  }

  #send(peer: Peer, reply: Reply): void {
    if (peer.ws.readyState !== peer.ws.OPEN) return
    // A peer that sends but never reads would grow this queue without bound: it is dropped instead
    if (peer.ws.bufferedAmount > MAX_UNREAD_BYTES) {
      this.#opts.log.warn('control socket dropped: replies left unread', { remote: peer.remote })
      peer.ws.terminate()
      return
    }
    peer.ws.send(JSON.stringify(reply))
  }

  #takeToken(peer: Peer): boolean {
    const now = Date.now()
    peer.tokens = Math.min(this.#opts.burst, peer.tokens + ((now - peer.refilledAt) / 1000) * this.#opts.rate)
    peer.refilledAt = now
    if (peer.tokens < 1) return false
    peer.tokens -= 1
    return true
  }

  /** Audits a command, committed before its reply goes out; a failed audit write is logged, the reply still sent. */
  async #audited(peer: Peer, entry: Omit<NewAuditEntry, 'actor' | 'role' | 'remote'>, reply: Reply): Promise<void> {
    try {
      await this.#opts.audit.record({
        actor: peer.identity.name,
        role: peer.identity.role,
        remote: peer.remote,
        ...entry,
      })
    } catch (err) {
      this.#opts.log.error('audit write failed', { err, command: entry.command })
    }
    this.#send(peer, reply)
  }

  #onMessage(peer: Peer, data: RawData, isBinary: boolean): void {
    // Refusals queue behind the commands before them, so replies keep the order of the messages
    const refuse = (id: RequestId | null, command: string, args: unknown, code: ControlErrorCode, message: string) => {
      peer.queue = peer.queue.then(() => this.#refusal(peer, id, command, args, code, message))
    }

    if (!this.#takeToken(peer)) {
      const now = Date.now()
      peer.rejections.push(now)
      while ((peer.rejections[0] ?? now) < now - ABUSE_WINDOW_MS) peer.rejections.shift()
      if (peer.rejections.length > ABUSE_REJECTIONS) {
        peer.ws.close(CLOSE.policy, 'rate limit exceeded for too long')
        return
      }
      // Not audited one by one: a flood must not become a flood of rows
      const message = `Too many messages: at most ${this.#opts.rate}/s, bursts of ${this.#opts.burst}`
      this.#send(peer, { id: requestIdOf(data, isBinary), ok: false, error: { code: 'rate_limited', message } })
      return
    }
    if (isBinary) {
      refuse(null, '(binary)', {}, 'bad_json', 'Messages are JSON text frames')
      return
    }
    let json: unknown
    try {
      json = JSON.parse(data.toString())
    } catch {
      refuse(null, '(unparsed)', {}, 'bad_json', 'Message is not valid JSON')
      return
    }
    const env = Envelope.safeParse(json)
    if (!env.success) {
      refuse(null, '(no type)', {}, 'invalid', 'A message is an object with a string `type` and an `id`')
      return
    }
    const { id = null, type } = env.data
    const args = redact(env.data)
    if (type === 'ping') {
      this.#send(peer, id === null ? { type: 'pong' } : { id, type: 'pong' })
      return
    }
    if (!KNOWN_TYPES.has(type)) {
      refuse(id, type, args, 'unknown_command', `Unknown command ${JSON.stringify(type)}`)
      return
    }
    if (!COMMAND_ROLES.includes(peer.identity.role)) {
      refuse(id, type, args, 'forbidden', `Role ${peer.identity.role} may not send commands`)
      return
    }
    if (ADMIN_COMMANDS.has(type) && peer.identity.role !== 'admin') {
      refuse(id, type, args, 'forbidden', `Only admins may send ${type}`)
      return
    }
    const parsed = Command.safeParse(json)
    if (!parsed.success) {
      refuse(id, type, args, 'invalid', issueMessage(parsed.error))
      return
    }
    // Pings were answered above; the narrowing just has to be told
    const cmd = parsed.data
    if (cmd.type === 'ping') return
    // The audit names the host a sampling command acted on, the hub's own when it named none
    if (cmd.type.startsWith('sampling.')) args.host = ('host' in cmd && cmd.host) || this.#opts.host
    // Replies go out in the order the commands came, even when one waits for a remote host's agent
    peer.queue = peer.queue.then(() => this.#run(peer, id, type, args, cmd))
  }

  #refusal(
    peer: Peer,
    id: RequestId | null,
    command: string,
    args: unknown,
    code: ControlErrorCode,
    message: string,
  ): Promise<void> {
    const outcome = code === 'internal' || code === 'not_found' || code === 'conflict' ? 'failed' : 'refused'
    return this.#audited(peer, { command, args, outcome, errorCode: code }, { id, ok: false, error: { code, message } })
  }

  /** Dispatches a valid command; replies (and audits) once it has taken effect, which for a remote host takes a round trip. */
  async #run(
    peer: Peer,
    id: RequestId | null,
    type: string,
    args: Record<string, unknown>,
    cmd: Exclude<Command, { type: 'ping' }>,
  ): Promise<void> {
    let result: unknown
    try {
      result = await dispatch(cmd, {
        actor: peer.identity,
        sampling: this.#opts.sampling,
        jobs: this.#opts.jobs,
        alerts: this.#opts.alerts,
        host: this.#opts.host,
        ...(this.#opts.relay ? { relay: this.#opts.relay } : {}),
      })
    } catch (err) {
      if (err instanceof AppError) return this.#refusal(peer, id, type, args, err.controlCode, err.message)
      this.#opts.log.error('command failed', { type, err })
      return this.#refusal(peer, id, type, args, 'internal', 'Internal error')
    }
    await this.#audited(peer, { command: type, args, outcome: 'accepted', errorCode: null }, { id, ok: true, result })
  }

  /**
   * Carries out a command another hub relayed for a host whose agent is here: validated, then run as its sender
   * (the sending hub audits it), never relayed on. Its answer, or AppError, goes back to that hub.
   */
  async relayed(host: string, payload: unknown): Promise<unknown> {
    const parsed = RelayedCommand.safeParse(payload)
    if (!parsed.success) throw new AppError('invalid', `A relayed command: ${issueMessage(parsed.error)}`)
    const { command, actor } = parsed.data
    if (command.type === 'ping' || !('host' in command) || command.host !== host) {
      throw new AppError('invalid', `A relayed command must be a sampling command for ${host}`)
    }
    if (!COMMAND_ROLES.includes(actor.role)) throw new AppError('forbidden', `Role ${actor.role} may not send commands`)
    const { sampling, jobs, alerts, host: here } = this.#opts
    return dispatch(command, { actor, sampling, jobs, alerts, host: here })
  }

  /** Closes the sockets of revoked tokens with 1008. */
  closeFor(tokenIds: ReadonlySet<number>): number {
    let closed = 0
    for (const peer of this.#peers) {
      if (!tokenIds.has(peer.principal.tokenId)) continue
      peer.ws.close(CLOSE.policy, 'token revoked')
      closed++
    }
    return closed
  }

  /** Closes every socket with 1001 so clients reconnect to the next process. */
  close(): void {
    this.#stopHeartbeat()
    for (const peer of this.#peers) peer.ws.close(CLOSE.goingAway, 'server shutting down')
  }
}
