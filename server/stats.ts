import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Hono } from 'hono'
import type { AuthEnv } from './auth/index.ts'
import type { HubBus } from './bus/index.ts'
import type { Control } from './control/index.ts'
import { describeRoute } from './openapi/index.ts'
import type { StatsResponse } from './protocol/index.ts'
import type { Sampler } from './sampler/index.ts'
import type { RetryingWriter, Store } from './store/index.ts'
import type { Streams } from './stream/index.ts'

const RATE_WINDOW = 10

/** Counts per second over a sliding window of one-second samples. */
function rateMeter(read: () => number): { perS(): number; stop(): void } {
  const window: { at: number; n: number }[] = [{ at: Date.now(), n: read() }]
  const timer = setInterval(() => {
    window.push({ at: Date.now(), n: read() })
    if (window.length > RATE_WINDOW + 1) window.shift()
  }, 1000)
  timer.unref()
  return {
    perS() {
      const first = window[0]
      const last = { at: Date.now(), n: read() }
      if (!first || last.at <= first.at) return 0
      return Math.round(((last.n - first.n) * 1000 * 100) / (last.at - first.at)) / 100
    },
    stop: () => clearInterval(timer),
  }
}

export interface StatsSources {
  bus: HubBus
  streams: Streams
  control: Control
  sampler: Sampler
  store: Store
  writer: RetryingWriter
  startedAt: number
  /** Failures counted elsewhere (host events, housekeeping). */
  errors(): number
}

/** What Vigil itself costs, for `/api/stats`, the dashboard's self-cost panel and `/metrics`. */
export class SelfStats {
  readonly #src: StatsSources
  readonly #events
  // Event-loop lag over the hub's life, for /api/stats and the soak script
  readonly #loopDelay = monitorEventLoopDelay({ resolution: 10 })

  constructor(src: StatsSources) {
    this.#src = src
    this.#events = rateMeter(() => src.bus.emitted)
    this.#loopDelay.enable()
  }

  async read(): Promise<StatsResponse> {
    const { bus, streams, control, sampler, store, writer } = this.#src
    return {
      clients: streams.clients,
      controlSockets: control.peers,
      droppedClients: streams.dropped,
      eventsPerS: this.#events.perS(),
      lastEventId: bus.lastId,
      sampler: sampler.stats(),
      storeErrors: this.#src.errors() + writer.failures,
      storage: await store.storageStats(),
      process: {
        rssBytes: process.memoryUsage.rss(),
        heapUsedBytes: process.memoryUsage().heapUsed,
        eventLoopLagP99Ms: Math.round(this.#loopDelay.percentile(99) / 1e4) / 100,
        uptimeS: Math.round((Date.now() - this.#src.startedAt) / 1000),
      },
    }
  }

  stop(): void {
    this.#events.stop()
    this.#loopDelay.disable()
  }
}

/** `GET /api/stats`. Mounted behind the read check. */
export function statsRoutes(stats: SelfStats): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>()
  app.get(
    '/api/stats',
    describeRoute({
      tag: 'meta',
      summary: "The hub's own cost",
      response: { description: 'Clients, events per second, sampler cost, storage per tier, memory' },
    }),
    async (c) => c.json<StatsResponse>(await stats.read()),
  )
  return app
}
