import type { IncomingMessage } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { ControlClient } from '../testing/control.ts'
import { startTestHub, type TestHub } from '../testing/hub.ts'
import { ConnectionCaps } from './connections.ts'
import { FailureThrottle } from './throttle.ts'

let t: TestHub | null = null
const open: AbortController[] = []
afterEach(async () => {
  for (const a of open.splice(0)) a.abort()
  await t?.stop()
  t = null
})

/** Opens an SSE stream and keeps it open; resolves with the answer's status, headers and (for a refusal) body. */
async function stream(url: string, token?: string) {
  const abort = new AbortController()
  open.push(abort)
  const res = await fetch(`${url}/api/stream?topics=config`, {
    signal: abort.signal,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  })
  const body = res.status === 200 ? null : await res.json()
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body, close: () => abort.abort() }
}

/** A control socket upgrade refused over HTTP: its status and Retry-After (a refused upgrade carries no body). */
function refusedUpgrade(url: string, token: string) {
  return new Promise<{ status: number; retryAfter: string | undefined }>((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } })
    ws.on('unexpected-response', (_req, res: IncomingMessage) => {
      resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] })
      ws.terminate()
    })
    ws.on('open', () => reject(new Error('upgrade was accepted')))
    ws.on('error', () => {})
  })
}

describe('connection caps', () => {
  it('counts slots per address and per token and frees them on release, once', () => {
    const caps = new ConnectionCaps(2, 1)
    const a = caps.acquire('10.0.0.1', 7)
    expect(typeof a).toBe('function')
    expect(caps.acquire('10.0.0.1', 7)).toEqual({ by: 'token', max: 1 })
    const b = caps.acquire('10.0.0.1', null)
    expect(caps.acquire('10.0.0.1', null)).toEqual({ by: 'ip', max: 2 })
    if (typeof a !== 'function' || typeof b !== 'function') throw new Error('no slot')
    a()
    a()
    expect(typeof caps.acquire('10.0.0.1', 7)).toBe('function')
    expect(caps.acquire('10.0.0.1', 8)).toEqual({ by: 'ip', max: 2 })
  })

  it('answers the stream past the per-address cap with 429 and Retry-After, and takes one again after a close', async () => {
    t = await startTestHub({ VIGIL_SAMPLE_MS: '60000', VIGIL_MAX_CONN_PER_IP: '2' })
    const url = t.hub.url
    const first = await stream(url)
    const second = await stream(url)
    expect([first.status, second.status]).toEqual([200, 200])
    const third = await stream(url)
    expect(third).toMatchObject({
      status: 429,
      retryAfter: '10',
      body: { error: { code: 'too_many_connections', message: 'Too many open streams for this address: at most 2' } },
    })
    first.close()
    await expect.poll(async () => (await stream(url)).status).toBe(200)
  })

  it('caps streams per token, leaving other tokens their own slots', async () => {
    t = await startTestHub({ VIGIL_SAMPLE_MS: '60000', VIGIL_MAX_CONN_PER_IP: '10', VIGIL_MAX_CONN_PER_TOKEN: '2' })
    const a = (await t.hub.tokens.create('viewer', 'wall-a')).token
    const b = (await t.hub.tokens.create('viewer', 'wall-b')).token
    expect((await stream(t.hub.url, a)).status).toBe(200)
    expect((await stream(t.hub.url, a)).status).toBe(200)
    const over = await stream(t.hub.url, a)
    expect([over.status, over.retryAfter, over.body]).toEqual([
      429,
      '10',
      { error: { code: 'too_many_connections', message: 'Too many open streams for this token: at most 2' } },
    ])
    expect((await stream(t.hub.url, b)).status).toBe(200)
  })

  it('answers the control socket past the per-token cap with 429 and Retry-After, and frees the slot on close', async () => {
    t = await startTestHub({ VIGIL_SAMPLE_MS: '60000', VIGIL_MAX_CONN_PER_TOKEN: '1' })
    const token = (await t.hub.tokens.create('operator', 'ops')).token
    const url = `${t.hub.url.replace('http', 'ws')}/api/control`
    const first = new ControlClient(url, { authorization: `Bearer ${token}` })
    await first.opened()
    expect(await refusedUpgrade(url, token)).toEqual({ status: 429, retryAfter: '10' })
    first.ws.close(1000)
    await first.closed
    await expect
      .poll(async () => {
        const again = new ControlClient(url, { authorization: `Bearer ${token}` })
        try {
          await again.opened()
          again.ws.close(1000)
          return 'open'
        } catch {
          return 'refused'
        }
      })
      .toBe('open')
  })
})

describe('failed credential throttle', () => {
  it('refills one failure every 60/perMinute seconds and forgets an address once it is full again', () => {
    const th = new FailureThrottle(6, 2)
    const t0 = 1_000_000
    expect(th.blockedFor('a', t0)).toBe(0)
    th.fail('a', t0)
    th.fail('a', t0)
    expect(th.blockedFor('a', t0)).toBe(10)
    expect(th.blockedFor('a', t0 + 4000)).toBe(6)
    expect(th.blockedFor('a', t0 + 10_000)).toBe(0)
    expect(th.blockedFor('b', t0)).toBe(0)
  })

  it('answers 429 rate_limited with Retry-After once an address has spent its failures, even for a right token', async () => {
    t = await startTestHub({ VIGIL_SAMPLE_MS: '60000', VIGIL_AUTH_FAILURES_PER_MIN: '3' })
    const good = (await t.hub.tokens.create('viewer', 'wall')).token
    const get = (token: string) => fetch(`${t?.hub.url}/api/config`, { headers: { authorization: `Bearer ${token}` } })
    for (let i = 0; i < 3; i++) expect((await get(`vgl_wrong${i}`)).status).toBe(401)
    const limited = await get(`vgl_wrong3`)
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).toBe('20')
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe('rate_limited')
    expect((await get(good)).status).toBe(429)
    // Pasted tokens on the login form and control upgrades count the same
    const login = await fetch(`${t.hub.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: good }),
    })
    expect(login.status).toBe(429)
    expect(
      await ControlClient.refusal(`${t.hub.url.replace('http', 'ws')}/api/control`, {
        authorization: `Bearer ${good}`,
      }),
    ).toBe(429)
    // Requests without credentials are not slowed: the loopback dashboard keeps working
    expect((await fetch(`${t.hub.url}/api/config`)).status).toBe(200)
  })

  it('counts a used or unknown one-time login code as a failure', async () => {
    t = await startTestHub({ VIGIL_SAMPLE_MS: '60000', VIGIL_AUTH_FAILURES_PER_MIN: '2' })
    const login = (code: string) => fetch(`${t?.hub.url}/login?code=${code}`, { redirect: 'manual' })
    expect((await login('nope1')).headers.get('location')).toBe('/login?error=expired')
    expect((await login('nope2')).headers.get('location')).toBe('/login?error=expired')
    expect((await login('nope3')).status).toBe(429)
  })
})
