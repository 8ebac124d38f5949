import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CatalogEntry, HealthResponse, SeriesResponse } from './protocol/index.ts'
import { Collector, startTestHub, type TestHub } from './testing/hub.ts'

let t: TestHub
beforeAll(async () => {
  t = await startTestHub()
  const c = new Collector(`${t.hub.url}/api/stream`, ['metrics'])
  await c.waitFor((e) => e.length >= 3)
  c.close()
})
afterAll(() => t.stop())

const get = (path: string) => fetch(`${t.hub.url}${path}`)

describe('HTTP API', () => {
  it('answers /api/health with ok, the version and the uptime', async () => {
    const res = await get('/api/health')
    expect(res.status).toBe(200)
    const body = (await res.json()) as HealthResponse
    expect(body.status).toBe('ok')
    expect(body.version).toBe('0.1.0')
    expect(body.uptimeS).toBeGreaterThanOrEqual(0)
  })

  it('lists the metric catalog with unit, group and description', async () => {
    const body = (await (await get('/api/metrics/catalog')).json()) as CatalogEntry[]
    expect(body).toContainEqual({
      name: 'cpu.usage_pct',
      unit: '%',
      group: 'fast',
      description: 'CPU busy time, all cores',
    })
    expect(body).toContainEqual({
      name: 'mem.used_bytes',
      unit: 'bytes',
      group: 'fast',
      description: 'Memory in use (total minus available)',
    })
  })

  it('serves a series with at most `points` buckets', async () => {
    const res = await get(`/api/series?metric=mem.used_bytes&from=0&to=${Date.now()}&points=2`)
    expect(res.status).toBe(200)
    const body = (await res.json()) as SeriesResponse
    expect(body.metric).toBe('mem.used_bytes')
    expect(body.host).toBe(t.hub.host)
    expect(body.points.length).toBeLessThanOrEqual(2)
    for (const [ts, avg, min, max] of body.points) {
      expect(ts).toBeGreaterThan(0)
      expect(min).toBeLessThanOrEqual(avg)
      expect(avg).toBeLessThanOrEqual(max)
    }
  })

  it('answers 400 invalid for a bad metric name, bad points or from after to', async () => {
    for (const [q, message] of [
      ['metric=CPU', 'metric: metric names are dotted lower case: [a-z0-9_] segments joined by dots'],
      ['metric=cpu.usage_pct&points=0', 'points: Too small: expected number to be >=1'],
      ['metric=cpu.usage_pct&from=10&to=5', 'from: from must not be after to'],
    ] as const) {
      const res = await get(`/api/series?${q}`)
      expect(res.status).toBe(400)
      expect(await res.json()).toEqual({ error: { code: 'invalid', message } })
    }
  })

  it('answers 404 not_found for a series the host never had', async () => {
    const res = await get('/api/series?metric=no.such_metric')
    expect(res.status).toBe(404)
    expect(await res.json()).toEqual({
      error: { code: 'not_found', message: `No series no.such_metric on host ${t.hub.host}` },
    })
  })

  it('answers 404 not_found for an unknown API route', async () => {
    const res = await get('/api/nope')
    expect(res.status).toBe(404)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found')
  })

  it('sends a strict CSP, nosniff, no-referrer and no framing on pages and API answers alike', async () => {
    for (const path of ['/', '/api/health', '/api/nope']) {
      const res = await get(path)
      expect([path, res.headers.get('content-security-policy')]).toEqual([
        path,
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
      ])
      expect(res.headers.get('x-content-type-options')).toBe('nosniff')
      expect(res.headers.get('referrer-policy')).toBe('no-referrer')
      expect(res.headers.get('x-frame-options')).toBe('DENY')
      expect(res.headers.get('strict-transport-security')).toBeNull()
    }
  })

  it('reports its own cost in /api/stats', async () => {
    const body = (await (await get('/api/stats')).json()) as {
      clients: number
      sampler: { fast: { ticks: number; intervalMs: number } }
      storage: { tiers: { tier: string; samples: number; bytes: number }[] }
    }
    expect(body.clients).toBe(0)
    expect(body.sampler.fast.intervalMs).toBe(100)
    expect(body.sampler.fast.ticks).toBeGreaterThanOrEqual(3)
    expect(body.storage.tiers[0]?.tier).toBe('raw')
    expect(body.storage.tiers[0]?.samples).toBeGreaterThan(0)
  })
})
