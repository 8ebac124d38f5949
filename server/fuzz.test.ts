import { connect } from 'node:net'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { COMMAND_TYPES, CONTROL_ERROR_CODES, type Reply } from './protocol/index.ts'
import { ControlClient } from './testing/control.ts'
import { startTestHub, type TestHub } from './testing/hub.ts'

let t: TestHub
let admin: string
beforeAll(async () => {
  // Limits raised: the fuzzer sends bad tokens and bursts on purpose, and must reach the handlers behind the limits
  t = await startTestHub({
    VIGIL_SAMPLE_MS: '60000',
    VIGIL_WS_RATE: '100000',
    VIGIL_WS_BURST: '100000',
    VIGIL_AUTH_FAILURES_PER_MIN: '100000',
  })
  admin = (await t.hub.tokens.create('admin', 'fuzz')).token
})
afterAll(() => t.stop())

const ROUTES = [
  '/api/health',
  '/api/openapi.json',
  '/api/session',
  '/api/config',
  '/api/audit',
  '/api/metrics',
  '/api/metrics/catalog',
  '/api/series',
  '/api/hosts',
  '/api/stats',
  '/api/stream',
  '/api/jobs',
  '/api/jobs/j1',
  '/api/jobs/j1/logs',
  '/api/jobs/j1/heartbeat',
  '/api/jobs/j1/finish',
  '/api/control',
  '/metrics',
  '/v1/metrics',
  '/login',
]
const ERROR_CODES = new Set([
  'invalid',
  'not_found',
  'conflict',
  'payload_too_large',
  'unauthorized',
  'forbidden',
  'cardinality_limit',
  'too_many_connections',
  'rate_limited',
])

const nasty = fc.oneof(
  fc.string(),
  fc.constantFrom('1e400', '-1', 'NaN', 'Infinity', '9'.repeat(400), '0x10', '', ' ', '%00', '%ff%fe', '../..', 'null'),
  fc.integer().map(String),
  fc.double().map(String),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
)
const query = fc
  .array(
    fc.tuple(
      fc.constantFrom(
        'metric',
        'host',
        'from',
        'to',
        'points',
        'format',
        'topics',
        'lastEventId',
        'limit',
        'before',
        'code',
        'x',
      ),
      nasty,
    ),
    { maxLength: 4 },
  )
  .map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}` : ''))
const body = fc.oneof(
  fc.constant(undefined),
  fc.json().map((j) => new TextEncoder().encode(j)),
  fc.jsonValue().map((v) => new TextEncoder().encode(JSON.stringify({ samples: v, name: v, token: v, state: v }))),
  fc.uint8Array({ maxLength: 200 }),
  fc.constant(new Uint8Array([0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1])),
  fc.constant(new TextEncoder().encode('{"samples":[{"name":"a.b","value":1e400}]}')),
)
const request = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
  path: fc.oneof(
    fc.constantFrom(...ROUTES),
    fc.tuple(fc.constantFrom(...ROUTES), fc.webSegment()).map(([r, s]) => `${r}/${s}`),
    fc.webPath(),
  ),
  query,
  body,
  contentType: fc.constantFrom(
    'application/json',
    'application/x-ndjson',
    'text/plain',
    'multipart/form-data; boundary=x',
    'application/json; charset=latin1',
    '',
  ),
  auth: fc.constantFrom('admin', 'none', 'garbage'),
})

describe('fuzzing the hub', () => {
  it('answers every random HTTP request with a success or a 4xx carrying a known JSON error code, never a 5xx', async () => {
    let tried = 0
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        tried++
        const headers: Record<string, string> = {}
        if (r.contentType) headers['content-type'] = r.contentType
        if (r.auth === 'admin') headers.authorization = `Bearer ${admin}`
        if (r.auth === 'garbage') headers.authorization = 'Bearer vgl_not-a-real-token'
        const abort = new AbortController()
        const withBody = r.body !== undefined && r.method !== 'GET' && r.method !== 'OPTIONS'
        const res = await fetch(`${t.hub.url}${r.path}${r.query}`, {
          method: r.method,
          headers,
          ...(withBody ? { body: r.body } : {}),
          signal: abort.signal,
        })
        const type = res.headers.get('content-type') ?? ''
        if (type.startsWith('text/event-stream')) {
          abort.abort() // a valid stream request: it opened, which is a success
          return
        }
        const text = await res.text()
        // A checkout without `npm run build` answers page requests with this on purpose; the API is unaffected
        if (res.status === 503 && text.startsWith('The dashboard is not built yet')) return
        expect(res.status, `${r.method} ${r.path}${r.query} → ${res.status} ${text}`).toBeLessThan(500)
        if (res.status >= 400) {
          const parsed = JSON.parse(text) as { error: { code: string; message: string } }
          expect(ERROR_CODES.has(parsed.error.code), `${r.method} ${r.path}: ${text}`).toBe(true)
          expect(parsed.error.message.length).toBeGreaterThan(0)
        }
      }),
      { numRuns: 700 },
    )
    console.log(`fuzz: ${tried} random HTTP requests, none answered 5xx`)
    expect((await fetch(`${t.hub.url}/api/health`)).status).toBe(200)
  })

  it('answers random bytes and malformed HTTP/1.1 on a raw socket with a 4xx JSON error or nothing, never a 5xx', async () => {
    const { hostname, port } = new URL(t.hub.url)
    const eol = fc.constantFrom('\r\n', '\n', '\r', '\r\r\n')
    const text = fc.oneof(
      nasty,
      fc.constantFrom(
        '\0',
        'a\rb',
        'a\nb',
        'chunked',
        'chunked, gzip',
        '-1',
        '99999999999999999999',
        'x'.repeat(20_000),
      ),
    )
    const head = fc
      .record({
        method: fc.oneof(
          fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'CONNECT', 'PRI'),
          fc.string({ maxLength: 8 }),
        ),
        target: fc.oneof(fc.constantFrom(...ROUTES, '*', 'http://x/', '//', ''), fc.string({ maxLength: 40 })),
        version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/9.9', 'HTTP/1.1 x', ''),
        headers: fc.array(
          fc.tuple(
            fc.oneof(
              fc.constantFrom('Host', 'Content-Length', 'Transfer-Encoding', 'Content-Type', 'Authorization', 'Expect'),
              fc.string({ maxLength: 12 }),
            ),
            text,
          ),
          { maxLength: 6 },
        ),
        eol,
        body: fc.uint8Array({ maxLength: 100 }),
      })
      .map(({ method, target, version, headers, eol: nl, body }) =>
        Buffer.concat([
          Buffer.from(`${method} ${target} ${version}${nl}${headers.map(([k, v]) => `${k}: ${v}${nl}`).join('')}${nl}`),
          body,
        ]),
      )
    // Well-formed heads with hostile values reach the routes; the rest stops at the parser
    const wellFormed = fc
      .record({
        method: fc.constantFrom('GET', 'POST', 'DELETE', 'OPTIONS'),
        target: fc.tuple(fc.constantFrom(...ROUTES.filter((r) => r !== '/api/stream')), query).map(([r, q]) => r + q),
        headers: fc.array(
          fc.tuple(
            fc.constantFrom('Content-Type', 'Authorization', 'Cookie', 'Origin', 'X-Forwarded-For', 'Last-Event-ID'),
            nasty.map((v) => v.replace(/[\r\n\0]/g, '')),
          ),
          { maxLength: 4 },
        ),
        body: fc.string({ maxLength: 100 }),
      })
      .map(({ method, target, headers, body }) =>
        Buffer.from(
          `${method} ${target} HTTP/1.1\r\nHost: x\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${headers
            .map(([k, v]) => `${k}: ${v}\r\n`)
            .join('')}\r\n${body}`,
        ),
      )
    const bytes = fc.oneof(
      head,
      wellFormed,
      fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => Buffer.from(b)),
    )
    /** Writes the bytes, half-closes, and collects what comes back until the hub closes or goes quiet for 500 ms. */
    const exchange = (data: Buffer) =>
      new Promise<string>((resolve) => {
        const socket = connect(Number(port), hostname)
        let got = ''
        let quiet = setTimeout(() => socket.destroy(), 500)
        socket.on('data', (d) => {
          got += d.toString('latin1')
          clearTimeout(quiet)
          quiet = setTimeout(() => socket.destroy(), 500)
        })
        socket.on('error', () => {})
        socket.on('close', () => {
          clearTimeout(quiet)
          resolve(got)
        })
        socket.end(data)
      })
    // Found by this fuzzer: Node answered an HTTP/1.1 request without Host with a bare 400 of its own
    expect((await exchange(Buffer.from('GET /api/health HTTP/1.1\r\n\r\n'))).split('\r\n')[0]).toBe('HTTP/1.1 200 OK')
    // And the adapter answered a target that is not a path (`*`) with a bare 400 of its own
    const star = await exchange(Buffer.from('GET * HTTP/1.1\r\nHost: x\r\n\r\n'))
    expect(star.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request')
    expect(star).toContain('{"error":{"code":"invalid","message":"The request target must be a path starting with /"}}')
    // And a Host the adapter cannot build a URL from, or a backslash in the path, where it answers a bare 400
    for (const [request, reason] of [
      ['GET /api/health HTTP/1.1\r\nHost: |\r\n\r\n', 'Invalid URL'],
      ['GET /api/health HTTP/1.1\r\nHost: a b\r\n\r\n', 'Invalid URL'],
      ['GET /api\\health HTTP/1.1\r\nHost: x y\r\n\r\n', 'Backslash in request path'],
    ] as const) {
      const answer = await exchange(Buffer.from(request))
      expect(answer.split('\r\n')[0], request).toBe('HTTP/1.1 400 Bad Request')
      expect(answer, request).toContain(`{"error":{"code":"invalid","message":"Malformed request: ${reason}"}}`)
    }
    // And Node's own 417 for an Expect it does not meet
    const expectation = await exchange(Buffer.from('GET /api/health HTTP/1.1\r\nHost: x\r\nExpect: 99\r\n\r\n'))
    expect(expectation.split('\r\n')[0]).toBe('HTTP/1.1 417 Expectation Failed')
    expect(expectation).toContain('"code":"invalid"')
    let tried = 0
    let refused = 0
    let answered = 0
    await fc.assert(
      fc.asyncProperty(bytes, async (data) => {
        tried++
        const answer = await exchange(data)
        if (answer === '') return
        const status = /^HTTP\/1\.[01] (\d{3}) /.exec(answer)
        expect(status, JSON.stringify(answer.slice(0, 200))).not.toBeNull()
        const code = Number(status?.[1])
        // A checkout without `npm run build` answers page requests with this on purpose, as above
        if (code === 503 && answer.includes('The dashboard is not built yet')) return
        expect(code, answer.slice(0, 300)).toBeLessThan(500)
        if (code < 400) {
          answered++
          return
        }
        refused++
        const [headPart = '', ...rest] = answer.split('\r\n\r\n')
        const length = /\r\ncontent-length: (\d+)/i.exec(headPart)
        if (!/\r\ncontent-type: application\/json/i.test(headPart) || !length) {
          throw new Error(`a refusal without a JSON body: ${answer.slice(0, 300)}`)
        }
        const parsed = JSON.parse(rest.join('\r\n\r\n').slice(0, Number(length[1]))) as { error: { code: string } }
        expect(ERROR_CODES.has(parsed.error.code), answer.slice(0, 300)).toBe(true)
      }),
      { numRuns: 300 },
    )
    console.log(
      `fuzz: ${tried} raw HTTP/1.1 byte sequences: ${answered} answered, ${refused} refused with a 4xx JSON error, none 5xx`,
    )
    expect((await fetch(`${t.hub.url}/api/health`)).status).toBe(200)
  })

  it('answers every random control message with a reply of a known error code, or an acknowledgement, and stays open', async () => {
    const client = new ControlClient(`${t.hub.url.replace('http', 'ws')}/api/control`, {
      authorization: `Bearer ${admin}`,
    })
    await client.opened()
    const message = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc
        .record({
          id: fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.constant(null), fc.double()),
          type: fc.oneof(fc.constantFrom(...COMMAND_TYPES, 'ping', 'nope'), fc.string({ maxLength: 12 })),
          intervalMs: fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 5 })),
          jobId: fc.oneof(fc.string({ maxLength: 70 }), fc.integer()),
          ttlMs: fc.oneof(fc.integer(), fc.constant(null)),
          group: fc.oneof(fc.constantFrom('fast', 'slow'), fc.string({ maxLength: 5 })),
        })
        .map((m) => JSON.stringify(m)),
      fc.uint8Array({ maxLength: 100 }).map((b) => Buffer.from(b)),
    )
    // Every documented code but `internal`, which would be a bug
    const codes = new Set<string>(CONTROL_ERROR_CODES.filter((c) => c !== 'internal'))
    let sent = 0
    await fc.assert(
      fc.asyncProperty(message, async (m) => {
        const before = client.replies.length
        client.ws.send(m)
        sent++
        const replies = await client.waitReplies(before + 1)
        const reply = replies[before] as Reply | { type: 'pong' }
        if ('type' in reply) return
        if (!reply.ok) expect(codes.has(reply.error.code), JSON.stringify(reply)).toBe(true)
      }),
      { numRuns: 400 },
    )
    console.log(`fuzz: ${sent} random control messages, every one answered, socket still open`)
    expect(client.ws.readyState).toBe(client.ws.OPEN)
    client.ws.close(1000)
  })
})
