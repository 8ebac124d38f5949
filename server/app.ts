import { existsSync } from 'node:fs'
import { serveStatic } from '@hono/node-server/serve-static'
import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { type Agents, agentRoutes } from './agents/index.ts'
import { type Alerts, alertRoutes } from './alerts/index.ts'
import { type Audit, auditRoutes } from './audit/index.ts'
import { type AuthEnv, authenticate, authRoutes, READ_ROLES, requireRole, type Tokens } from './auth/index.ts'
import type { Config } from './config.ts'
import { type Control, configRoutes, controlRoutes, type Sampling } from './control/index.ts'
import { AppError, errorBody, refuse } from './errors.ts'
import { type Health, healthRoutes } from './health.ts'
import { type Fleet, type Hosts, hostRoutes } from './hosts/index.ts'
import type { Pipeline } from './ingest/index.ts'
import { type Jobs, jobRoutes } from './jobs/index.ts'
import type { ConnectionCaps, FailureThrottle } from './limits/index.ts'
import type { Logger } from './log.ts'
import { metricRoutes, type PromSample, seriesRoutes } from './metrics/index.ts'
import { accessLog, identifyClients, securityHeaders, throttleAuthFailures } from './middleware.ts'
import { openApiRoutes } from './openapi/index.ts'
import { otlpRoutes } from './otlp/index.ts'
import { WEB_DIST_DIR } from './paths.ts'
import { type SelfStats, statsRoutes } from './stats.ts'
import { isStorageDown, type Store } from './store/index.ts'
import { type Streams, streamRoutes } from './stream/index.ts'

export interface AppDeps {
  config: Config
  store: Store
  pipeline: Pipeline
  streams: Streams
  host: string
  version: string
  startedAt: number
  log: Logger
  tokens: Tokens
  audit: Audit
  sampling: Sampling
  control: Control
  jobs: Jobs
  alerts: Alerts
  hosts: Hosts
  fleet: Fleet
  agents: Agents
  /** Open SSE streams per client address and per token. */
  streamCaps: ConnectionCaps
  /** Failed credential checks per client address. */
  authThrottle: FailureThrottle
  health: Health
  /** Anonymous visitors are viewers; only true on a loopback bind. */
  allowAnonymous: boolean
  stats: SelfStats
  selfMetrics(): Promise<PromSample[]>
}

/** Builds the HTTP API and the dashboard's static files from the features' routes. Wiring only. */
export function createApp(deps: AppDeps): Hono<AuthEnv> {
  const { config, tokens, allowAnonymous } = deps
  const app = new Hono<AuthEnv>()

  app.use('*', identifyClients(config.trustedProxies))
  if (config.accessLog) app.use('*', accessLog(deps.log))
  app.use('*', securityHeaders())
  app.use('*', throttleAuthFailures(deps.authThrottle))

  // Routes that check credentials themselves (or need none) come before the read check
  app.route('/', healthRoutes(deps.health, deps.version, deps.startedAt))
  app.route(
    '/',
    openApiRoutes(() => app.routes, deps.version),
  )
  app.route('/', authRoutes(tokens, allowAnonymous))
  app.route('/', jobRoutes(deps.jobs, tokens, allowAnonymous))
  // Both ingest edges, Vigil's own and OpenTelemetry's, take samples under the same rules
  const ingest = {
    store: deps.store,
    pipeline: deps.pipeline,
    hosts: deps.hosts,
    host: deps.host,
    tokens,
    allowAnonymous,
    maxSeriesPerHost: config.maxSeriesPerHost,
  }
  app.route('/', metricRoutes({ ...ingest, selfMetrics: deps.selfMetrics }))
  app.route('/', otlpRoutes(ingest))
  app.route('/', controlRoutes(deps.control))
  app.route('/', agentRoutes(deps.agents))

  app.use('/api/*', authenticate(tokens, allowAnonymous), requireRole(READ_ROLES, 'read the dashboard'))
  app.route('/', seriesRoutes(deps.store, deps.host))
  app.route('/', hostRoutes(deps.hosts, deps.fleet))
  app.route('/', configRoutes(deps.sampling))
  app.route('/', auditRoutes(deps.audit))
  app.route('/', alertRoutes(deps.alerts))
  app.route('/', statsRoutes(deps.stats))
  app.route('/', streamRoutes(deps.streams, deps.streamCaps))
  app.all('/api/*', (c) => refuse(c, 'not_found', `No route ${c.req.method} ${c.req.path}`))

  if (existsSync(WEB_DIST_DIR)) {
    app.use('/*', serveStatic({ root: WEB_DIST_DIR }))
    app.get('/*', serveStatic({ root: WEB_DIST_DIR, path: 'index.html' }))
  } else {
    // Every page of the dashboard, as the built one answers them all with index.html
    app.get('/*', (c) =>
      c.text('The dashboard is not built yet: run `npm run build` (npm start does it for you).', 503),
    )
  }

  app.notFound((c) => refuse(c, 'not_found', `No route ${c.req.method} ${c.req.path}`))

  // The one error path: a feature's refusal answers with its code's status, anything else is a logged 500
  app.onError((err, c) => {
    if (err instanceof AppError) return c.json(errorBody(err.code, err.message), err.status)
    if (err instanceof HTTPException) {
      return c.json(
        errorBody(err.status < 500 ? 'invalid' : 'internal', err.message),
        err.status as ContentfulStatusCode,
      )
    }
    if (isStorageDown(err)) {
      return c.json(errorBody('unavailable', 'Storage is unavailable; try again shortly'), 503, { 'retry-after': '1' })
    }
    deps.log.error('request failed', { path: c.req.path, err })
    return c.json(errorBody('internal', 'Internal error'), 500)
  })

  return app
}
