import WebSocket from 'ws'
import {
  AGENT_HOST_HEADER,
  AGENT_MACHINE_HEADER,
  AGENT_PROTOCOL_VERSION,
  type AgentMessage,
  type AgentTick,
  type HubMessage,
} from '../protocol/index.ts'

export interface SimAgentOptions {
  url: string
  token: string
  host: string
  machineId?: string
  spoolId?: string
  ca?: Buffer
}

/**
 * A simulated agent speaking the real protocol over a real `ws` socket: for tests and benchmarks that need many
 * hosts, or exact control of what an agent sends. It answers the hub's clock probes and settings like `vigil agent`.
 */
export class SimAgent {
  readonly ws: WebSocket
  readonly received: HubMessage[] = []
  readonly closed: Promise<{ code: number; reason: string }>
  readonly #waiters: (() => void)[] = []

  constructor(readonly opts: SimAgentOptions) {
    this.ws = new WebSocket(`${opts.url.replace(/^http/, 'ws')}/api/agent`, {
      headers: {
        authorization: `Bearer ${opts.token}`,
        [AGENT_HOST_HEADER]: opts.host,
        [AGENT_MACHINE_HEADER]: opts.machineId ?? `machine-${opts.host}`,
      },
      perMessageDeflate: false,
      ...(opts.ca ? { ca: opts.ca } : {}),
    })
    this.ws.on('message', (d) => {
      const msg = JSON.parse(d.toString()) as HubMessage
      this.received.push(msg)
      if (msg.type === 'time') this.send({ type: 'time', t0: msg.t0, now: Date.now() })
      if (msg.type === 'configure') this.send({ type: 'applied', id: msg.id, sampling: msg.sampling })
      for (const w of this.#waiters) w()
    })
    this.closed = new Promise((resolve) =>
      this.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    )
    this.ws.on('error', () => {})
  }

  /** Opens, says hello and resolves with the welcome. */
  async hello(
    spool = { ticks: 0, bytes: 0, oldestTs: null, droppedTicks: 0 },
  ): Promise<Extract<HubMessage, { type: 'welcome' }>> {
    await new Promise<void>((resolve, reject) => {
      this.ws.once('open', () => resolve())
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)))
    })
    this.send({
      type: 'hello',
      v: AGENT_PROTOCOL_VERSION,
      agentVersion: 'sim-1',
      spoolId: this.opts.spoolId ?? 'sim-spool-0001',
      info: { platform: 'linux', release: 'sim', arch: 'x64', cores: 4, memTotalBytes: 8 * 2 ** 30, bootTime: 0 },
      sampling: { fastMs: 1000, slowMs: 10_000, paused: false },
      spool,
    })
    return (await this.next('welcome')) as Extract<HubMessage, { type: 'welcome' }>
  }

  send(msg: AgentMessage | string): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg))
  }

  ticks(ticks: AgentTick[], live = true): void {
    this.send({ type: 'ticks', live, ticks })
  }

  /** Resolves with the first message of `type` received from now on (or already, after `after` messages). */
  next<T extends HubMessage['type']>(type: T, after = this.received.length, timeoutMs = 10_000) {
    return this.waitFor((m) => m.slice(after).find((x) => x.type === type), timeoutMs) as Promise<
      Extract<HubMessage, { type: T }>
    >
  }

  /** Resolves with `pick`'s answer once it gives one, checking on every message. */
  waitFor<R>(pick: (received: HubMessage[]) => R | undefined, timeoutMs = 10_000): Promise<R> {
    const now = pick(this.received)
    if (now !== undefined) return Promise.resolve(now)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out with ${JSON.stringify(this.received)}`)), timeoutMs)
      const check = () => {
        const r = pick(this.received)
        if (r === undefined) return
        clearTimeout(timer)
        this.#waiters.splice(this.#waiters.indexOf(check), 1)
        resolve(r)
      }
      this.#waiters.push(check)
    })
  }

  close(): void {
    this.ws.close(1000)
  }
}

/** A tick with a few values of a host's usual shape. */
export function simTick(seq: number, ts: number, cpu = 10 + (seq % 7)): AgentTick {
  return {
    seq,
    ts,
    intervalMs: 1000,
    values: { 'cpu.usage_pct': cpu, 'mem.used_bytes': 2 ** 30, 'mem.total_bytes': 2 ** 32, 'load.1m': 0.5 },
  }
}
