import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from './config.ts'
import { identifyClient, isAddressOrRange, trustedProxies } from './http.ts'
import { useTestHubs } from './testing/hub.ts'

const hubs = useTestHubs()
const open: AbortController[] = []
afterEach(() => {
  for (const a of open.splice(0)) a.abort()
})

const headers = (h: Record<string, string>) => (name: string) => h[name]

describe('identifyClient', () => {
  const proxies = trustedProxies(['127.0.0.1', '10.0.0.0/8', 'fd00::/8'])
  it.each([
    ['a loopback peer without proxy headers is local', '127.0.0.1', {}, { address: '127.0.0.1', local: true }],
    ['an IPv4-mapped loopback peer is the same client', '::ffff:127.0.0.1', {}, { address: '127.0.0.1', local: true }],
    ['a remote peer is neither forwarded nor local', '203.0.113.9', {}, { address: '203.0.113.9', local: false }],
    [
      'a trusted proxy names its client',
      '127.0.0.1',
      { 'x-forwarded-for': '198.51.100.4' },
      { address: '198.51.100.4', local: false },
    ],
    [
      'a chain of trusted proxies is walked from the right to the first untrusted hop',
      '10.1.2.3',
      { 'x-forwarded-for': '127.0.0.1, 198.51.100.4, 10.9.9.9' },
      { address: '198.51.100.4', local: false },
    ],
    [
      'a client that spoofs X-Forwarded-For stops at the hop the proxy added',
      '127.0.0.1',
      { 'x-forwarded-for': '127.0.0.1, 198.51.100.4' },
      { address: '198.51.100.4', local: false },
    ],
    [
      'an untrusted peer’s X-Forwarded-For is ignored, and the request is not local',
      '127.0.0.2',
      { 'x-forwarded-for': '127.0.0.1' },
      { address: '127.0.0.2', local: false },
    ],
    [
      'X-Real-IP alone marks a proxy without naming anyone the hub can believe',
      '127.0.0.1',
      { 'x-real-ip': '127.0.0.1' },
      { address: '127.0.0.1', local: false },
    ],
    [
      'a garbage hop stops the walk at the last believed address',
      '127.0.0.1',
      { 'x-forwarded-for': '198.51.100.4, not-an-ip' },
      { address: '127.0.0.1', local: false },
    ],
    [
      'a trusted local proxy forwarding for this machine is local',
      '127.0.0.1',
      { 'x-forwarded-for': '127.0.0.1' },
      { address: '127.0.0.1', local: true },
    ],
    [
      'IPv6 ranges are trusted too',
      'fd00::5',
      { 'x-forwarded-for': '2001:db8::7' },
      { address: '2001:db8::7', local: false },
    ],
  ] as const)('%s', (_name, peer, h, expected) => {
    expect(identifyClient(peer, headers(h), proxies)).toEqual(expected)
  })

  it('accepts addresses and CIDR ranges as proxies and refuses anything else at start', () => {
    expect(['127.0.0.1', '::1', '10.0.0.0/8', 'fd00::/8', '0.0.0.0/0'].map(isAddressOrRange)).toEqual([
      true,
      true,
      true,
      true,
      true,
    ])
    expect(['localhost', '10.0.0.0/33', '10.0.0.0/8/1', '10.0.0.0/', 'fd00::/129'].map(isAddressOrRange)).toEqual([
      false,
      false,
      false,
      false,
      false,
    ])
    expect(loadConfig({ VIGIL_TRUSTED_PROXIES: ' 127.0.0.1 , 10.0.0.0/8 ' }).trustedProxies).toEqual([
      '127.0.0.1',
      '10.0.0.0/8',
    ])
    expect(() => loadConfig({ VIGIL_TRUSTED_PROXIES: 'proxy.local' })).toThrow(
      'VIGIL_TRUSTED_PROXIES (--trusted-proxies)="proxy.local" is invalid: a comma list of proxy addresses or CIDR ranges such as 127.0.0.1,10.0.0.0/8',
    )
  })
})

describe('behind a reverse proxy', () => {
  it('gives no anonymous viewer to a request a proxy forwarded, even on a loopback bind', async () => {
    const t = await hubs.start({ VIGIL_SAMPLE_MS: '60000' })
    const get = (h: Record<string, string>) => fetch(`${t.hub.url}/api/config`, { headers: h })
    expect((await get({})).status).toBe(200)
    const forwarded = await get({ 'x-forwarded-for': '198.51.100.4' })
    expect(forwarded.status).toBe(401)
    expect(((await forwarded.json()) as { error: { code: string } }).error.code).toBe('unauthorized')
    expect((await get({ forwarded: 'for=198.51.100.4' })).status).toBe(401)
    // A token still works through the proxy
    const viewer = (await t.hub.tokens.create('viewer', 'wall')).token
    expect((await get({ 'x-forwarded-for': '198.51.100.4', authorization: `Bearer ${viewer}` })).status).toBe(200)
  })

  it('keys per-address stream caps by the client a trusted proxy names', async () => {
    const t = await hubs.start({
      VIGIL_SAMPLE_MS: '60000',
      VIGIL_MAX_CONN_PER_IP: '1',
      VIGIL_MAX_CONN_PER_TOKEN: '10',
      VIGIL_TRUSTED_PROXIES: '127.0.0.1',
    })
    const viewer = (await t.hub.tokens.create('viewer', 'wall')).token
    const stream = async (client: string) => {
      const abort = new AbortController()
      open.push(abort)
      const res = await fetch(`${t.hub.url}/api/stream?topics=config`, {
        signal: abort.signal,
        headers: { authorization: `Bearer ${viewer}`, 'x-forwarded-for': client },
      })
      return res.status === 200 ? 200 : { status: res.status, body: await res.json() }
    }
    expect(await stream('198.51.100.4')).toBe(200)
    expect(await stream('198.51.100.5')).toBe(200)
    expect(await stream('198.51.100.4')).toEqual({
      status: 429,
      body: { error: { code: 'too_many_connections', message: 'Too many open streams for this address: at most 1' } },
    })
  })

  it('throttles failed token checks per forwarded client, not for everyone behind the proxy', async () => {
    const t = await hubs.start({
      VIGIL_SAMPLE_MS: '60000',
      VIGIL_AUTH_FAILURES_PER_MIN: '2',
      VIGIL_TRUSTED_PROXIES: '127.0.0.1',
    })
    const get = (client: string, token: string) =>
      fetch(`${t.hub.url}/api/config`, { headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': client } })
    expect((await get('198.51.100.4', 'vgl_wrong1')).status).toBe(401)
    expect((await get('198.51.100.4', 'vgl_wrong2')).status).toBe(401)
    expect((await get('198.51.100.4', 'vgl_wrong3')).status).toBe(429)
    const good = (await t.hub.tokens.create('viewer', 'wall')).token
    expect((await get('198.51.100.5', good)).status).toBe(200)
  })
})
