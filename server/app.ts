import { existsSync } from 'node:fs'
import type { HttpBindings } from '@hono/node-server'
import { serveStatic } from '@hono/node-server/serve-static'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import { zValidator } from '@hono/zod-validator'
import { type Context, Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { z } from 'zod'
import type { Config } from './config.ts'
import type { Logger } from './log.ts'
import { WEB_DIST_DIR } from './paths.ts'
import {
  type CatalogEntry,
  type ErrorBody,
  type ErrorCode,
  type HealthResponse,
  type HostEvent,
  SeriesQuery,
  type SeriesResponse,
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
  latestHosts(): HostEvent[]
  stats(): unknown
}

type Env = { Bindings: HttpBindings }

function errorBody(code: ErrorCode, message: string): ErrorBody {
  return { error: { code, message } }
}

/** zod failures at the edge become 400 `invalid` with the first issue as the message. */
function invalidAs400(result: { success: true } | { success: false; error: z.core.$ZodError }, c: Context) {
  if (result.success) return
  const issue = result.error.issues[0]
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : ''
  return c.json(errorBody('invalid', `${where}${issue?.message ?? 'invalid request'}`), 400)
}

/** Builds the HTTP API and the dashboard's static files from the hub's parts. */
export function createApp(deps: AppDeps): Hono<Env> {
  const app = new Hono<Env>()

  app.get('/api/health', (c) =>
    c.json<HealthResponse>({
      status: 'ok',
      version: deps.version,
      uptimeS: Math.round((Date.now() - deps.startedAt) / 1000),
    }),
  )

  app.get('/api/metrics/catalog', (c) => {
    const names = [...new Set(deps.store.metricNames().map((m) => m.name))].sort()
    return c.json<CatalogEntry[]>(names.map(describeMetric))
  })

  app.get('/api/series', zValidator('query', SeriesQuery, invalidAs400), (c) => {
    const q = c.req.valid('query')
    const host = q.host ?? deps.host
    const r = deps.store.range(q.metric, host, q.from, q.to, q.points)
    if (!r.seriesFound) return c.json(errorBody('not_found', `No series ${q.metric} on host ${host}`), 404)
    return c.json<SeriesResponse>({
      metric: q.metric,
      host,
      from: r.from,
      to: r.to,
      stepMs: r.stepMs,
      points: r.points,
    })
  })

  app.get('/api/hosts', (c) => c.json(deps.latestHosts()))

  app.get('/api/stats', (c) => c.json(deps.stats()))

  app.get('/api/stream', zValidator('query', StreamQuery, invalidAs400), (c) => {
    const q = c.req.valid('query')
    const header = c.req.header('last-event-id')
    const raw = header !== undefined && header !== '' ? header.trim() : q.lastEventId
    if (raw !== undefined && !/^\d{1,16}$/.test(raw)) {
      return c.json(errorBody('invalid', 'Last-Event-ID must be a decimal event id'), 400)
    }
    deps.streams.open(c.env.outgoing, { topics: q.topics, lastEventId: raw === undefined ? null : Number(raw) })
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
