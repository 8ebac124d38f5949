import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROLES, type Role } from '../protocol/index.ts'
import { ControlClient } from '../testing/control.ts'
import { startTestHub, type TestHub } from '../testing/hub.ts'

/** Who asks: a token of each role, and an anonymous visitor on a loopback bind and beyond it. */
type Who = Role | 'anonymous' | 'anonymous-remote'
const WHO: readonly Who[] = ['anonymous', 'anonymous-remote', 'viewer', 'operator', 'admin', 'reporter', 'agent']

interface Route {
  method: 'GET' | 'POST'
  path: string
  body?: unknown
  /** The status each caller gets, in WHO order. */
  expect: readonly number[]
}

// anonymous, anonymous-remote, viewer, operator, admin, reporter, agent
const READ = [200, 401, 200, 200, 200, 403, 403]
const ROUTES: readonly Route[] = [
  { method: 'GET', path: '/api/health', expect: [200, 200, 200, 200, 200, 200, 200] },
  { method: 'GET', path: '/api/openapi.json', expect: [200, 200, 200, 200, 200, 200, 200] },
  { method: 'GET', path: '/api/session', expect: [200, 401, 200, 200, 200, 200, 200] },
  { method: 'GET', path: '/api/config', expect: READ },
  { method: 'GET', path: '/api/metrics/catalog', expect: READ },
  { method: 'GET', path: '/api/hosts', expect: READ },
  { method: 'GET', path: '/api/stats', expect: READ },
  { method: 'GET', path: '/api/alerts', expect: READ },
  { method: 'GET', path: '/api/alerts/rules', expect: READ },
  { method: 'GET', path: '/api/alerts/channels', expect: READ },
  { method: 'GET', path: '/api/alerts/silences', expect: READ },
  { method: 'GET', path: '/api/alerts/notifications', expect: READ },
  { method: 'GET', path: '/metrics', expect: READ },
  { method: 'GET', path: '/api/audit', expect: [403, 401, 403, 200, 200, 403, 403] },
  { method: 'GET', path: '/api/jobs', expect: [200, 401, 200, 200, 200, 200, 403] },
  { method: 'POST', path: '/api/jobs', body: { name: 'matrix' }, expect: [403, 401, 403, 201, 201, 201, 403] },
  {
    method: 'POST',
    path: '/api/metrics',
    // For a host of its own: an agent token may not post for the hub's
    body: { host: 'matrix-host', samples: [{ name: 'matrix.value', value: 1 }] },
    expect: [403, 401, 403, 403, 200, 200, 200],
  },
  {
    method: 'POST',
    path: '/v1/metrics',
    body: {
      resourceMetrics: [
        {
          resource: { attributes: [{ key: 'host.name', value: { stringValue: 'matrix-host' } }] },
          scopeMetrics: [{ metrics: [{ name: 'matrix.otel', gauge: { dataPoints: [{ asDouble: 1 }] } }] }],
        },
      ],
    },
    expect: [403, 401, 403, 403, 200, 200, 200],
  },
]

/** Commands each role may send: operators and admins only. */
const COMMANDS = [
  { type: 'sampling.set', intervalMs: 2000, group: 'slow' },
  { type: 'sampling.pause' },
  { type: 'sampling.resume' },
  { type: 'job.cancel', jobId: 'j0000' },
  { type: 'job.retry', jobId: 'j0000' },
]

let local: TestHub
const tokens = new Map<Who, string>()
let remoteUrl = ''

beforeAll(async () => {
  local = await startTestHub({ VIGIL_SAMPLE_MS: '60000', VIGIL_AUTH_FAILURES_PER_MIN: '100000' })
  for (const role of ['viewer', 'operator', 'admin', 'reporter', 'agent'] as const) {
    tokens.set(role, (await local.hub.tokens.create(role, `matrix-${role}`)).token)
  }
  // The same data dir bound beyond loopback: the tokens carry over, anonymous visitors get 401
  const remote = await local.restart({ VIGIL_HOST: '0.0.0.0' })
  remoteUrl = `http://127.0.0.1:${remote.port}`
})
afterAll(() => local.stop())

function headersFor(who: Who): Record<string, string> {
  const token = tokens.get(who)
  return token ? { authorization: `Bearer ${token}` } : {}
}

describe('auth matrix', () => {
  it('answers every route with the status the table gives each role, anonymous callers included', async () => {
    const got: string[] = []
    const want: string[] = []
    for (const route of ROUTES) {
      for (const [i, who] of WHO.entries()) {
        // Anonymous on a loopback bind is the next test's; here every caller meets the non-loopback hub
        if (who === 'anonymous') continue
        const res = await fetch(`${remoteUrl}${route.path}`, {
          method: route.method,
          headers: { ...headersFor(who), 'content-type': 'application/json' },
          ...(route.body === undefined ? {} : { body: JSON.stringify(route.body) }),
        })
        got.push(`${route.method} ${route.path} as ${who}: ${res.status}`)
        want.push(`${route.method} ${route.path} as ${who}: ${route.expect[i]}`)
      }
    }
    expect(got).toEqual(want)
  })

  it('lists in the OpenAPI document exactly the roles this matrix lets through on each route', async () => {
    const doc = (await (await fetch(`${remoteUrl}/api/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { 'x-vigil-roles'?: string[]; security?: unknown[] }>>
    }
    const got: string[] = []
    const want: string[] = []
    for (const route of ROUTES) {
      const op = doc.paths[route.path]?.[route.method.toLowerCase()]
      const roles = op?.security?.length === 0 ? ['anonymous-remote', ...ROLES] : (op?.['x-vigil-roles'] ?? [])
      got.push(`${route.method} ${route.path}: ${[...roles].sort().join(' ')}`)
      const through = WHO.filter((w, i) => w !== 'anonymous' && (route.expect[i] ?? 0) < 300)
      want.push(`${route.method} ${route.path}: ${[...through].sort().join(' ')}`)
    }
    expect(got).toEqual(want)
  })

  it('lets operators and admins send every command and refuses every other role with forbidden', async () => {
    const url = `${remoteUrl.replace('http', 'ws')}/api/control`
    for (const who of ['viewer', 'operator', 'admin', 'reporter', 'agent'] as const) {
      const client = new ControlClient(url, headersFor(who))
      await client.opened()
      COMMANDS.forEach((c, i) => {
        client.send({ id: `${who}-${i}`, ...c })
      })
      const replies = await client.waitReplies(COMMANDS.length)
      const codes = replies.map((r) => (!('ok' in r) ? r.type : r.ok ? 'ok' : r.error.code))
      const allowed = who === 'operator' || who === 'admin'
      expect([who, codes]).toEqual([
        who,
        allowed ? ['ok', 'ok', 'ok', 'not_found', 'not_found'] : COMMANDS.map(() => 'forbidden'),
      ])
      client.ws.close(1000)
      await client.closed
    }
    expect(await ControlClient.refusal(url, {})).toBe(401)
  })
})

describe('auth matrix on a loopback bind', () => {
  it('treats a visitor without credentials as an anonymous viewer', async () => {
    const t = await startTestHub({ VIGIL_SAMPLE_MS: '60000' })
    try {
      const got: string[] = []
      const want: string[] = []
      for (const route of ROUTES) {
        const res = await fetch(`${t.hub.url}${route.path}`, {
          method: route.method,
          headers: { 'content-type': 'application/json' },
          ...(route.body === undefined ? {} : { body: JSON.stringify(route.body) }),
        })
        got.push(`${route.method} ${route.path}: ${res.status}`)
        want.push(`${route.method} ${route.path}: ${route.expect[0]}`)
      }
      expect(got).toEqual(want)
      expect(await ControlClient.refusal(`${t.hub.url.replace('http', 'ws')}/api/control`, {})).toBe(401)
    } finally {
      await t.stop()
    }
  })
})
