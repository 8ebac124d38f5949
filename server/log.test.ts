import { describe, expect, it } from 'vitest'
import { type Logger, line, redactSecrets } from './log.ts'
import { useTestHubs } from './testing/hub.ts'

describe('log lines', () => {
  it('redacts token secrets and secret query parameters wherever they appear', () => {
    const token = 'vgl_3q2-7wEr_Jk9mZxYbA0cD1eF2gH3iJ4kL5mN6oP7qR8'
    expect(redactSecrets(`GET /login?code=abcDEF123&x=1 with Bearer ${token}`)).toBe(
      'GET /login?code=[redacted]&x=1 with Bearer vgl_[redacted]',
    )
    expect(redactSecrets('/api/stream?topics=metrics&token=s3cr3t')).toBe('/api/stream?topics=metrics&token=[redacted]')
    const out = line('error', 'request failed', { url: `http://h/login?code=zzz`, err: new Error(`bad ${token}`) })
    expect(out).toMatch(
      / error request failed \{"url":"http:\/\/h\/login\?code=\[redacted\]","err":"bad vgl_\[redacted\]"\}\n$/,
    )
    expect(out).not.toContain(token)
  })
})

describe('access log', () => {
  const hubs = useTestHubs()

  it('writes one line per request with method, path, status, client and identity, the login code redacted', async () => {
    const written: string[] = []
    const log: Logger = {
      info: (msg, fields) => written.push(line('info', msg, fields)),
      warn: (msg, fields) => written.push(line('warn', msg, fields)),
      error: (msg, fields) => written.push(line('error', msg, fields)),
    }
    const t = await hubs.start({ VIGIL_SAMPLE_MS: '60000', VIGIL_ACCESS_LOG: 'true' }, { log })
    const viewer = await t.hub.tokens.create('viewer', 'wall-screen')
    await fetch(`${t.hub.url}/api/config`, { headers: { authorization: `Bearer ${viewer.token}` } })
    await fetch(`${t.hub.url}/login?code=abcdef0123456789`, { redirect: 'manual' })
    await fetch(`${t.hub.url}/api/nope?token=${viewer.token}`)
    const requests = () => written.filter((l) => l.includes(' info request '))
    await expect.poll(() => requests().length).toBe(3)
    const fields = requests().map((l) => JSON.parse(l.slice(l.indexOf('{'))))
    expect(fields.map(({ ms: _ms, ...f }) => f)).toEqual([
      { method: 'GET', path: '/api/config', status: 200, client: '127.0.0.1', identity: 'wall-screen' },
      { method: 'GET', path: '/login?code=[redacted]', status: 302, client: '127.0.0.1', identity: null },
      { method: 'GET', path: '/api/nope?token=[redacted]', status: 404, client: '127.0.0.1', identity: 'anonymous' },
    ])
    expect(written.join('')).not.toContain(viewer.token)
    expect(written.join('')).not.toContain('abcdef0123456789')
  })

  it('writes no request lines unless VIGIL_ACCESS_LOG is on', async () => {
    const written: string[] = []
    const log: Logger = { info: (msg) => written.push(msg), warn() {}, error() {} }
    const t = await hubs.start({ VIGIL_SAMPLE_MS: '60000' }, { log })
    expect((await fetch(`${t.hub.url}/api/config`)).status).toBe(200)
    expect(written).not.toContain('request')
  })
})
