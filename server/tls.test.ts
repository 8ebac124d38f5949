import { spawn } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs'
import http2 from 'node:http2'
import https from 'node:https'
import { hostname, networkInterfaces } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from './config.ts'
import { ControlClient } from './testing/control.ts'
import { startTestHub, type TestHub } from './testing/hub.ts'
import { loadTls, makeSelfSigned, selfSignedNames } from './tls.ts'

let t: TestHub | null = null
afterEach(async () => {
  await t?.stop()
  t = null
})

/** One HTTP/2 request with certificate checks off (the hub's certificate is self-signed). */
function h2(url: string, path: string, opts: { method?: string; body?: string; readMs?: number } = {}) {
  return new Promise<{ headers: http2.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const session = http2.connect(url, { rejectUnauthorized: false })
    session.on('error', reject)
    const req = session.request({
      ':path': path,
      ':method': opts.method ?? 'GET',
      ...(opts.body ? { 'content-type': 'application/json' } : {}),
    })
    let headers: http2.IncomingHttpHeaders = {}
    let body = ''
    req.on('response', (h) => {
      headers = h
    })
    req.setEncoding('utf8')
    req.on('data', (d: string) => {
      body += d
    })
    const done = () => {
      session.close()
      resolve({ headers, body })
    }
    req.on('end', done)
    req.on('error', reject)
    if (opts.readMs) setTimeout(() => req.close(http2.constants.NGHTTP2_CANCEL), opts.readMs)
    req.on('close', done)
    req.end(opts.body)
  })
}

/**
 * `GET /api/health` from a client that trusts only `ca`, as `--hub-ca` makes an agent: the status, or the TLS
 * error's code. `servername` is the name the certificate must hold when dialing an address.
 */
function healthWithCa(host: string, port: number, ca: Buffer, servername?: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = https.get({ host, port, ca, path: '/api/health', ...(servername ? { servername } : {}) }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', (err: Error & { code?: string }) => resolve(err.code ?? err.message))
  })
}

/** curl as a user would run it: `curl --http2 -k`, for `ms` milliseconds. */
function curl(args: string[], ms: number): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn('curl', ['-sk', '--http2', '-D', '-', '--max-time', String(ms / 1000), ...args])
    let out = ''
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    p.on('close', () => resolve(out))
  })
}

describe('HTTPS and HTTP/2', () => {
  it('serves the SSE stream over HTTP/2 to curl --http2 -k, with a self-signed certificate it made and kept', async () => {
    t = await startTestHub({ VIGIL_SELF_SIGNED: 'true', VIGIL_SAMPLE_MS: '200' })
    expect(t.hub.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
    const key = join(t.dir, 'tls', 'self-signed.key')
    expect(existsSync(join(t.dir, 'tls', 'self-signed.crt'))).toBe(true)
    expect(statSync(key).mode & 0o777).toBe(0o600)

    const out = await curl([`${t.hub.url}/api/stream?topics=metrics`], 1500)
    expect(out).toMatch(/^HTTP\/2 200 \r\n/)
    expect(out).toContain('content-type: text/event-stream; charset=utf-8')
    expect(out).not.toMatch(/transfer-encoding|connection:/i)
    expect(out).toMatch(/\nid: \d+\nevent: metrics\ndata: \{"host":/)
    // The hub is still up after the client went away mid-stream
    const health = await h2(t.hub.url, '/api/health')
    expect(health.headers[':status']).toBe(200)
    // The next start serves the same certificate
    const crt = join(t.dir, 'tls', 'self-signed.crt')
    const before = readFileSync(crt)
    await t.restart()
    expect(readFileSync(crt)).toEqual(before)
  })

  it('makes its self-signed certificate anew for this machine’s name and every address when bound to all, so a client that pins it can dial either', async () => {
    // First on loopback, as one tries it out; then, with a token to protect it, on every address
    t = await startTestHub({ VIGIL_SELF_SIGNED: 'true', VIGIL_SAMPLE_MS: '60000' })
    const crt = join(t.dir, 'tls', 'self-signed.crt')
    const loopbackOnly = new X509Certificate(readFileSync(crt))
    await t.hub.tokens.create('admin', 'root')
    await t.restart({ VIGIL_HOST: '0.0.0.0' })
    const pem = readFileSync(crt)
    // Made anew: the kept one lacked the addresses
    expect(new X509Certificate(pem).fingerprint256).not.toBe(loopbackOnly.fingerprint256)
    const addresses = Object.values(networkInterfaces())
      .flat()
      .filter((a) => a?.family === 'IPv4' && !a.internal)
      .map((a) => a?.address as string)
    expect(new X509Certificate(pem).subjectAltName?.split(', ')).toEqual(
      expect.arrayContaining([
        'DNS:localhost',
        'IP Address:127.0.0.1',
        `DNS:${hostname().toLowerCase()}`,
        ...addresses.map((a) => `IP Address:${a}`),
      ]),
    )
    expect(await healthWithCa('127.0.0.1', t.hub.port, pem, hostname().toLowerCase())).toBe(200)
    for (const address of addresses) expect(await healthWithCa(address, t.hub.port, pem)).toBe(200)
    // A name the certificate does not hold is refused
    expect(await healthWithCa('127.0.0.1', t.hub.port, pem, 'elsewhere.example')).toBe('ERR_TLS_CERT_ALTNAME_INVALID')
    // Bound to one address, the certificate names that one; a name no SAN can carry is left out
    expect(selfSignedNames('10.1.2.3', 'Build_Box', {})).toEqual([
      'DNS:localhost',
      'IP:127.0.0.1',
      'IP:::1',
      'IP:10.1.2.3',
    ])
  })

  it('makes a new self-signed certificate at start when the kept one expires within 30 days', async () => {
    t = await startTestHub({ VIGIL_SELF_SIGNED: 'true', VIGIL_SAMPLE_MS: '60000' })
    const crt = join(t.dir, 'tls', 'self-signed.crt')
    const key = join(t.dir, 'tls', 'self-signed.key')
    // A kept pair with every name the hub needs, and 10 days left
    makeSelfSigned(crt, key, selfSignedNames('127.0.0.1'), 10)
    const old = new X509Certificate(readFileSync(crt))
    await t.restart()
    const pem = readFileSync(crt)
    const fresh = new X509Certificate(pem)
    expect(fresh.fingerprint256).not.toBe(old.fingerprint256)
    expect(Date.parse(fresh.validTo) - Date.now()).toBeGreaterThan(360 * 24 * 3600_000)
    expect(statSync(key).mode & 0o777).toBe(0o600)
    expect(await healthWithCa('127.0.0.1', t.hub.port, pem, 'localhost')).toBe(200)
    // The start-up log line says when it was made, and is quiet about a kept one
    const config = loadConfig({ VIGIL_DATA_DIR: t.dir, VIGIL_SELF_SIGNED: 'true' })
    expect(loadTls(config)?.source).toBe(`${crt} (self-signed for ${fresh.subjectAltName})`)
    rmSync(crt)
    expect(loadTls(config)?.source).toMatch(
      /; made at this start: clients that pin a certificate of this hub need this file\)$/,
    )
  })

  it('streams to an HTTP/2 client, sends HSTS, and marks the session cookie Secure', async () => {
    t = await startTestHub({ VIGIL_SELF_SIGNED: 'true', VIGIL_SAMPLE_MS: '200' })
    const stream = await h2(t.hub.url, '/api/stream?topics=metrics', { readMs: 1200 })
    expect(stream.headers[':status']).toBe(200)
    expect(stream.body.match(/event: metrics/g)?.length ?? 0).toBeGreaterThanOrEqual(2)

    const page = await h2(t.hub.url, '/api/health')
    expect(page.headers['strict-transport-security']).toBe('max-age=15552000')
    const token = (await t.hub.tokens.create('viewer', 'wall')).token
    const login = await h2(t.hub.url, '/api/session', { method: 'POST', body: JSON.stringify({ token }) })
    expect(login.headers[':status']).toBe(200)
    expect(String(login.headers['set-cookie'])).toMatch(
      /^vigil_session=[^;]+; Max-Age=\d+; Path=\/; HttpOnly; Secure; SameSite=Strict$/,
    )
  })

  it('keeps WebSocket commands working over HTTP/1.1 on the same TLS port', async () => {
    t = await startTestHub({ VIGIL_SELF_SIGNED: 'true', VIGIL_SAMPLE_MS: '60000' })
    const token = (await t.hub.tokens.create('operator', 'ops')).token
    const client = new ControlClient(
      `${t.hub.url.replace('https', 'wss')}/api/control`,
      { authorization: `Bearer ${token}` },
      { rejectUnauthorized: false },
    )
    await client.opened()
    client.send({ id: 1, type: 'sampling.pause' })
    const [reply] = await client.waitReplies(1)
    expect(reply).toMatchObject({ id: 1, ok: true, result: { sampling: { paused: true } } })
    client.ws.close(1000)
  })

  it('refuses a certificate without its key, and --self-signed together with a certificate, exit code 2', () => {
    expect(() => loadConfig({ VIGIL_TLS_CERT: '/x.crt' })).toThrow(ConfigError)
    expect(() => loadConfig({}, ['--tls-key', '/x.key'])).toThrow(/go together/)
    expect(() => loadConfig({ VIGIL_TLS_CERT: '/x.crt', VIGIL_TLS_KEY: '/x.key' }, ['--self-signed'])).toThrow(
      /--self-signed makes its own certificate/,
    )
    expect(loadConfig({}, ['--self-signed']).selfSigned).toBe(true)
    expect(loadConfig({ VIGIL_SELF_SIGNED: 'false' }).selfSigned).toBe(false)
  })
})
