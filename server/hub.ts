import { readFileSync } from 'node:fs'
import { createServer, Server as HttpServer, type Server } from 'node:http'
import { createSecureServer, type Http2SecureServer, type ServerHttp2Session } from 'node:http2'
import type { AddressInfo, Socket } from 'node:net'
import { arch, cpus, hostname, platform, release, totalmem, uptime } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { serve } from '@hono/node-server'
import { createApp } from './app.ts'
import { Audit } from './audit/index.ts'
import { Tokens } from './auth/index.ts'
import { Bus } from './bus/index.ts'
import { type Config, ConfigError } from './config.ts'
import { Control, SamplingControl } from './control/index.ts'
import { Health } from './health.ts'
import { answerMalformed, isLoopback, pathTargetsOnly, refuseExpectation } from './http.ts'
import { Jobs } from './jobs/index.ts'
import { ConnectionCaps, FailureThrottle } from './limits/index.ts'
import { type Logger, stderrLogger } from './log.ts'
import { selfSamples } from './metrics/index.ts'
import { ROOT } from './paths.ts'
import type { HostEvent, MetricsEvent, StatsResponse } from './protocol.ts'
import { defaultProbe, type Probe, Sampler } from './sampler/index.ts'
import { type Db, openDb, openSqliteStore, RetryingWriter, type Store } from './store/index.ts'
import { Streams } from './stream/index.ts'
import { loadTls } from './tls.ts'

export interface HubOptions {
  /** Replaces the platform probe; tests use it to fake readings the machine can't give. */
  probe?: Probe
  log?: Logger
  /** Replaces the sampler's wall clock; tests use it to fake a clock jump. */
  clock?: () => number
}

/** A running hub: HTTP API, SSE, sampler and store, with its real port. */
export interface Hub {
  readonly port: number
  readonly url: string
  readonly host: string
  readonly bus: Bus
  readonly store: Store
  readonly streams: Streams
  readonly sampler: Sampler
  readonly tokens: Tokens
  readonly sampling: SamplingControl
  readonly control: Control
  readonly jobs: Jobs
  readonly health: Health
  /** The hub's SQLite connection; tests use it to fake faults the machine can't give (a full disk). */
  readonly db: Db
  /** The one-time admin login link made at first start (no tokens yet), else null. Print it; never log it. */
  readonly firstLoginUrl: string | null
  /** Stops sampling, flushes writes, ends streams so clients reconnect, and closes the store. */
  close(): Promise<void>
}

const PRUNE_EVERY_MS = 60_000
/** A lock held by another process (`vigil token …`) is waited for this long, on the event loop, then retried. */
const BUSY_TIMEOUT_MS = 100
/** Ticks held while storage fails: an hour at the default 1 s, then the oldest go. */
const WRITE_QUEUE_TICKS = 3600
/** How often the hub looks for tokens revoked by `vigil token revoke` in another process. */
const REVOCATION_CHECK_MS = 500
const FIRST_LOGIN_TTL_MS = 24 * 3_600_000
const RATE_WINDOW = 10

export const VERSION: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version

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

/**
 * Starts a hub on `config.host:config.port` (port 0 picks a free one).
 * @example const hub = await startHub(loadConfig(process.env, ['--port', '0']))
 */
export async function startHub(config: Config, opts: HubOptions = {}): Promise<Hub> {
  const log = opts.log ?? stderrLogger
  // Read before anything opens: a bad certificate path stops the start with exit code 2
  const tls = loadTls(config)
  const startedAt = Date.now()
  const host = hostname()
  const db = openDb(config.dataDir, { busyTimeoutMs: BUSY_TIMEOUT_MS })
  const tokens = new Tokens(db)
  if (!isLoopback(config.host) && tokens.activeCount() === 0) {
    db.sqlite.close()
    throw new ConfigError(
      `VIGIL_HOST (--host)=${JSON.stringify(config.host)} is not a loopback address and no token exists, so nothing ` +
        'would protect it. Create one first: vigil token create --role admin',
    )
  }
  let firstLogin: string | null = null
  if (tokens.activeCount() === 0) {
    const admin = tokens.create('admin', tokens.freeName('admin'))
    firstLogin = tokens.createLoginCode(admin.id, FIRST_LOGIN_TTL_MS)
  }
  const store = openSqliteStore({
    db,
    dataDir: config.dataDir,
    retentionMs: {
      raw: config.rawRetentionH * 3_600_000,
      '1m': config.retention1mD * 86_400_000,
      '1h': config.retention1hD * 86_400_000,
    },
    replayMs: config.replayS * 1000,
  })
  const bus = new Bus(store)
  const health = new Health()
  const writer = new RetryingWriter(store, {
    maxPending: WRITE_QUEUE_TICKS,
    onFault(message) {
      const was = health.has('storage')
      if (message === null) {
        if (was) log.info('history writes recovered')
        health.clear('storage')
        return
      }
      if (!was) log.error('history writes failing; retrying with backoff', { message })
      health.report('storage', message)
    },
  })
  const jobs = new Jobs(db, bus, {
    host,
    keepHead: 1000,
    keepTail: config.jobLogTail,
    heartbeatTimeoutMs: config.jobLostMs,
    record: (jobHost, ts, values) => writer.write(jobHost, ts, values, null),
  })
  const streams = new Streams(bus, store, {
    heartbeatMs: config.heartbeatMs,
    retryMs: config.retryMs,
    clientBufferBytes: config.clientBufferBytes,
    snapshot: (topic, tail) => jobs.snapshot(topic, tail),
  })
  const hosts = new Map<string, HostEvent>()
  const info: HostEvent['info'] = {
    platform: platform(),
    release: release(),
    arch: arch(),
    cores: cpus().length,
    memTotalBytes: totalmem(),
    bootTime: Math.round(Date.now() - uptime() * 1000),
  }
  let storeErrors = 0

  const sampler = new Sampler(
    opts.probe ?? defaultProbe(),
    { sampleMs: config.sampleMs, slowSampleMs: config.slowSampleMs, ...(opts.clock ? { now: opts.clock } : {}) },
    {
      metrics(ts, intervalMs, values) {
        const payload: MetricsEvent = { host, ts, intervalMs, values }
        const ev = bus.create('metrics', 'metrics', payload, ts)
        // Live data keeps flowing when storage fails: the writer queues the tick and retries
        writer.write(host, ts, values, ev)
        bus.emit(ev)
      },
      clock(behindMs) {
        if (behindMs === 0) health.clear('clock')
        else {
          const s = Math.round(behindMs / 1000)
          health.report(
            'clock',
            `the wall clock went back ${s} s; sample times go on from the monotonic clock until it catches up`,
          )
        }
      },
      faults(group, faults) {
        if (faults.length === 0) health.clear(`sampler.${group}`)
        else health.report(`sampler.${group}`, `metrics missing this tick: ${faults.join('; ')}`)
      },
      processes(ts, processes) {
        const event: HostEvent = { host, ts, info, processes }
        hosts.set(host, event)
        try {
          bus.publish('hosts', 'host', event)
        } catch (err) {
          storeErrors++
          log.error('host event failed', { err })
        }
      },
    },
    (group, err) => {
      health.report(`sampler.${group}`, `the ${group} reading failed: ${(err as Error).message}`)
      log.error(`sampler ${group} tick failed`, { err })
    },
  )

  const audit = new Audit(db, bus)
  const sampling = new SamplingControl(
    db,
    sampler,
    bus,
    audit,
    { fastMs: config.sampleMs, slowMs: config.slowSampleMs, paused: false },
    log,
  )
  const control = new Control({
    tokens,
    audit,
    sampling,
    jobs,
    host,
    allowedOrigins: new Set(config.allowedOrigins),
    pingMs: config.wsPingMs,
    rate: config.wsRate,
    burst: config.wsBurst,
    caps: new ConnectionCaps(config.maxConnPerIp, config.maxConnPerToken),
    log,
  })

  const events = rateMeter(() => bus.emitted)
  // Event-loop lag over the hub's life, for /api/stats and the soak script
  const loopDelay = monitorEventLoopDelay({ resolution: 10 })
  loopDelay.enable()
  const prune = () => {
    try {
      store.maintain(Date.now())
      tokens.prune(Date.now())
      health.clear('maintenance')
    } catch (err) {
      storeErrors++
      health.report('maintenance', `history housekeeping failed: ${(err as Error).message}`)
      log.error('prune failed', { err })
    }
  }
  prune()
  const pruneTimer = setInterval(prune, PRUNE_EVERY_MS)
  let revoked = tokens.revokedIds()
  /** Ends what a newly revoked token holds open; called on this process's revocations and others'. */
  const enforceRevocations = () => {
    const now = tokens.revokedIds()
    const fresh = new Set([...now].filter((id) => !revoked.has(id)))
    revoked = now
    if (fresh.size === 0) return
    log.info('tokens revoked', { streams: streams.endFor(fresh), sockets: control.closeFor(fresh) })
  }
  const revocationTimer = setInterval(() => {
    if (tokens.changedElsewhere()) enforceRevocations()
  }, REVOCATION_CHECK_MS)
  const lostTimer = setInterval(
    () => {
      try {
        jobs.checkLost(Date.now())
      } catch (err) {
        log.error('lost-job check failed', { err })
      }
    },
    Math.min(5000, config.jobLostMs / 2),
  )

  const stats = (): StatsResponse => ({
    clients: streams.clients,
    controlSockets: control.peers,
    droppedClients: streams.dropped,
    eventsPerS: events.perS(),
    lastEventId: bus.lastId,
    sampler: sampler.stats(),
    storeErrors: storeErrors + writer.failures,
    storage: store.storageStats(),
    process: {
      rssBytes: process.memoryUsage.rss(),
      heapUsedBytes: process.memoryUsage().heapUsed,
      eventLoopLagP99Ms: Math.round(loopDelay.percentile(99) / 1e4) / 100,
      uptimeS: Math.round((Date.now() - startedAt) / 1000),
    },
  })

  const app = createApp({
    config,
    store,
    streams,
    host,
    version: VERSION,
    startedAt,
    log,
    tokens,
    audit,
    sampling,
    control,
    jobs,
    allowAnonymous: isLoopback(config.host),
    bus,
    streamCaps: new ConnectionCaps(config.maxConnPerIp, config.maxConnPerToken),
    authThrottle: new FailureThrottle(config.authFailuresPerMin),
    health,
    latestHosts: () => [...hosts.values()],
    stats,
    selfMetrics: () => selfSamples(stats()),
  })

  // With TLS: HTTP/2 for browsers (no 6-connections-per-origin limit on streams), HTTP/1.1 on the same port for
  // WebSocket upgrades and older clients
  const server = serve({
    fetch: app.fetch,
    port: config.port,
    hostname: config.host,
    websocket: { server: control.wss },
    ...(tls
      ? {
          createServer: ((options, listener) =>
            createSecureServer(options, pathTargetsOnly(listener ?? (() => {})))) as typeof createSecureServer,
          serverOptions: { cert: tls.cert, key: tls.key, allowHTTP1: true },
        }
      : {
          createServer: ((options, listener) =>
            createServer(options, pathTargetsOnly(listener ?? (() => {})))) as typeof createServer,
          // A request without Host reaches the app (which answers it like any other) instead of Node's bare 400
          serverOptions: { requireHostHeader: false },
        }),
  }) as Server | Http2SecureServer
  server.on('clientError', answerMalformed)
  server.on('checkExpectation', refuseExpectation)
  const sockets = new Set<Socket>()
  server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  const sessions = new Set<ServerHttp2Session>()
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session)
    session.once('close', () => sessions.delete(session))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve)
    server.once('error', reject)
  })
  const port = (server.address() as AddressInfo).port
  sampling.start()

  let closing: Promise<void> | null = null
  const url = `${tls ? 'https' : 'http'}://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`
  return {
    port,
    url,
    host,
    bus,
    store,
    streams,
    sampler,
    tokens,
    sampling,
    control,
    jobs,
    health,
    db,
    firstLoginUrl: firstLogin === null ? null : `${url}/login?code=${firstLogin}`,
    close() {
      closing ??= (async () => {
        clearInterval(pruneTimer)
        clearInterval(revocationTimer)
        clearInterval(lostTimer)
        jobs.close()
        events.stop()
        loopDelay.disable()
        sampling.close()
        await sampler.stop()
        control.close()
        streams.close()
        const closed = new Promise<void>((resolve) => server.close(() => resolve()))
        if (server instanceof HttpServer) server.closeIdleConnections()
        for (const session of sessions) session.close()
        const force = setTimeout(() => {
          for (const socket of sockets) socket.destroy()
        }, 500)
        await closed
        clearTimeout(force)
        writer.close()
        store.close()
      })()
      return closing
    },
  }
}
