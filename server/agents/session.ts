import type { RawData, WebSocket } from 'ws'
import type { SamplingControl } from '../control/index.ts'
import { AppError, issueMessage } from '../errors.ts'
import type { Hosts } from '../hosts/index.ts'
import type { Pipeline } from '../ingest/index.ts'
import type { Logger } from '../log.ts'
import {
  AGENT_CLOSE,
  AGENT_PROTOCOL_VERSION,
  AgentMessage,
  type AgentMessageType,
  type HubMessage,
  type SamplingSettings,
} from '../protocol/index.ts'
import type { Store } from '../store/index.ts'
import { SeqCursor } from './cursor.ts'

/** What a session needs of the hub. */
export interface SessionDeps {
  hosts: Hosts
  pipeline: Pipeline
  store: Store
  /** The host's sampling control, made on first use with what the agent reports it runs. */
  samplingFor(host: string): SamplingControl | undefined
  heartbeatMs: number
  maxSeriesPerHost: number
  log: Logger
}

/** Who the upgrade said the agent is, checked before the socket opened. */
export interface AgentIdentity {
  host: string
  machineId: string
  tokenId: number
  tokenName: string
  remote: string | null
}

/** How long an agent has to confirm new settings before the answer says `applied: false`. */
const APPLY_TIMEOUT_MS = 5000
/** How long a socket may stay open without a valid `hello`. */
const HELLO_TIMEOUT_MS = 10_000
/** How often the clock is probed for skew. */
const CLOCK_PROBE_MS = 30_000
/** How long an agent waits before sending ticks again that storage could not take. */
const RETRY_MS = 1000

/** The sequence numbers and span of a run of ticks. */
interface SeqRange {
  first: number
  last: number
  from: number
  to: number
  n: number
}

/** The sequence numbers and times of a `ticks` message that failed validation, if it has them at all. */
function seqRange(json: unknown): SeqRange | null {
  const ticks = (json as { ticks?: unknown }).ticks
  if (!Array.isArray(ticks) || ticks.length === 0) return null
  const seqs: number[] = []
  const times: number[] = []
  for (const t of ticks) {
    const { seq, ts } = (t ?? {}) as { seq?: unknown; ts?: unknown }
    if (!Number.isSafeInteger(seq) || (seq as number) < 1) return null
    seqs.push(seq as number)
    if (Number.isSafeInteger(ts)) times.push(ts as number)
  }
  return {
    first: Math.min(...seqs),
    last: Math.max(...seqs),
    from: times.length ? Math.min(...times) : 0,
    to: times.length ? Math.max(...times) : 0,
    n: seqs.length,
  }
}

type Handlers = { [K in AgentMessageType]: (msg: Extract<AgentMessage, { type: K }>) => void }

/**
 * One agent's socket: `hello`, then ticks in, acknowledgements out once they are committed, gaps and replays
 * recorded, settings pushed and confirmed, the clock probed. Every message is validated; a bad one gets an
 * `error` and the socket stays open.
 */
export class AgentSession {
  readonly id: AgentIdentity
  readonly ws: WebSocket
  alive = true
  #deps: SessionDeps
  #cursor: SeqCursor | null = null
  #stream = ''
  #welcomed = false
  #stopped = false
  #nextConfigure = 1
  readonly #pending = new Map<number, (applied: boolean) => void>()
  readonly #timers: NodeJS.Timeout[] = []
  readonly #handlers: Handlers
  #chain: Promise<void> = Promise.resolve()
  /** Called once when the socket closes, so the hub can mark the host offline. */
  onClose: () => void = () => {}

  constructor(ws: WebSocket, id: AgentIdentity, deps: SessionDeps) {
    this.ws = ws
    this.id = id
    this.#deps = deps
    this.#handlers = {
      hello: (m) => this.#hello(m),
      ticks: (m) => this.#ticks(m),
      gap: (m) => this.#gap(m),
      replayed: (m) => deps.hosts.backfilled(id.host, { from: m.from, to: m.to, ticks: m.ticks }),
      status: (m) => deps.hosts.spool(id.host, m.spool),
      devices: (m) => deps.hosts.devices(id.host, m.devices),
      applied: (m) => {
        this.#pending.get(m.id)?.(true)
        this.#pending.delete(m.id)
      },
      time: (m) => deps.hosts.clockSkew(id.host, Math.round(m.now - (m.t0 + Date.now()) / 2)),
    }
    const helloTimer = setTimeout(() => {
      if (!this.#welcomed) ws.close(AGENT_CLOSE.protocol, 'no hello')
    }, HELLO_TIMEOUT_MS)
    this.#timers.push(helloTimer)
    ws.on('pong', () => {
      this.alive = true
      if (this.#welcomed) deps.hosts.seen(id.host)
    })
    // One message at a time, in order: a batch is stored and acknowledged before the next one is looked at
    ws.on('message', (data, isBinary) => {
      this.#chain = this.#chain.then(() => this.#onMessage(data, isBinary))
    })
    ws.on('error', (err) => deps.log.warn('agent socket error', { err, host: id.host }))
    ws.on('close', () => {
      for (const t of this.#timers) clearTimeout(t)
      for (const resolve of this.#pending.values()) resolve(false)
      this.#pending.clear()
      // Also before the welcome: a socket that closed while its hello was being stored leaves nothing behind
      this.onClose()
    })
  }

  get welcomed(): boolean {
    return this.#welcomed
  }

  /** Sends new settings; resolves true once the agent confirms them, false if it does not within 5 s or goes. */
  configure(sampling: SamplingSettings): Promise<boolean> {
    if (!this.#welcomed || this.ws.readyState !== this.ws.OPEN) return Promise.resolve(false)
    const id = this.#nextConfigure++
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        resolve(false)
      }, APPLY_TIMEOUT_MS)
      this.#pending.set(id, (applied) => {
        clearTimeout(timer)
        resolve(applied)
      })
      this.#send({ type: 'configure', id, sampling })
    })
  }

  #send(msg: HubMessage): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(msg))
  }

  /** The hub is going: nothing more is taken from this socket, and its timers stop. */
  stop(): void {
    this.#stopped = true
    for (const t of this.#timers) clearTimeout(t)
  }

  async #onMessage(data: RawData, isBinary: boolean): Promise<void> {
    if (this.#stopped || this.ws.readyState !== this.ws.OPEN) return
    let json: unknown
    try {
      json = isBinary ? undefined : JSON.parse(data.toString())
    } catch {
      json = undefined
    }
    const parsed = AgentMessage.safeParse(json)
    const type = typeof json === 'object' && json !== null && 'type' in json ? String(json.type).slice(0, 64) : null
    if (!parsed.success) {
      if (!this.#welcomed) {
        this.ws.close(AGENT_CLOSE.protocol, 'the first message must be a valid hello')
        return
      }
      const message = json === undefined ? 'Messages are JSON text frames' : issueMessage(parsed.error)
      // Ticks the hub can never take would be sent again forever: refused by their numbers, the hole recorded
      const range = type === 'ticks' ? seqRange(json) : null
      if (range) await this.#refuseTicks(range, 'invalid', message)
      else this.#send({ type: 'error', code: json === undefined ? 'bad_json' : 'invalid', message, ref: type })
      return
    }
    const msg = parsed.data
    if (!this.#welcomed && msg.type !== 'hello') {
      this.ws.close(AGENT_CLOSE.protocol, 'the first message must be hello')
      return
    }
    try {
      const handler = this.#handlers[msg.type] as (m: typeof msg) => void | Promise<void>
      await handler(msg)
    } catch (err) {
      this.#deps.log.error('agent message failed', { err, host: this.id.host, type: msg.type })
      this.#send({ type: 'error', code: 'internal', message: 'Internal error', ref: msg.type })
    }
  }

  async #hello(m: Extract<AgentMessage, { type: 'hello' }>): Promise<void> {
    if (this.#welcomed) {
      this.#send({ type: 'error', code: 'invalid', message: 'hello was sent already', ref: 'hello' })
      return
    }
    const { host } = this.id
    const stream = `${host}/${m.spoolId}`
    let through: number
    try {
      through = await this.#deps.store.cursor(stream)
    } catch (err) {
      // Without its mark the hub cannot say what to replay: the agent tries again later and loses nothing
      this.#deps.log.warn('agent hello: could not read the spool mark', { err, host })
      this.ws.close(AGENT_CLOSE.tryAgain, 'storage unavailable')
      return
    }
    if (this.#stopped || this.ws.readyState !== this.ws.OPEN) return
    this.#stream = stream
    this.#cursor = new SeqCursor(through)
    await this.#deps.hosts.connected(host, {
      tokenId: this.id.tokenId,
      machineId: this.id.machineId,
      agentVersion: m.agentVersion,
      info: m.info,
      spool: m.spool,
    })
    if (this.ws.readyState !== this.ws.OPEN) {
      // Closed while the host was being marked online: it is not
      this.#deps.hosts.disconnected(host)
      return
    }
    const control = this.#deps.samplingFor(host)
    // Another hub may have stored newer settings for the host since this one read them
    await control?.reload()
    control?.reported(m.sampling)
    this.#welcomed = true
    this.#send({
      type: 'welcome',
      v: AGENT_PROTOCOL_VERSION,
      host,
      through: this.#cursor.through,
      heartbeatMs: this.#deps.heartbeatMs,
      sampling: control?.stored ? control.current().sampling : null,
    })
    this.#probeClock()
    const probe = setInterval(() => this.#probeClock(), CLOCK_PROBE_MS)
    probe.unref()
    this.#timers.push(probe)
  }

  #probeClock(): void {
    this.#send({ type: 'time', t0: Date.now() })
  }

  async #ticks(m: Extract<AgentMessage, { type: 'ticks' }>): Promise<void> {
    const cursor = this.#cursor as SeqCursor
    const { host } = this.id
    const first = m.ticks[0]?.seq as number
    const last = m.ticks.at(-1)?.seq as number
    // A replayed tick the hub has already is acknowledged again, never stored twice
    const fresh = m.ticks.filter((t) => !cursor.has(t.seq))
    const seqs = fresh.map((t) => t.seq)
    const names = new Set<string>()
    for (const t of fresh) for (const name in t.values) names.add(name)
    const through = cursor.preview(seqs)
    try {
      const { have, added } = await this.#deps.store.countSeries(host, names)
      if (have + added > this.#deps.maxSeriesPerHost) {
        const message = `Host ${host} has ${have} series; ${added} more would pass the limit of ${this.#deps.maxSeriesPerHost}`
        const from = m.ticks[0]?.ts as number
        const to = m.ticks.at(-1)?.ts as number
        await this.#refuseTicks({ first, last, from, to, n: m.ticks.length }, 'cardinality_limit', message)
        return
      }
      if (fresh.length > 0 || through !== cursor.through) {
        await this.#deps.pipeline.agentTicks(host, fresh, m.live, { stream: this.#stream, through })
      }
    } catch (err) {
      const e = err instanceof AppError ? err : new AppError('unavailable', `Storage failed: ${(err as Error).message}`)
      const nack = { from: first, to: last, code: e.code, message: e.message, retryMs: RETRY_MS }
      this.#send({ type: 'nack', ...nack, through: cursor.through })
      return
    }
    if (fresh.length > 0 || through !== cursor.through) cursor.commit(seqs, through)
    this.#send({ type: 'ack', from: first, to: last, through: cursor.through })
  }

  async #gap(m: Extract<AgentMessage, { type: 'gap' }>): Promise<void> {
    // Not recorded when the mark can't be stored: the agent reports the gap again on its next connection
    if (!(await this.#lose(m.fromSeq, m.toSeq))) return
    await this.#deps.hosts.gap(this.id.host, this.#stream, m)
    this.#send({ type: 'gapAck', fromSeq: m.fromSeq })
  }

  /** Ticks the hub will never store: passed over by the mark, recorded as a gap, and refused so the agent drops them. */
  async #refuseTicks(r: SeqRange, code: 'invalid' | 'cardinality_limit', message: string): Promise<void> {
    const cursor = this.#cursor as SeqCursor
    if (await this.#lose(r.first, r.last)) {
      await this.#deps.hosts.gap(this.id.host, this.#stream, {
        fromSeq: r.first,
        toSeq: r.last,
        from: r.from,
        to: r.to,
        ticks: r.n,
      })
    }
    this.#send({ type: 'nack', from: r.first, to: r.last, code, message, retryMs: 0, through: cursor.through })
  }

  /** Marks `from`..`to` lost and stores the mark if it moved; false when storage failed. */
  async #lose(from: number, to: number): Promise<boolean> {
    const cursor = this.#cursor as SeqCursor
    cursor.lose(from, to)
    const through = cursor.preview([])
    if (through === cursor.through) return true
    try {
      await this.#deps.store.writeTicks(this.id.host, [], { stream: this.#stream, through })
    } catch {
      return false
    }
    cursor.commit([], through)
    return true
  }
}
