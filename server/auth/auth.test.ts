import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../config.ts'
import { startHub } from '../hub.ts'
import { silentLogger } from '../log.ts'
import { ROOT } from '../paths.ts'
import type { Identity } from '../protocol/index.ts'
import { openDb } from '../store/index.ts'
import { startTestHub, type TestHub } from '../testing/hub.ts'
import { describeTokenCli } from './token-cli.suite.ts'
import { hashSecret, sqliteTokenAdmin } from './tokens.ts'

let t: TestHub | null = null
afterEach(async () => {
  await t?.stop()
  t = null
})

function vigil(args: string[], dataDir: string) {
  return spawnSync(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'server/main.ts'), ...args, '--data-dir', dataDir],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  )
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

describe('tokens', () => {
  it('stores only a SHA-256 of each secret and verifies the secret itself', async () => {
    t = await startTestHub({ VIGIL_SAMPLE_MS: '60000' })
    const created = await t.hub.tokens.create('operator', 'deploy-bot')
    expect(created.token).toMatch(/^vgl_[A-Za-z0-9_-]{43}$/)
    const db = openDb(t.dir)
    const rows = db.sqlite.prepare('select name, role, hash from tokens where name = ?').all('deploy-bot')
    db.sqlite.close()
    expect(rows).toEqual([{ name: 'deploy-bot', role: 'operator', hash: hashSecret(created.token) }])
    expect(await t.hub.tokens.verify(created.token)).toMatchObject({ name: 'deploy-bot', role: 'operator' })
    expect(await t.hub.tokens.verify(`${created.token}x`)).toBeNull()
  })

  it('creates, lists and revokes tokens from the CLI against the data dir of a running hub, which stops honouring a revoked one at once', async () => {
    t = await startTestHub({ VIGIL_SAMPLE_MS: '200' })
    const created = vigil(['token', 'create', '--role', 'viewer', '--name', 'wallboard'], t.dir)
    expect(created.status).toBe(0)
    expect(created.stderr).toContain('Created viewer token "wallboard". It is shown only this once')
    const token = created.stdout.trim()
    expect(token).toMatch(/^vgl_/)

    const ok = await fetch(`${t.hub.url}/api/session`, { headers: bearer(token) })
    expect(await ok.json()).toEqual({ name: 'wallboard', role: 'viewer', anonymous: false })

    const list = vigil(['token', 'list'], t.dir)
    expect(list.status).toBe(0)
    expect(list.stdout).toMatch(/^NAME\s+ROLE\s+CREATED\s+LAST USED\s+STATUS$/m)
    expect(list.stdout).toMatch(/^wallboard\s+viewer\s+\S+Z\s+\S+Z\s+active$/m)
    expect(list.stdout).not.toContain(token)

    // An open stream on the token ends when another process revokes it
    const stream = await fetch(`${t.hub.url}/api/stream?topics=metrics`, { headers: bearer(token) })
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader()
    await reader.read()
    const revoked = vigil(['token', 'revoke', 'wallboard'], t.dir)
    expect(revoked.status).toBe(0)
    expect(revoked.stdout).toBe('Revoked "wallboard"\n')
    let done = false
    while (!done) done = (await reader.read()).done
    const after = await fetch(`${t.hub.url}/api/session`, { headers: bearer(token) })
    expect(after.status).toBe(401)
    expect(await after.json()).toEqual({ error: { code: 'unauthorized', message: 'Invalid or revoked token' } })
    expect(vigil(['token', 'list'], t.dir).stdout).toMatch(/^wallboard\s+viewer\s+.*revoked \S+Z$/m)
  })
})

const cliDirs: string[] = []
afterAll(() => {
  for (const d of cliDirs.splice(0)) rmSync(d, { recursive: true, force: true })
})
describeTokenCli('SQLite', () => ({
  async flags() {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-token-'))
    cliDirs.push(dir)
    return ['--data-dir', dir]
  },
  async storedHash(flags, name) {
    const db = openDb(flags[1] as string)
    try {
      return (db.sqlite.prepare('select hash from tokens where name = ?').get(name) as { hash: string } | undefined)
        ?.hash
    } finally {
      db.sqlite.close()
    }
  },
}))

describe('sessions and login', () => {
  it('makes an admin token at first start whose one-time link sets an HttpOnly SameSite=Strict cookie and strips the code', async () => {
    t = await startTestHub({ VIGIL_SAMPLE_MS: '60000' })
    const link = t.hub.firstLoginUrl as string
    expect(link).toMatch(new RegExp(`^${t.hub.url}/login\\?code=[A-Za-z0-9_-]{43}$`))
    const res = await fetch(link, { redirect: 'manual' })
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe('/')
    const cookie = res.headers.get('set-cookie') as string
    expect(cookie).toMatch(/^vigil_session=[A-Za-z0-9_-]{43}; Max-Age=2592000; Path=\/; HttpOnly; SameSite=Strict$/)
    const session = cookie.split(';')[0] as string
    const me = await fetch(`${t.hub.url}/api/session`, { headers: { cookie: session } })
    expect(await me.json()).toEqual<Identity>({ name: 'admin', role: 'admin', anonymous: false })

    const again = await fetch(link, { redirect: 'manual' })
    expect(again.status).toBe(302)
    expect(again.headers.get('location')).toBe('/login?error=expired')
  })

  it('makes no login link once a token exists', async () => {
    t = await startTestHub({ VIGIL_SAMPLE_MS: '60000' })
    const hub = await t.restart()
    expect(hub.firstLoginUrl).toBeNull()
  })

  it('logs in with a pasted token, and logs out', async () => {
    t = await startTestHub({ VIGIL_SAMPLE_MS: '60000' })
    const { token } = await t.hub.tokens.create('operator', 'alice')
    const bad = await fetch(`${t.hub.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: 'vgl_nope' }),
    })
    expect(bad.status).toBe(401)
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('unauthorized')
    const invalid = await fetch(`${t.hub.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"tok":1}',
    })
    expect(invalid.status).toBe(400)

    const huge = await fetch(`${t.hub.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: 'x'.repeat(10_000) }),
    })
    expect(huge.status).toBe(413)
    expect(await huge.json()).toEqual({
      error: { code: 'payload_too_large', message: 'A login body is at most 4 KiB' },
    })

    const ok = await fetch(`${t.hub.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
    })
    expect(ok.status).toBe(200)
    const session = (ok.headers.get('set-cookie') as string).split(';')[0] as string
    expect(await (await fetch(`${t.hub.url}/api/session`, { headers: { cookie: session } })).json()).toMatchObject({
      name: 'alice',
      role: 'operator',
    })
    const out = await fetch(`${t.hub.url}/api/session`, { method: 'DELETE', headers: { cookie: session } })
    expect(out.status).toBe(204)
    // The cookie no longer identifies anyone: back to the anonymous viewer of a loopback hub
    expect(await (await fetch(`${t.hub.url}/api/session`, { headers: { cookie: session } })).json()).toEqual({
      name: 'anonymous',
      role: 'viewer',
      anonymous: true,
    })
  })
})

describe('roles on the HTTP API', () => {
  it('lets an anonymous visitor of a loopback hub read as a viewer, but refuses a bad bearer with 401', async () => {
    t = await startTestHub({ VIGIL_SAMPLE_MS: '60000' })
    expect((await fetch(`${t.hub.url}/api/stats`)).status).toBe(200)
    const bad = await fetch(`${t.hub.url}/api/stats`, { headers: bearer('vgl_wrong') })
    expect(bad.status).toBe(401)
    const malformed = await fetch(`${t.hub.url}/api/stats`, { headers: { authorization: 'Basic Zm9vOmJhcg==' } })
    expect(malformed.status).toBe(401)
  })

  it('answers 403 forbidden to a reporter reading the dashboard and to a viewer asking for the audit topic', async () => {
    t = await startTestHub({ VIGIL_SAMPLE_MS: '60000' })
    const reporter = (await t.hub.tokens.create('reporter', 'ci')).token
    const res = await fetch(`${t.hub.url}/api/metrics/catalog`, { headers: bearer(reporter) })
    expect(res.status).toBe(403)
    expect(await res.json()).toEqual({
      error: { code: 'forbidden', message: 'Role reporter may not read the dashboard' },
    })
    const audit = await fetch(`${t.hub.url}/api/stream?topics=audit`)
    expect(audit.status).toBe(403)
    expect(await audit.json()).toEqual({
      error: { code: 'forbidden', message: 'Role viewer may not read the audit topic' },
    })
  })

  it('serves /api/health to anyone', async () => {
    t = await startTestHub({ VIGIL_SAMPLE_MS: '60000' })
    expect((await fetch(`${t.hub.url}/api/health`, { headers: bearer('vgl_wrong') })).status).toBe(200)
  })
})

describe('binding beyond loopback', () => {
  it('refuses to start on a non-loopback address while no token exists', async () => {
    t = await startTestHub({ VIGIL_SAMPLE_MS: '60000' })
    const admin = sqliteTokenAdmin(openDb(t.dir))
    await admin.revoke('admin')
    await admin.close()
    await t.hub.close()
    const config = loadConfig({ VIGIL_HOST: '0.0.0.0', VIGIL_PORT: '0', VIGIL_DATA_DIR: t.dir })
    const start = startHub(config, { log: silentLogger })
    await expect(start).rejects.toThrow(ConfigError)
    await expect(start).rejects.toThrow(
      /"0\.0\.0\.0" is not a loopback address and no token exists.*vigil token create --role admin/,
    )
    t.hub = await startHub(loadConfig({ VIGIL_PORT: '0', VIGIL_DATA_DIR: t.dir }), { log: silentLogger })
  })

  it('asks every visitor of a non-loopback hub for a token', async () => {
    t = await startTestHub({ VIGIL_SAMPLE_MS: '60000' })
    const { token } = await t.hub.tokens.create('viewer', 'screen')
    await t.hub.close()
    t.hub = await startHub(
      loadConfig({ VIGIL_HOST: '0.0.0.0', VIGIL_PORT: '0', VIGIL_DATA_DIR: t.dir, VIGIL_SAMPLE_MS: '60000' }),
      {
        log: silentLogger,
      },
    )
    const url = `http://127.0.0.1:${t.hub.port}`
    const anon = await fetch(`${url}/api/stats`)
    expect(anon.status).toBe(401)
    expect(await anon.json()).toEqual({
      error: {
        code: 'unauthorized',
        message: 'Token required: send Authorization: Bearer <token> or log in at /login',
      },
    })
    expect((await fetch(`${url}/api/stats`, { headers: bearer(token) })).status).toBe(200)
  })
})
