import type { RouterRoute } from 'hono/types'
import { Agents } from './agents/index.ts'
import { ALERTS_TOPIC, AlertConfig, Alerts } from './alerts/index.ts'
import { createApp } from './app.ts'
import { Audit } from './audit/index.ts'
import type { Tokens } from './auth/index.ts'
import type { HubBus } from './bus/index.ts'
import type { Config } from './config.ts'
import { Control, type RelayedCommand, Sampling } from './control/index.ts'
import { openData } from './data.ts'
import { openEvents } from './events.ts'
import { Health } from './health.ts'
import { Fleet, followOtherHubs, Hosts } from './hosts/index.ts'
import { startHousekeeping } from './housekeeping.ts'
import { isLoopback } from './http.ts'
import { localAgent, Pipeline } from './ingest/index.ts'
import { Jobs } from './jobs/index.ts'
import { ConnectionCaps, FailureThrottle } from './limits/index.ts'
import { listen } from './listener.ts'
import { type Logger, stderrLogger } from './log.ts'
import { selfSamples } from './metrics/index.ts'
import { VERSION } from './paths.ts'
import { defaultProbe, machineInfo, type Probe, readMachineId, type Sampler } from './sampler/index.ts'
import { SelfStats } from './stats.ts'
import { type Db, RetryingWriter, type Store } from './store/index.ts'
import { Streams } from './stream/index.ts'
import { loadTls } from './tls.ts'
import { websocketServer } from './websocket.ts'

export interface HubOptions {
  /** Replaces the platform probe; tests use it to fake readings the machine can't give. */
  probe?: Probe
  log?: Logger
  /** Replaces the sampler's wall clock; tests use it to fake a clock jump. */
  clock?: () => number
  /** Ticks held while storage fails (default an hour's worth); tests make it tiny to see drops. */
  writeQueueTicks?: number
}

/** A running hub: HTTP API, SSE, sampler and store, with its real port. */
export interface Hub {
  readonly port: number
  readonly url: string
  readonly host: string
  readonly bus: HubBus
  readonly store: Store
  readonly streams: Streams
  readonly sampler: Sampler
  readonly tokens: Tokens
  readonly sampling: Sampling
  readonly control: Control
  readonly hosts: Hosts
  readonly agents: Agents
  readonly jobs: Jobs
  readonly alerts: Alerts
  readonly health: Health
  /** The hub's SQLite connection; tests use it to fake faults the machine can't give (a full disk). Null on PostgreSQL. */
  readonly db: Db | null
  /** Where the data is: the SQLite file, or the PostgreSQL URL without its password. */
  readonly dataAt: string
  /** Whether this hub does the cluster's singleton work now (always, alone on SQLite). */
  readonly singletonHeld: boolean
  /** The one-time admin login link made at first start (no tokens yet), else null. Print it; never log it. */
  readonly firstLoginUrl: string | null
  /** The HTTP app's routes as Hono lists them (method, path, handler): the OpenAPI test checks each is documented. */
  readonly routes: readonly RouterRoute[]
  /** Stops sampling, flushes writes, ends streams so clients reconnect, and closes the store. */
  close(): Promise<void>
}

/** Ticks held while storage fails: an hour at the default 1 s, then the oldest go. */
const WRITE_QUEUE_TICKS = 3600
/** The largest WebSocket frame any route takes (an agent's replay batch); the control channel keeps its own 64 KiB. */
const MAX_FRAME_BYTES = 1024 * 1024
/** At most one `fleet` event this often, in all. */
const FLEET_PERIOD_MS = 1000
/** What an agent host runs before its agent has said (an agent's own defaults). */
const AGENT_DEFAULTS = { fastMs: 1000, slowMs: 10_000, paused: false }

/**
 * Starts a hub on `config.host:config.port` (port 0 picks a free one). The composition root: it builds each part
 * from the config and hands it the parts it needs; the work is in the parts.
 * @example const hub = await startHub(loadConfig(process.env, ['--port', '0']))
 */
export async function startHub(config: Config, opts: HubOptions = {}): Promise<Hub> {
  const log = opts.log ?? stderrLogger
  // Read before anything opens: a bad certificate path stops the start with exit code 2
  const tls = loadTls(config)
  if (tls) log.info('serving HTTPS', { certificate: tls.source })
  const startedAt = Date.now()
  const host = config.hostname
  const health = new Health()
  const data = await openData(config, {
    log,
    onFault: (message) => (message === null ? health.clear('revocations') : health.report('revocations', message)),
  })
  const { sql, store, tokens, firstLogin } = data
  let errors = 0
  const countError = () => {
    errors++
  }
  const writer = new RetryingWriter(store, {
    maxPending: opts.writeQueueTicks ?? WRITE_QUEUE_TICKS,
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
  const machineId = readMachineId()
  const {
    bus,
    log: events,
    link,
    ...cluster
  } = await openEvents(config, {
    store,
    writer,
    health,
    machineId,
    log,
    onError: countError,
  }).catch(async (err: unknown) => {
    await data.close()
    throw err
  })
  const hosts = await Hosts.open(sql, bus, {
    local: host,
    info: machineInfo(),
    machineId,
    tokenActive: (id) => tokens.isActive(id),
    gapsKeptMs: config.rawRetentionH * 3_600_000,
    onError: countError,
  })
  const fleet = new Fleet(bus, store, hosts.list(), { periodMs: FLEET_PERIOD_MS, onError: countError })
  hosts.onChange((entry, announced) => fleet.host(entry, announced))
  const unfollow = link ? followOtherHubs(bus, hosts, fleet) : () => {}
  const pipeline = new Pipeline({ store, bus, writer, hosts, fleet })
  const jobs = new Jobs(sql, bus, {
    host,
    keepHead: 1000,
    keepTail: config.jobLogTail,
    heartbeatTimeoutMs: config.jobLostMs,
    record: (jobHost, ts, values) => pipeline.history(jobHost, ts, values),
  })
  const streams = new Streams(bus, events, {
    heartbeatMs: config.heartbeatMs,
    retryMs: config.retryMs,
    clientBufferBytes: config.clientBufferBytes,
    snapshot: (topic, tail) =>
      topic === 'fleet'
        ? [{ event: 'fleet', data: { ts: Date.now(), hosts: fleet.snapshot() } }]
        : jobs.snapshot(topic, tail),
  })
  const sampler = localAgent({
    host,
    sampleMs: config.sampleMs,
    slowSampleMs: config.slowSampleMs,
    probe: opts.probe ?? defaultProbe(),
    pipeline,
    hosts,
    health,
    log,
    ...(opts.clock ? { clock: opts.clock } : {}),
  })
  const audit = new Audit(sql, bus)
  // Settings reach a remote host through its agent's session, which needs the settings: bound once both exist
  let agents: Agents | null = null
  const sampling = await Sampling.open(
    { sql, bus, audit, log },
    {
      local: {
        host,
        target: {
          async configure(s) {
            sampler.configure(s)
            return true
          },
        },
        defaults: { fastMs: config.sampleMs, slowMs: config.slowSampleMs, paused: false },
      },
      known: (name) => hosts.get(name)?.local === false,
      targetFor: (name) => ({ configure: (s) => agents?.target(name).configure(s) ?? Promise.resolve(false) }),
      fallback: AGENT_DEFAULTS,
    },
  )
  agents = new Agents({
    tokens,
    audit,
    allowedOrigins: new Set(config.allowedOrigins),
    hosts,
    pipeline,
    store,
    samplingFor: (name) => sampling.for(name),
    heartbeatMs: config.agentHeartbeatMs,
    maxSeriesPerHost: config.maxSeriesPerHost,
    log,
    ...(link ? { holds: link } : {}),
  })
  // A notice links to the dashboard: the listener's URL, once it listens
  let dashboardUrl = `http://${config.host}:${config.port}`
  const alerts = new Alerts({
    sql,
    bus,
    config: new AlertConfig(
      sql,
      () => dashboardUrl,
      (what, name) => bus.publish(ALERTS_TOPIC, 'alert.config', { what, name }),
    ),
    audit,
    health,
    log,
    hub: host,
    singleton: data.singleton,
    hosts: () => hosts.list(),
    dashboardUrl: () => dashboardUrl,
  })
  const control = new Control({
    tokens,
    audit,
    sampling,
    jobs,
    alerts,
    host,
    allowedOrigins: new Set(config.allowedOrigins),
    pingMs: config.wsPingMs,
    rate: config.wsRate,
    burst: config.wsBurst,
    caps: new ConnectionCaps(config.maxConnPerIp, config.maxConnPerToken),
    log,
    ...(link ? { relay: (h: string, command: RelayedCommand) => link.relay(h, command) } : {}),
  })
  cluster.wire({
    onGap: () =>
      log.warn('the bus lost events before this hub read them: live streams end and resume', {
        ended: streams.endAll(),
      }),
    relayed: (h, command) => control.relayed(h, command),
  })
  const stats = new SelfStats({ bus, streams, control, sampler, store, writer, startedAt, errors: () => errors })
  const housekeeping = startHousekeeping({
    store,
    singleton: data.singleton,
    tokens,
    jobs,
    hosts,
    ...(link ? { holds: link } : {}),
    // What a revoked token holds open ends within half a second
    revocable: [streams, control, agents],
    health,
    log,
    jobLostMs: config.jobLostMs,
    onError: countError,
  })

  const app = createApp({
    config,
    store,
    pipeline,
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
    alerts,
    hosts,
    fleet,
    agents,
    allowAnonymous: isLoopback(config.host),
    streamCaps: new ConnectionCaps(config.maxConnPerIp, config.maxConnPerToken),
    authThrottle: new FailureThrottle(config.authFailuresPerMin),
    health,
    stats,
    selfMetrics: async () => selfSamples(await stats.read()),
  })
  const wss = websocketServer(MAX_FRAME_BYTES, [control.accept, agents.accept])
  const listener = await listen({ fetch: app.fetch, host: config.host, port: config.port, tls, websocket: wss })
  dashboardUrl = listener.url
  sampling.start()
  alerts.start()

  let closing: Promise<void> | null = null
  return {
    port: listener.port,
    url: listener.url,
    host,
    bus,
    store,
    streams,
    sampler,
    tokens,
    sampling,
    control,
    hosts,
    agents,
    jobs,
    alerts,
    health,
    db: data.db,
    dataAt: data.where,
    get singletonHeld() {
      return data.singleton.held
    },
    routes: app.routes,
    firstLoginUrl: firstLogin === null ? null : `${listener.url}/login?code=${firstLogin}`,
    close() {
      closing ??= (async () => {
        housekeeping.stop()
        await alerts.close()
        jobs.close()
        stats.stop()
        sampling.close()
        await sampler.stop()
        control.close()
        agents.close()
        unfollow()
        fleet.close()
        wss.close()
        streams.close()
        await listener.close()
        await writer.close()
        await link?.close()
        await bus.close()
        await data.close()
      })()
      return closing
    },
  }
}
