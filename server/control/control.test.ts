import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { connect as netConnect } from 'node:net'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { ROOT } from '../paths.ts'
import {
  type AuditEntry,
  CONTROL_ERROR_CODES,
  type ConfigEvent,
  type MetricsEvent,
  type Reply,
} from '../protocol/index.ts'
import { openDb } from '../store/index.ts'
import { ControlClient } from '../testing/control.ts'
import { Collector, startTestHub, type TestHub } from '../testing/hub.ts'

let t: TestHub | null = null
const clients: (ControlClient | Collector)[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.close()
  await t?.stop()
  t = null
})

async function hub(env: Record<string, string> = {}) {
  t = await startTestHub({ VIGIL_SAMPLE_MS: '1000', ...env })
  const url = `ws://127.0.0.1:${t.hub.port}/api/control`
  const operator = (await t.hub.tokens.create('operator', 'ops')).token
  const viewer = (await t.hub.tokens.create('viewer', 'wall')).token
  return { hub: t.hub, url, operator, viewer }
}

async function connect(url: string, token: string, options = {}): Promise<ControlClient> {
  const c = new ControlClient(url, { authorization: `Bearer ${token}` }, options)
  clients.push(c)
  await c.opened()
  return c
}

const errorCode = (r: Reply | undefined) => (r && 'ok' in r && !r.ok ? r.error.code : null)

describe('WebSocket /api/control: who may connect and command', () => {
  it('answers 401 at upgrade without credentials, even on loopback, and 403 for a foreign Origin', async () => {
    const { url, operator } = await hub()
    expect(await ControlClient.refusal(url, {})).toBe(401)
    expect(await ControlClient.refusal(url, { authorization: 'Bearer vgl_wrong' })).toBe(401)
    expect(
      await ControlClient.refusal(url, { authorization: `Bearer ${operator}`, origin: 'http://evil.example' }),
    ).toBe(403)
    const same = await connect(url, operator, {
      headers: { authorization: `Bearer ${operator}`, origin: `http://127.0.0.1:${t?.hub.port}` },
    })
    expect(await same.request({ type: 'ping' })).toEqual({ type: 'pong' })
  })

  it('accepts an Origin listed in VIGIL_ALLOWED_ORIGINS', async () => {
    const { url, operator } = await hub({ VIGIL_ALLOWED_ORIGINS: 'https://ops.example.com' })
    const c = new ControlClient(url, { authorization: `Bearer ${operator}`, origin: 'https://ops.example.com' })
    clients.push(c)
    await c.opened()
    expect(await c.request({ id: 'p', type: 'ping' })).toEqual({ id: 'p', type: 'pong' })
  })

  it("answers a viewer's command with forbidden and an operator's with the new config", async () => {
    const { url, operator, viewer } = await hub()
    const v = await connect(url, viewer)
    expect(await v.request({ id: 'a', type: 'sampling.pause' })).toEqual({
      id: 'a',
      ok: false,
      error: { code: 'forbidden', message: 'Role viewer may not send commands' },
    })
    expect(await v.request({ type: 'ping' })).toEqual({ type: 'pong' })
    const o = await connect(url, operator)
    const r = await o.request({ id: 7, type: 'sampling.pause' })
    expect(r).toMatchObject({ id: 7, ok: true, result: { version: 1, sampling: { paused: true }, changedBy: 'ops' } })
  })

  it('closes the socket of a token revoked from the CLI with 1008', async () => {
    const { url, operator } = await hub()
    const c = await connect(url, operator)
    const dir = (t as TestHub).dir
    const r = spawnSync(process.execPath, [
      '--import',
      'tsx',
      join(ROOT, 'server/main.ts'),
      'token',
      'revoke',
      'ops',
      '--data-dir',
      dir,
    ])
    expect(r.status).toBe(0)
    expect(await c.closed).toEqual({ code: 1008, reason: 'token revoked' })
  })
})

describe('sampling commands', () => {
  it('moves the metrics cadence to 200 ms and back when ttlMs runs out, with both changes audited', async () => {
    const { hub: h, url, operator } = await hub()
    const metrics = new Collector(`${h.url}/api/stream?topics=metrics,config`, ['metrics', 'config'])
    clients.push(metrics)
    const o = await connect(url, operator)
    const ack = await o.request({ id: 's', type: 'sampling.set', intervalMs: 200, ttlMs: 2000 })
    expect(ack).toMatchObject({
      id: 's',
      ok: true,
      result: { sampling: { fastMs: 200, slowMs: 10_000, paused: false } },
    })
    const revertsAt = (ack as { result: ConfigEvent }).result.revertsAt as number
    await metrics.waitFor(
      (e) => e.some((x) => x.type === 'config' && (x.data as ConfigEvent).changedBy === 'system'),
      10_000,
    )
    const fast = metrics.events
      .filter(
        (e) =>
          e.type === 'metrics' &&
          (e.data as MetricsEvent).intervalMs === 200 &&
          !('fs.root.used_pct' in (e.data as MetricsEvent).values),
      )
      .map((e) => (e.data as MetricsEvent).ts)
      .filter((ts) => ts < revertsAt)
    expect(fast.length).toBeGreaterThanOrEqual(4)
    const gaps = fast
      .slice(1)
      .map((ts, i) => ts - (fast[i] as number))
      .sort((a, b) => a - b)
    // The median gap is the new interval, nowhere near the old 1000 ms
    expect(gaps[Math.floor(gaps.length / 2)]).toBeLessThan(500)
    const revert = metrics.events.find((e) => e.type === 'config' && (e.data as ConfigEvent).changedBy === 'system')
    expect(revert?.data).toMatchObject({ sampling: { fastMs: 1000, slowMs: 10_000, paused: false } })

    const audit = (await (
      await fetch(`${h.url}/api/audit?limit=10`, { headers: { authorization: `Bearer ${operator}` } })
    ).json()) as {
      entries: AuditEntry[]
    }
    expect(audit.entries.map((e) => [e.command, e.actor, e.outcome])).toEqual([
      ['sampling.revert', 'system', 'accepted'],
      ['sampling.set', 'ops', 'accepted'],
    ])
    // Both name the host they acted on: the hub's own, as the command named none
    expect(audit.entries[1]?.args).toEqual({ host: h.host, intervalMs: 200, ttlMs: 2000 })
    expect(audit.entries[0]?.args).toEqual({ host: h.host, fastMs: 1000, slowMs: 10_000 })
  })

  it('keeps sampling settings across a restart', async () => {
    const { url, operator } = await hub()
    const o = await connect(url, operator)
    await o.request({ id: 1, type: 'sampling.set', intervalMs: 300 })
    await o.request({ id: 2, type: 'sampling.set', group: 'slow', intervalMs: 5000 })
    o.close()
    const h = await (t as TestHub).restart()
    const config = (await (await fetch(`${h.url}/api/config`)).json()) as ConfigEvent
    expect(config).toMatchObject({
      version: 2,
      sampling: { fastMs: 300, slowMs: 5000, paused: false },
      changedBy: 'ops',
    })
    const c = new Collector(`${h.url}/api/stream?topics=metrics`, ['metrics'])
    clients.push(c)
    await c.waitFor((e) => e.length >= 3)
    const intervals = new Set(c.events.map((e) => (e.data as MetricsEvent).intervalMs))
    expect([...intervals].every((ms) => ms === 300 || ms === 5000)).toBe(true)
    expect(intervals.has(300)).toBe(true)
  })

  it('answers job commands with not_found until jobs exist, and an unknown host with not_found', async () => {
    const { url, operator } = await hub()
    const o = await connect(url, operator)
    expect(await o.request({ id: 1, type: 'job.cancel', jobId: 'j1', reason: 'stuck' })).toEqual({
      id: 1,
      ok: false,
      error: { code: 'not_found', message: 'No job j1' },
    })
    expect(errorCode(await o.request({ id: 2, type: 'sampling.set', intervalMs: 500, host: 'elsewhere' }))).toBe(
      'not_found',
    )
  })
})

describe('bad input on the control channel', () => {
  it('answers bad JSON, unknown commands and invalid arguments with their codes and keeps the socket open', async () => {
    const { url, operator } = await hub()
    const o = await connect(url, operator)
    expect(await o.request('{oops')).toEqual({
      id: null,
      ok: false,
      error: { code: 'bad_json', message: 'Message is not valid JSON' },
    })
    expect(await o.request({ id: 'x', type: 'sampling.explode' })).toEqual({
      id: 'x',
      ok: false,
      error: { code: 'unknown_command', message: 'Unknown command "sampling.explode"' },
    })
    expect(await o.request({ id: 'y', type: 'sampling.set', intervalMs: 5 })).toEqual({
      id: 'y',
      ok: false,
      error: { code: 'invalid', message: 'intervalMs: fast interval must be 100–60000 ms' },
    })
    expect(errorCode(await o.request({ id: 'z', type: 'sampling.set', intervalMs: 500, extra: true }))).toBe('invalid')
    expect(errorCode(await o.request([1, 2]))).toBe('invalid')
    expect(await o.request({ type: 'ping' })).toEqual({ type: 'pong' })
  })

  it('closes with 1009 on a frame over 64 KiB', async () => {
    const { url, operator } = await hub()
    const o = await connect(url, operator)
    o.send({ id: 1, type: 'sampling.pause', pad: 'x'.repeat(70_000) })
    expect((await o.closed).code).toBe(1009)
  })

  it('answers a flood of 500 commands with rate_limited and keeps serving other clients', async () => {
    const { url, operator } = await hub()
    const flood = await connect(url, operator)
    const other = await connect(url, operator)
    for (let i = 0; i < 500; i++) flood.send({ id: i, type: 'ping' })
    const replies = await flood.waitReplies(500)
    const limited = replies.filter((r) => errorCode(r) === 'rate_limited')
    expect(limited.length).toBeGreaterThanOrEqual(400)
    expect(replies.filter((r) => 'type' in r && r.type === 'pong').length).toBe(500 - limited.length)
    expect(limited[0]).toMatchObject({
      ok: false,
      error: { code: 'rate_limited', message: 'Too many messages: at most 20/s, bursts of 40' },
    })
    expect(await other.request({ id: 'still', type: 'ping' })).toEqual({ id: 'still', type: 'pong' })
  })

  it('closes with 1008 a client that keeps flooding', async () => {
    const { url, operator } = await hub()
    const flood = await connect(url, operator)
    for (let i = 0; i < 1200; i++) flood.send({ id: i, type: 'ping' })
    expect(await flood.closed).toEqual({ code: 1008, reason: 'rate limit exceeded for too long' })
  })

  it('drops a client that sends commands but never reads the replies, once 1 MiB of them wait unread', async () => {
    const { hub: h, url, operator } = await hub({ VIGIL_WS_RATE: '100000', VIGIL_WS_BURST: '100000' })
    // A raw socket: the upgrade handshake, then masked text frames, and never a byte read back
    const socket = netConnect(h.port, '127.0.0.1')
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
    socket.on('error', () => {})
    socket.write(
      `GET /api/control HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
        `Authorization: Bearer ${operator}\r\n\r\n`,
    )
    await new Promise((resolve) => socket.once('data', resolve))
    socket.pause()
    const frame = (text: string) => {
      const payload = Buffer.from(text)
      const mask = randomBytes(4)
      const masked = payload.map((b, i) => b ^ (mask[i % 4] as number))
      return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked])
    }
    const polite = await connect(url, operator)
    let sent = 0
    let open = true
    void closed.then(() => {
      open = false
    })
    // Each reply is ~90 bytes; far more of them than the kernel buffers and the 1 MiB queue hold
    while (open && sent < 400_000) {
      const batch: Buffer[] = []
      for (let i = 0; i < 1000; i++)
        batch.push(frame(JSON.stringify({ id: `${'r'.repeat(56)}${sent++}`, type: 'ping' })))
      socket.write(Buffer.concat(batch))
      await new Promise((resolve) => setImmediate(resolve))
    }
    await closed
    expect(sent).toBeLessThan(400_000)
    expect(await polite.request({ type: 'ping' })).toEqual({ type: 'pong' })
    expect(h.control.peers).toBe(1)
  })

  it('terminates a client that does not answer pings', async () => {
    const { url, operator } = await hub({ VIGIL_WS_PING_MS: '100' })
    const silent = await connect(url, operator, { autoPong: false })
    const polite = await connect(url, operator)
    expect((await silent.closed).code).toBe(1006)
    expect(await polite.request({ type: 'ping' })).toEqual({ type: 'pong' })
  })

  it('survives 1,000 random and malformed messages: one reply each, and no writes but audit rows and accepted commands', async () => {
    const { hub: h, url, operator } = await hub({ VIGIL_WS_RATE: '100000', VIGIL_WS_BURST: '100000' })
    const o = await connect(url, operator)
    const counts = () => {
      const db = openDb((t as TestHub).dir)
      const n = (table: string) => (db.sqlite.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n
      const out = { tokens: n('tokens'), sessions: n('sessions'), codes: n('login_codes'), audit: n('audit') }
      db.sqlite.close()
      return out
    }
    const before = counts()
    const types = fc.constantFrom(
      'ping',
      'sampling.set',
      'sampling.pause',
      'sampling.resume',
      'job.cancel',
      'job.retry',
      'nope',
      '',
    )
    const message = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.json({ maxDepth: 3 }),
      fc.record(
        { id: fc.oneof(fc.string({ maxLength: 70 }), fc.integer(), fc.constant(null)), type: types },
        { requiredKeys: ['type'] },
      ),
      fc.record({
        id: fc.integer(),
        type: types,
        intervalMs: fc.oneof(fc.integer(), fc.double(), fc.string()),
        group: fc.oneof(fc.constant('fast'), fc.constant('slow'), fc.string()),
        ttlMs: fc.integer(),
        jobId: fc.string({ maxLength: 80 }),
      }),
    )
    const samples = fc.sample(message, { numRuns: 1000, seed: 42 })
    for (const m of samples) o.send(typeof m === 'string' ? m : JSON.stringify(m))
    const replies = await o.waitReplies(samples.length, 20_000)
    expect(replies).toHaveLength(1000)
    const documented = new Set<string>(CONTROL_ERROR_CODES)
    for (const r of replies) {
      if ('type' in r) expect(r.type).toBe('pong')
      else if (!r.ok) expect(documented.has(r.error.code)).toBe(true)
    }
    expect(replies.some((r) => errorCode(r) === 'internal')).toBe(false)
    const accepted = replies.filter((r) => 'ok' in r && r.ok).length
    const after = counts()
    expect({ ...after, audit: 0 }).toEqual({ ...before, audit: 0 })
    const pings = replies.filter((r) => 'type' in r).length
    expect(after.audit - before.audit).toBe(1000 - pings)
    expect(h.sampling.local.current().version).toBe(accepted)
    expect(await o.request({ type: 'ping' })).toEqual({ type: 'pong' })
    expect((await fetch(`${h.url}/api/health`)).status).toBe(200)
  })
})

describe('GET /api/audit', () => {
  it('keeps no url, headers or credential argument of any command, unknown, invalid or forbidden, at any depth', async () => {
    const { hub: h, url, operator, viewer } = await hub()
    const secret = `https://hooks.example.test/services/${randomBytes(8).toString('hex')}`
    const o = await connect(url, operator)
    const v = await connect(url, viewer)
    const channel = { name: 'ops', kind: 'slack', url: secret, headers: { 'X-Key': secret } }
    expect(errorCode(await o.request({ id: 0, type: 'notify.add', channel }))).toBe('unknown_command')
    expect(errorCode(await o.request({ id: 1, type: 'alert.channel.set', ...channel }))).toBe('forbidden')
    expect(errorCode(await o.request({ id: 2, type: 'job.retry', jobId: 'j1', URL: secret }))).toBe('invalid')
    expect(errorCode(await v.request({ id: 3, type: 'job.retry', jobId: 'j1', to: [{ password: secret }] }))).toBe(
      'forbidden',
    )
    const res = await fetch(`${h.url}/api/audit?limit=4`, { headers: { authorization: `Bearer ${operator}` } })
    const text = await res.text()
    expect(text).not.toContain('hooks.example.test')
    const { entries } = JSON.parse(text) as { entries: AuditEntry[] }
    expect(entries.map((e) => [e.command, e.outcome, e.errorCode, e.args])).toEqual([
      ['job.retry', 'refused', 'forbidden', { jobId: 'j1', to: [{ password: '[redacted]' }] }],
      ['job.retry', 'refused', 'invalid', { jobId: 'j1', URL: '[redacted]' }],
      [
        'alert.channel.set',
        'refused',
        'forbidden',
        { name: 'ops', kind: 'slack', url: '[redacted]', headers: '[redacted]' },
      ],
      [
        'notify.add',
        'refused',
        'unknown_command',
        { channel: { name: 'ops', kind: 'slack', url: '[redacted]', headers: '[redacted]' } },
      ],
    ])
  })

  it('is for operators and admins: 403 forbidden for a viewer', async () => {
    const { hub: h, viewer } = await hub()
    const res = await fetch(`${h.url}/api/audit`, { headers: { authorization: `Bearer ${viewer}` } })
    expect(res.status).toBe(403)
    expect(await res.json()).toEqual({
      error: { code: 'forbidden', message: 'Role viewer may not read the audit log' },
    })
  })

  it('pages newest first with limit and before', async () => {
    const { hub: h, url, operator } = await hub()
    const o = await connect(url, operator)
    for (let i = 0; i < 5; i++) await o.request({ id: i, type: 'job.retry', jobId: `j${i}` })
    const auth = { authorization: `Bearer ${operator}` }
    const first = (await (await fetch(`${h.url}/api/audit?limit=2`, { headers: auth })).json()) as {
      entries: AuditEntry[]
    }
    expect(first.entries.map((e) => (e.args as { jobId: string }).jobId)).toEqual(['j4', 'j3'])
    const next = (await (
      await fetch(`${h.url}/api/audit?limit=2&before=${first.entries[1]?.id}`, { headers: auth })
    ).json()) as {
      entries: AuditEntry[]
    }
    expect(next.entries.map((e) => (e.args as { jobId: string }).jobId)).toEqual(['j2', 'j1'])
    expect(next.entries[0]).toMatchObject({
      actor: 'ops',
      role: 'operator',
      remote: '127.0.0.1',
      outcome: 'failed',
      errorCode: 'not_found',
    })
  })
})
