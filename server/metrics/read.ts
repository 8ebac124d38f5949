import { Hono } from 'hono'
import type { AuthEnv } from '../auth/index.ts'
import { refuse } from '../errors.ts'
import { describeRoute, validate } from '../openapi/index.ts'
import { type CatalogEntry, CatalogQuery, SeriesQuery, type SeriesResponse } from '../protocol/index.ts'
import { describeMetric } from '../sampler/index.ts'
import type { Store } from '../store/index.ts'

/** A CSV download's file name: host, metric and span, with nothing a browser or shell could misread. */
function csvName(host: string, metric: string, from: number, to: number): string {
  return `${host}-${metric}-${from}-${to}`.replace(/[^A-Za-z0-9._-]/g, '_')
}

/**
 * History reads: `GET /api/metrics/catalog?host=` (every stored series' name, described, of one host or all) and `GET /api/series` (buckets
 * of one series, as JSON or CSV). Mounted behind the read check.
 */
export function seriesRoutes(store: Store, defaultHost: string): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>()

  app.get(
    '/api/metrics/catalog',
    describeRoute({
      tag: 'metrics',
      summary: 'The metric catalog',
      response: { description: 'Every series of a host: `[{name, unit, group, description}]`' },
    }),
    validate('query', CatalogQuery),
    async (c) => {
      const { host } = c.req.valid('query')
      const series = (await store.metricNames()).filter((m) => host === undefined || m.host === host)
      const names = [...new Set(series.map((m) => m.name))].sort()
      return c.json<CatalogEntry[]>(names.map(describeMetric))
    },
  )

  app.get(
    '/api/series',
    describeRoute({
      tag: 'metrics',
      summary: "A series' history",
      description:
        'Bucketed to at most `points` from the finest tier that covers the span; `format=csv` for a download.',
      response: {
        description:
          '`{metric, host, from, to, stepMs, tier, points: [[ts, avg, min, max]]}`, or CSV `ts,time,avg,min,max`',
      },
      errors: ['not_found'],
    }),
    validate('query', SeriesQuery),
    async (c) => {
      const q = c.req.valid('query')
      const host = q.host ?? defaultHost
      const r = await store.range(q.metric, host, q.from, q.to, q.points)
      if (!r.seriesFound) return refuse(c, 'not_found', `No series ${q.metric} on host ${host}`)
      if (q.format === 'csv') {
        const rows = r.points.map(([ts, avg, min, max]) => `${ts},${new Date(ts).toISOString()},${avg},${min},${max}`)
        return c.body(['ts,time,avg,min,max', ...rows, ''].join('\n'), 200, {
          'content-type': 'text/csv; charset=utf-8',
          'content-disposition': `attachment; filename="${csvName(host, q.metric, r.from, r.to)}.csv"`,
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
    },
  )

  return app
}
