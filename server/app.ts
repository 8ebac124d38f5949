import { existsSync } from 'node:fs'
import { serveStatic } from '@hono/node-server/serve-static'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import { zValidator } from '@hono/zod-validator'
import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { secureHeaders } from 'hono/secure-headers'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { Audit } from './audit/index.ts'
import type { Tokens } from './auth/index.ts'
import { type AuthEnv, authenticate, authRoutes, COMMAND_ROLES, READ_ROLES, requireRole } from './auth/index.ts'
import type { Bus } from './bus/index.ts'
import type { Config } from './config.ts'
import type { Control, SamplingControl } from './control/index.ts'
import type { Health } from './health.ts'
import { clientOf, errorBody, identifyClient, invalidAs400, trustedProxies } from './http.ts'
import { type Jobs, jobRoutes } from './jobs/index.ts'
import { type ConnectionCaps, type FailureThrottle, RETRY_AFTER_S, refusalMessage } from './limits/index.ts'
import type { Logger } from './log.ts'
import { metricRoutes, type PromSample } from './metrics/index.ts'
import { WEB_DIST_DIR } from './paths.ts'
import {
  AuditQuery,
  type CatalogEntry,
  type ConfigEvent,
  type HealthResponse,
  type HostEvent,
  SeriesQuery,
  type SeriesResponse,
  type StatsResponse,
  StreamQuery,
} from './protocol.ts'
import { describeMetric } from './sampler/index.ts'
import type { Store } from './store/index.ts'
import type { Streams } from './stream/index.ts'

export interface AppDeps {
  config: Config
  store: Store
  streams: Streams
  host: string
  version: string
  startedAt: number
  log: Logger
  tokens: Tokens
  audit: Audit
  sampling: SamplingControl
  control: Control
  jobs: Jobs
  /** Open SSE streams per client address and per token. */
  streamCaps: ConnectionCaps
  /** Failed credential checks per client address. */
  authThrottle: FailureThrottle
  health: Health
  /** Anonymous visitors are viewers; only true on a loopback bind. */
  allowAnonymous: boolean
  bus: Bus
  latestHosts(): HostEvent[]
  stats(): StatsResponse
  selfMetrics(): PromSample[]
}

/** Builds the HTTP API and the dashboard's static files from the hub's parts. */
export function createApp(deps: AppDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>()

  // The dashboard is static files and same-origin requests only: no inline script or style, no framing. HSTS
  // only over HTTPS, where it means something: one header set per protocol, picked per request
  const headers = (hsts: boolean) =>
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
      referrerPolicy: 'no-referrer',
      xFrameOptions: 'DENY',
      strictTransportSecurity: hsts ? 'max-age=15552000' : false,
    })
  // Every per-address limit, log line and anonymous check asks who the client is: worked out once, here
  const proxies = trustedProxies(deps.config.trustedProxies)
  app.use('*', (c, next) => {
    c.set(
      'client',
      identifyClient(c.env.incoming.socket.remoteAddress ?? '', (h) => c.req.header(h), proxies),
    )
    return next()
  })

  // One line per answered request once it is done (a stream's when it ends), secrets redacted by the logger
  if (deps.config.accessLog) {
    app.use('*', (c, next) => {
      const started = performance.now()
      const { outgoing } = c.env
      outgoing.once('close', () => {
        deps.log.info('request', {
          method: c.req.method,
          path: c.req.url.slice(c.req.url.indexOf('/', c.req.url.indexOf('//') + 2)),
          status: outgoing.statusCode,
          ms: Math.round((performance.now() - started) * 10) / 10,
          client: clientOf(c).address,
          identity: c.var.identity?.name ?? null,
        })
      })
      return next()
    })
  }

  const overHttps = headers(true)
  const overHttp = headers(false)
  app.use('*', (c, next) => (c.req.url.startsWith('https:') ? overHttps : overHttp)(c, next))

  // Credential guessing: a wrong token, login code or pasted token costs the address one of its few failures
  app.use('*', async (c, next) => {
    const login = c.req.path === '/login' && c.req.query('code') !== undefined
    const presents =
      c.req.header('authorization') !== undefined || login || (c.req.method === 'POST' && c.req.path === '/api/session')
    if (!presents) return next()
    const ip = clientOf(c).address
    const wait = deps.authThrottle.blockedFor(ip, Date.now())
    if (wait > 0) {
      c.header('retry-after', String(wait))
      return c.json(errorBody('rate_limited', `Too many failed logins or token checks; try again in ${wait} s`), 429)
    }
    await next()
    const refused = c.res.status === 401 || (login && (c.res.headers.get('location') ?? '').includes('error='))
    if (refused) deps.authThrottle.fail(ip, Date.now())
  })

  app.get('/api/health', (c) => {
    const { status, reasons } = deps.health.snapshot()
    return c.json<HealthResponse>({
      status,
      version: deps.version,
      uptimeS: Math.round((Date.now() - deps.startedAt) / 1000),
      reasons,
    })
  })

  app.route('/', authRoutes(deps.tokens, deps.allowAnonymous))
  // Before the read check below: the control channel checks Origin and credentials itself, at upgrade
  app.route('/', jobRoutes(deps.jobs, deps.tokens, deps.allowAnonymous))
  app.route(
    '/',
    metricRoutes({
      store: deps.store,
      bus: deps.bus,
      host: deps.host,
      tokens: deps.tokens,
      allowAnonymous: deps.allowAnonymous,
      maxSeriesPerHost: deps.config.maxSeriesPerHost,
      selfMetrics: deps.selfMetrics,
    }),
  )
  const [checkUpgrade, upgrade] = deps.control.handlers()
  app.get('/api/control', checkUpgrade, upgrade)
  app.use('/api/*', authenticate(deps.tokens, deps.allowAnonymous), requireRole(READ_ROLES, 'read the dashboard'))

  app.get('/api/metrics/catalog', (c) => {
    const names = [...new Set(deps.store.metricNames().map((m) => m.name))].sort()
    return c.json<CatalogEntry[]>(names.map(describeMetric))
  })

  app.get('/api/series', zValidator('query', SeriesQuery, invalidAs400), (c) => {
    const q = c.req.valid('query')
    const host = q.host ?? deps.host
    const r = deps.store.range(q.metric, host, q.from, q.to, q.points)
    if (!r.seriesFound) return c.json(errorBody('not_found', `No series ${q.metric} on host ${host}`), 404)
    if (q.format === 'csv') {
      const rows = r.points.map(([ts, avg, min, max]) => `${ts},${new Date(ts).toISOString()},${avg},${min},${max}`)
      return c.body(['ts,time,avg,min,max', ...rows, ''].join('\n'), 200, {
        'content-type': 'text/csv; charset=utf-8',
        'content-disposition': `attachment; filename="${`${host}-${q.metric}-${r.from}-${r.to}`.replace(/[^A-Za-z0-9._-]/g, '_')}.csv"`,
      })
    }
    return c.json<SeriesResponse>({
      metric: q.metric,
      host,
      from: r.from,
      to: r.to,
      stepMs: r.stepMs,
      tier: r.tier,
      points: r.points,
    })
  })

  app.get('/api/hosts', (c) => c.json(deps.latestHosts()))

  app.get('/api/config', (c) => c.json<ConfigEvent>(deps.sampling.current()))

  app.get(
    '/api/audit',
    requireRole(COMMAND_ROLES, 'read the audit log'),
    zValidator('query', AuditQuery, invalidAs400),
    (c) => {
      const q = c.req.valid('query')
      return c.json({ entries: deps.audit.list(q.limit, q.before) })
    },
  )

  app.get('/api/stats', (c) => c.json<StatsResponse>(deps.stats()))

  app.get('/api/stream', zValidator('query', StreamQuery, invalidAs400), (c) => {
    const q = c.req.valid('query')
    if (q.topics.includes('audit') && !COMMAND_ROLES.includes(c.get('identity').role)) {
      return c.json(errorBody('forbidden', `Role ${c.get('identity').role} may not read the audit topic`), 403)
    }
    const header = c.req.header('last-event-id')
    const raw = header !== undefined && header !== '' ? header.trim() : q.lastEventId
    if (raw !== undefined && !/^\d{1,16}$/.test(raw)) {
      return c.json(errorBody('invalid', 'Last-Event-ID must be a decimal event id'), 400)
    }
    const slot = deps.streamCaps.acquire(clientOf(c).address, c.get('principal')?.tokenId ?? null)
    if (typeof slot !== 'function') {
      c.header('retry-after', String(RETRY_AFTER_S))
      return c.json(errorBody('too_many_connections', refusalMessage('streams', slot)), 429)
    }
    c.env.outgoing.once('close', slot)
    deps.streams.open(c.env.outgoing, {
      topics: q.topics,
      lastEventId: raw === undefined ? null : Number(raw),
      tokenId: c.get('principal')?.tokenId ?? null,
      tail: q.tail,
    })
    return RESPONSE_ALREADY_SENT
  })

  app.all('/api/*', (c) => c.json(errorBody('not_found', `No route ${c.req.method} ${c.req.path}`), 404))

  if (existsSync(WEB_DIST_DIR)) {
    app.use('/*', serveStatic({ root: WEB_DIST_DIR }))
    app.get('/*', serveStatic({ root: WEB_DIST_DIR, path: 'index.html' }))
  } else {
    app.get('/', (c) => c.text('The dashboard is not built yet: run `npm run build` (npm start does it for you).', 503))
  }

  app.notFound((c) => c.json(errorBody('not_found', `No route ${c.req.method} ${c.req.path}`), 404))

  app.onError((err, c) => {
    if (err instanceof HTTPException) {
      return c.json(
        errorBody(err.status < 500 ? 'invalid' : 'internal', err.message),
        err.status as ContentfulStatusCode,
      )
    }
    deps.log.error('request failed', { path: c.req.path, err })
    return c.json(errorBody('internal', 'Internal error'), 500)
  })

  return app
}
