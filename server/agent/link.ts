import WebSocket from 'ws'
import { issueMessage } from '../errors.ts'
import type { Logger } from '../log.ts'
import {
  AGENT_CLOSE,
  AGENT_HOST_HEADER,
  AGENT_MACHINE_HEADER,
  AGENT_PROTOCOL_VERSION,
  type AgentMessage,
  backoffMs,
  type Devices,
  type HostInfo,
  HubMessage,
  type SamplingSettings,
} from '../protocol/index.ts'
import type { Spool, SpooledTick } from './spool.ts'

export interface LinkOptions {
  /** The hub's endpoint, or those of a cluster's hubs: after a connection breaks or fails, the next is dialled. */
  urls: readonly string[]
  token: string
  host: string
  machineId: string
  /** PEM of the CA (or self-signed certificate) a wss:// hub's certificate must chain to. */
  ca: Buffer | null
  agentVersion: string
  info: HostInfo
  spool: Spool
  /** The sampler's settings now, for `hello`. */
  sampling(): SamplingSettings
  /** Applies settings from the hub; the link confirms them once this returns. */
  configure(s: SamplingSettings): void
  log: Logger
  /** Told when the hub welcomed a connection (benchmarks watch it). */
  onWelcome?(): void
  /** Told when a replay is done and acknowledged (benchmarks and tests watch it). */
  onReplayed?(r: { from: number; to: number; ticks: number }): void
}

/** Why the link stopped for good: the hub refused the token or the host, or it was told to stop. */
export type StopReason = { code: 'refused' | 'revoked' | 'stopped'; message: string }

const REPLAY_TICKS = 1000
const REPLAY_BYTES = 512 * 1024
const STATUS_EVERY_MS = 10_000
/** Until the hub says its heartbeat, ping this often. */
const DEFAULT_HEARTBEAT_MS = 5000
/** HTTP answers to the upgrade that mean trying again cannot help. */
const FINAL_REFUSALS = new Set([400, 401, 403])

/**
 * The agent's side of the channel: dials the hub (outbound, so NAT and firewalls are no obstacle), introduces
 * itself, replays what the hub lacks oldest first while live ticks go out at once, and forgets a tick only once
 * the hub acknowledged it. Reconnects with capped exponential backoff and full jitter; pings the hub and drops a
 * silent one; stops when the token is refused or revoked.
 */
export class HubLink {
  readonly #opts: LinkOptions
  #ws: WebSocket | null = null
  #attempt = 0
  /** Which of the hubs the next connection dials (modulo their number). */
  #hub = 0
  #timer: NodeJS.Timeout | null = null
  #retry: NodeJS.Timeout | null = null
  #heartbeat: NodeJS.Timeout | null = null
  #status: NodeJS.Timeout | null = null
  #welcomed = false
  /** The latest `devices` message, as sent. */
  #devices: string | null = null
  #alive = true
  /** Replay window: ticks after `#cursor` up to `#replayTo` still to send; one batch in flight at a time. */
  #cursor = 0
  #replayTo = 0
  #inflight: { from: number; to: number } | null = null
  #replayed: { from: number; to: number; ticks: number } | null = null
  /** Gaps sent on this connection, as `from:to`: sent once each until the hub records them. */
  #gapsSent = new Set<string>()
  #stopped: StopReason | null = null
  readonly #done: Promise<StopReason>
  #finish: (r: StopReason) => void = () => {}

  constructor(opts: LinkOptions) {
    this.#opts = opts
    this.#done = new Promise((resolve) => {
      this.#finish = resolve
    })
  }

  /** Whether the hub has welcomed this connection: live ticks go out at once. */
  get connected(): boolean {
    return this.#welcomed
  }

  /** Resolves when the link stops for good. */
  get done(): Promise<StopReason> {
    return this.#done
  }

  start(): void {
    this.#connect()
  }

  /** A tick just spooled: sent now if the hub is there; otherwise it waits in the spool for the replay. */
  live(tick: SpooledTick): void {
    if (this.#welcomed) this.#sendRaw(`{"type":"ticks","live":true,"ticks":[${tick.data}]}`)
    this.#sendGaps()
  }

  /** The host's device names: sent when they change, and again after every welcome. */
  devices(devices: Devices): void {
    const text = JSON.stringify({ type: 'devices', devices })
    if (text === this.#devices) return
    this.#devices = text
    if (this.#welcomed) this.#sendRaw(text)
  }

  /** Closes the socket (1000) and stops reconnecting. */
  stop(): void {
    this.#end({ code: 'stopped', message: 'stopped' })
    this.#ws?.close(AGENT_CLOSE.normal, 'agent stopping')
  }

  #end(reason: StopReason): void {
    if (this.#stopped) return
    this.#stopped = reason
    if (this.#timer) clearTimeout(this.#timer)
    this.#finish(reason)
  }

  #connect(): void {
    if (this.#stopped) return
    const { urls, token, host, machineId, ca, log } = this.#opts
    const url = urls[this.#hub % urls.length] as string
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${token}`, [AGENT_HOST_HEADER]: host, [AGENT_MACHINE_HEADER]: machineId },
      perMessageDeflate: false,
      handshakeTimeout: 10_000,
      ...(ca ? { ca } : {}),
    })
    this.#ws = ws
    ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0
      let body = ''
      res.on('data', (d: Buffer) => {
        body += d.toString()
      })
      res.on('end', () => {
        const message = `the hub refused the connection: HTTP ${status}${body ? ` ${body}` : ''}`
        if (FINAL_REFUSALS.has(status)) this.#end({ code: 'refused', message })
        else log.warn(message)
      })
      ws.terminate()
    })
    ws.on('open', () => {
      this.#alive = true
      this.#send({
        type: 'hello',
        v: AGENT_PROTOCOL_VERSION,
        agentVersion: this.#opts.agentVersion,
        spoolId: this.#opts.spool.id,
        info: this.#opts.info,
        sampling: this.#opts.sampling(),
        spool: this.#opts.spool.status(),
      })
    })
    ws.on('pong', () => {
      this.#alive = true
    })
    ws.on('message', (data, isBinary) => this.#onMessage(data.toString(), isBinary))
    ws.on('error', (err) => log.warn('hub connection failed', { err: err.message, url }))
    ws.on('close', (code, reason) => this.#onClose(ws, code, reason.toString()))
  }

  #onClose(ws: WebSocket, code: number, reason: string): void {
    if (this.#ws !== ws) return
    this.#ws = null
    this.#welcomed = false
    this.#inflight = null
    this.#gapsSent.clear()
    if (this.#retry) clearTimeout(this.#retry)
    if (this.#heartbeat) clearInterval(this.#heartbeat)
    if (this.#status) clearInterval(this.#status)
    if (code === AGENT_CLOSE.policy) {
      this.#end({ code: 'revoked', message: `the hub closed the connection: ${reason || 'token revoked'}` })
    }
    if (this.#stopped) return
    // The next hub of the list gets the next try: a dead hub's agents move to the others
    this.#hub++
    const wait = backoffMs(this.#attempt++)
    this.#opts.log.info('hub connection closed; reconnecting', { code, reason, inMs: wait })
    this.#timer = setTimeout(() => this.#connect(), wait)
  }

  #send(msg: AgentMessage): void {
    this.#sendRaw(JSON.stringify(msg))
  }

  #sendRaw(text: string): void {
    if (this.#ws?.readyState === WebSocket.OPEN) this.#ws.send(text)
  }

  #onMessage(text: string, isBinary: boolean): void {
    let parsed: ReturnType<typeof HubMessage.safeParse>
    try {
      parsed = HubMessage.safeParse(isBinary ? undefined : JSON.parse(text))
    } catch {
      this.#opts.log.warn('the hub sent a message that is not JSON')
      return
    }
    if (!parsed.success) {
      this.#opts.log.warn('the hub sent a message this agent does not understand', {
        issue: issueMessage(parsed.error),
      })
      return
    }
    const msg = parsed.data
    const { spool, log } = this.#opts
    switch (msg.type) {
      case 'welcome': {
        this.#welcomed = true
        this.#attempt = 0
        spool.forgetThrough(msg.through)
        this.#cursor = msg.through
        this.#replayTo = spool.lastSeq()
        this.#replayed = null
        if (msg.sampling) this.#apply(msg.sampling)
        this.#startTimers(msg.heartbeatMs)
        log.info('connected to the hub', { host: msg.host, through: msg.through, toReplay: spool.status().ticks })
        this.#opts.onWelcome?.()
        if (this.#devices) this.#sendRaw(this.#devices)
        this.#sendGaps()
        this.#replay()
        return
      }
      case 'ack':
        // Forgotten once the hub's contiguous mark passes them: a live tick stored above it during a replay is
        // sent again after a reconnect, so the hub's mark can never be stuck below a tick the agent no longer has
        spool.forgetThrough(msg.through)
        if (this.#inflight?.from === msg.from) {
          this.#inflight = null
          this.#cursor = Math.max(this.#cursor, msg.to)
          this.#replay()
        }
        return
      case 'nack': {
        log.warn('the hub did not store ticks', { from: msg.from, to: msg.to, code: msg.code, message: msg.message })
        if (this.#inflight?.from === msg.from) this.#inflight = null
        if (msg.code === 'invalid' || msg.code === 'cardinality_limit') {
          // The hub will never take these and has recorded the hole: they go
          spool.ack(msg.from, msg.to)
          spool.forgetThrough(msg.through)
          this.#cursor = Math.max(this.#cursor, msg.to)
          this.#replay()
          return
        }
        // Storage trouble on the hub: these go out again with the replay, after the wait it asks for
        this.#cursor = Math.min(this.#cursor, msg.from - 1)
        this.#replayTo = Math.max(this.#replayTo, msg.to)
        if (this.#retry) clearTimeout(this.#retry)
        this.#retry = setTimeout(() => this.#replay(), msg.retryMs)
        return
      }
      case 'gapAck':
        spool.gapRecorded(msg.fromSeq)
        return
      case 'configure':
        this.#apply(msg.sampling)
        this.#send({ type: 'applied', id: msg.id, sampling: msg.sampling })
        return
      case 'time':
        this.#send({ type: 'time', t0: msg.t0, now: Date.now() })
        return
      case 'error':
        log.warn('the hub refused a message', { code: msg.code, message: msg.message, ref: msg.ref })
        return
    }
  }

  #apply(sampling: SamplingSettings): void {
    this.#opts.configure(sampling)
    // Kept across restarts of the agent: with the hub away, it goes on with what the operator set
    this.#opts.spool.setMeta('sampling', JSON.stringify(sampling))
  }

  #startTimers(heartbeatMs: number): void {
    if (this.#heartbeat) clearInterval(this.#heartbeat)
    if (this.#status) clearInterval(this.#status)
    const ping = heartbeatMs > 0 ? heartbeatMs : DEFAULT_HEARTBEAT_MS
    this.#heartbeat = setInterval(() => {
      const ws = this.#ws
      if (!ws) return
      // A hub that did not answer the last ping is gone: drop the socket and reconnect
      if (!this.#alive) {
        ws.terminate()
        return
      }
      this.#alive = false
      ws.ping()
    }, ping)
    this.#status = setInterval(() => this.#send({ type: 'status', spool: this.#opts.spool.status() }), STATUS_EVERY_MS)
    this.#status.unref()
  }

  /** Sends the next replay batch if none is in flight; says `replayed` once the window is done. */
  #replay(): void {
    if (!this.#welcomed || this.#inflight) return
    const rows = this.#opts.spool.after(this.#cursor, this.#replayTo, REPLAY_TICKS, REPLAY_BYTES)
    const first = rows[0]
    const last = rows.at(-1)
    if (!first || !last) {
      if (this.#replayed) {
        this.#send({ type: 'replayed', ...this.#replayed })
        this.#opts.onReplayed?.(this.#replayed)
      }
      this.#replayed = null
      this.#cursor = Math.max(this.#cursor, this.#replayTo)
      return
    }
    this.#inflight = { from: first.seq, to: last.seq }
    const r = this.#replayed
    this.#replayed = { from: r?.from ?? first.ts, to: last.ts, ticks: (r?.ticks ?? 0) + rows.length }
    this.#sendRaw(`{"type":"ticks","live":false,"ticks":[${rows.map((t) => t.data).join(',')}]}`)
  }

  #sendGaps(): void {
    if (!this.#welcomed) return
    for (const g of this.#opts.spool.gaps()) {
      const key = `${g.fromSeq}:${g.toSeq}`
      if (this.#gapsSent.has(key)) continue
      this.#gapsSent.add(key)
      this.#send({ type: 'gap', ...g })
    }
  }
}
