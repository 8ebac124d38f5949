import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from './config.ts'
import { type Hub, startHub } from './hub.ts'
import { silentLogger } from './log.ts'
import { ROOT } from './paths.ts'
import type { AuditEntry, ConfigEvent, HealthResponse, Job, SeriesResponse } from './protocol/index.ts'
import { useAgentProcesses } from './testing/agents.ts'
import { useCleanup } from './testing/cleanup.ts'
import { ControlClient } from './testing/control.ts'
import { Collector } from './testing/hub.ts'
import { freePort, type PrivatePostgres, startPostgres, withPgClient } from './testing/services.ts'

let server: PrivatePostgres
beforeAll(async () => {
  server = await startPostgres()
})
afterAll(async () => {
  await server?.stop()
})

const cleanup = useCleanup()

/** A hub on a database of its own, with a data dir that must stay empty; `restart` starts it again on both. */
async function pgHub(env: Record<string, string> = {}) {
  const url = await server.createDatabase()
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pg-hub-'))
  cleanup(() => rmSync(dir, { recursive: true, force: true }))
  const start = async () => {
    const config = loadConfig({
      VIGIL_PORT: '0',
      VIGIL_DATA_DIR: dir,
      VIGIL_DATABASE_URL: url,
      VIGIL_SAMPLE_MS: '60000',
      VIGIL_HOSTNAME: 'hub-host',
      ...env,
    })
    const hub = await startHub(config, { log: silentLogger })
    cleanup(() => hub.close())
    return hub
  }
  return { url, dir, hub: await start(), start }
}

const agents = useAgentProcesses()

const bearer = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' })

async function call<T>(hub: Hub, token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${hub.url}${path}`, {
    method,
    headers: bearer(token),
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  return { status: res.status, body: (await res.json()) as T }
}

describe('one hub on PostgreSQL', () => {
  it('keeps history, events, tokens, jobs and their logs, audit and settings in PostgreSQL across a restart, and nothing in the data dir', async () => {
    const { hub, dir, url, start } = await pgHub()
    expect(hub.dataAt).toBe(url)
    expect(hub.firstLoginUrl).toMatch(/\/login\?code=/)
    const operator = (await hub.tokens.create('operator', 'ops')).token
    const reporter = (await hub.tokens.create('reporter', 'ci')).token

    const stream = new Collector(`${hub.url}/api/stream?topics=metrics`, ['metrics'], {
      authorization: `Bearer ${operator}`,
    })
    cleanup(() => stream.close())
    const ts = Date.now() - 5000
    const posted = await call(hub, reporter, 'POST', '/api/metrics', {
      host: 'edge-1',
      samples: [
        { name: 'app.queue', ts, value: 5 },
        { name: 'app.queue', ts: ts + 1000, value: 7 },
      ],
    })
    expect(posted).toEqual({ status: 200, body: { accepted: 2, host: 'edge-1' } })
    await stream.waitFor((e) => e.some((x) => (x.data as { host?: string }).host === 'edge-1'))
    const eventId = Number(stream.events.find((x) => (x.data as { host?: string }).host === 'edge-1')?.id)

    const job = await call<Job>(hub, reporter, 'POST', '/api/jobs', { name: 'nightly' })
    expect(job.status).toBe(201)
    const id = job.body.id
    const logged = await call(hub, reporter, 'POST', `/api/jobs/${id}/logs?batch=0`, [
      { text: 'one\ntwo', stream: 'stdout' },
      { text: 'three', stream: 'stderr' },
    ])
    expect(logged).toEqual({ status: 200, body: { duplicate: false, lines: 3, lastSeq: 3 } })
    const again = await call(hub, reporter, 'POST', `/api/jobs/${id}/logs?batch=0`, [{ text: 'one', stream: 'stdout' }])
    expect(again.body).toEqual({ duplicate: true, lines: 0, lastSeq: 3 })
    expect(
      (await call(hub, reporter, 'POST', `/api/jobs/${id}/finish`, { state: 'succeeded', exitCode: 0 })).status,
    ).toBe(200)

    const control = new ControlClient(`${hub.url.replace('http', 'ws')}/api/control`, {
      authorization: `Bearer ${operator}`,
    })
    cleanup(() => control.close())
    await control.opened()
    expect(await control.request({ id: 1, type: 'sampling.set', intervalMs: 30_000 })).toMatchObject({
      id: 1,
      ok: true,
    })
    control.close()
    await hub.close()

    expect(readdirSync(dir)).toEqual([])
    const tables = await withPgClient(url, async (c) => {
      const r = await c.query<{ tokens: string; jobs: string; lines: string }>(
        `SELECT (SELECT count(*) FROM tokens) AS tokens, (SELECT count(*) FROM jobs) AS jobs,
          (SELECT sum(last_seq - seq + 1) FROM job_log_chunks) AS lines`,
      )
      return r.rows[0]
    })
    expect(tables).toEqual({ tokens: '3', jobs: '1', lines: '3' })

    const h = await start()
    expect(h.firstLoginUrl).toBeNull()
    const series = await call<SeriesResponse>(
      h,
      operator,
      'GET',
      `/api/series?metric=app.queue&host=edge-1&from=${ts}&to=${ts + 1000}`,
    )
    expect(series.body.points.map((p) => [p[0], p[1]])).toEqual([
      [ts, 5],
      [ts + 1000, 7],
    ])
    const finished = await call<Job>(h, operator, 'GET', `/api/jobs/${id}`)
    expect([finished.body.state, finished.body.exitCode, finished.body.log]).toEqual([
      'succeeded',
      0,
      { lines: 3, dropped: 0 },
    ])
    const lines = await call<{ lines: { seq: number; text: string }[] }>(h, operator, 'GET', `/api/jobs/${id}/logs`)
    expect(lines.body.lines.map((l) => [l.seq, l.text])).toEqual([
      [1, 'one'],
      [2, 'two'],
      [3, 'three'],
    ])
    // The log's search runs in PostgreSQL too (ILIKE): case-insensitive, _ taken literally
    const found = await call<{ lines: { seq: number }[] }>(h, operator, 'GET', `/api/jobs/${id}/logs?q=T`)
    expect(found.body.lines.map((l) => l.seq)).toEqual([2, 3])
    const literal = await call<{ lines: unknown[] }>(h, operator, 'GET', `/api/jobs/${id}/logs?q=t_o`)
    expect(literal.body.lines).toEqual([])
    const audit = await call<{ entries: AuditEntry[] }>(h, operator, 'GET', '/api/audit?limit=5')
    expect(audit.body.entries.map((e) => [e.command, e.actor, e.outcome])).toEqual([
      ['sampling.set', 'ops', 'accepted'],
    ])
    const config = await call<ConfigEvent>(h, operator, 'GET', '/api/config')
    expect([config.body.version, config.body.sampling.fastMs, config.body.changedBy]).toEqual([1, 30_000, 'ops'])

    // The event log is in PostgreSQL too: a resume from before the custom metric's event replays it
    const resumed = new Collector(`${h.url}/api/stream?topics=metrics`, ['metrics'], {
      authorization: `Bearer ${operator}`,
      'last-event-id': String(eventId - 1),
    })
    cleanup(() => resumed.close())
    await resumed.waitFor((e) => e.some((x) => Number(x.id) === eventId))
    expect(resumed.events[0]?.id).toBe(String(eventId))
  })

  it('keeps alert rules and channels in PostgreSQL across a restart, a replaced channel once, its URL never read back', async () => {
    const { hub, start } = await pgHub()
    const admin = (await hub.tokens.create('admin', 'root')).token
    const connect = async (h: Hub) => {
      const c = new ControlClient(`${h.url.replace('http', 'ws')}/api/control`, { authorization: `Bearer ${admin}` })
      cleanup(() => c.close())
      await c.opened()
      return c
    }
    const c = await connect(hub)
    const channel = { name: 'pager', kind: 'webhook', url: 'https://hooks.example.test/a-s3cr3t' }
    expect(await c.request({ id: 1, type: 'alert.channel.set', ...channel })).toMatchObject({ ok: true })
    expect(await c.request({ id: 2, type: 'alert.channel.set', ...channel, minSeverity: 'critical' })).toMatchObject({
      ok: true,
    })
    const rule = {
      name: 'disk',
      metric: 'fs.*.used_pct',
      op: '>',
      threshold: 90,
      severity: 'critical',
      channels: ['pager'],
    }
    expect(await c.request({ id: 3, type: 'alert.rule.set', rule })).toMatchObject({ ok: true })
    c.close()
    await hub.close()

    const h = await start()
    const rules = await call<{ rules: { rule: unknown; updatedBy: string }[] }>(h, admin, 'GET', '/api/alerts/rules')
    expect(rules.body.rules).toEqual([
      { rule: { ...rule, kind: 'metric' }, updatedAt: expect.any(Number), updatedBy: 'root' },
    ])
    const res = await fetch(`${h.url}/api/alerts/channels`, { headers: bearer(admin) })
    const text = await res.text()
    expect(text).not.toContain('s3cr3t')
    expect(JSON.parse(text)).toEqual({
      channels: [
        {
          name: 'pager',
          kind: 'webhook',
          urlHost: 'hooks.example.test',
          headers: [],
          minSeverity: 'critical',
          updatedAt: expect.any(Number),
          updatedBy: 'root',
        },
      ],
    })
    const again = await connect(h)
    expect(await again.request({ id: 4, type: 'alert.channel.delete', name: 'pager' })).toMatchObject({
      ok: false,
      error: { code: 'conflict' },
    })
  })

  it('takes an agent’s ticks, keeps its spool mark in PostgreSQL, shows its host online then offline, and knows the host after a restart', async () => {
    const { hub, start, url } = await pgHub()
    const viewer = (await hub.tokens.create('viewer', 'wall')).token
    const agentToken = (await hub.tokens.create('agent', 'edge')).token
    const spool = agents.spoolDir()
    const agent = agents.start(hub.url, agentToken, 'edge-pg', [], spool)
    const hostState = async (h: Hub) =>
      (await call<{ host: string; state: string }[]>(h, viewer, 'GET', '/api/hosts')).body.find(
        (e) => e.host === 'edge-pg',
      )?.state
    await expect.poll(() => hostState(hub), { timeout: 15_000 }).toBe('online')
    await expect
      .poll(
        async () =>
          (
            await call<SeriesResponse>(
              hub,
              viewer,
              'GET',
              `/api/series?metric=cpu.usage_pct&host=edge-pg&from=${Date.now() - 60_000}&points=10000`,
            )
          ).body.points?.length ?? 0,
        { timeout: 15_000 },
      )
      .toBeGreaterThanOrEqual(5)
    agent.child.kill('SIGKILL')
    await agent.exited
    await expect.poll(() => hostState(hub), { timeout: 15_000 }).toBe('offline')
    const stored = await withPgClient(url, async (c) => {
      const r = await c.query<{ stream: string; through: string }>('SELECT stream, through FROM ingest_cursors')
      return r.rows
    })
    expect(stored).toHaveLength(1)
    expect(stored[0]?.stream).toMatch(/^edge-pg\//)
    expect(Number(stored[0]?.through)).toBeGreaterThanOrEqual(5)
    await hub.close()
    const h = await start()
    expect(await hostState(h)).toBe('offline')
  })

  it('closes the stream of a token that vigil token revoke --database-url revoked, within a second', async () => {
    const { hub, url } = await pgHub()
    const viewer = (await hub.tokens.create('viewer', 'wall')).token
    const stream = await fetch(`${hub.url}/api/stream?topics=hosts`, { headers: bearer(viewer) })
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader()
    await reader.read()
    // The CLI runs while this process waits: the hub hears the revocation once the command has committed it
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'server/main.ts'), 'token', 'revoke', 'wall'],
      {
        env: { ...process.env, VIGIL_DATABASE_URL: url },
        encoding: 'utf8',
      },
    )
    expect([r.status, r.stdout]).toEqual([0, 'Revoked "wall"\n'])
    const revokedAt = Date.now()
    let done = false
    while (!done) done = (await reader.read()).done
    expect(Date.now() - revokedAt).toBeLessThan(1000)
    expect((await fetch(`${hub.url}/api/hosts`, { headers: bearer(viewer) })).status).toBe(401)
  })

  it('stops the start with a ConfigError naming Redis without its password when VIGIL_REDIS_URL cannot be reached', async () => {
    const url = await server.createDatabase()
    const dir = mkdtempSync(join(tmpdir(), 'vigil-pg-hub-'))
    cleanup(() => rmSync(dir, { recursive: true, force: true }))
    const port = await freePort()
    const started = startHub(
      loadConfig({
        VIGIL_PORT: '0',
        VIGIL_DATA_DIR: dir,
        VIGIL_DATABASE_URL: url,
        VIGIL_REDIS_URL: `redis://:s3cret-pw@127.0.0.1:${port}`,
        VIGIL_SAMPLE_MS: '60000',
      }),
      { log: silentLogger },
    )
    const err = (await started.then(
      () => null,
      (e: unknown) => e,
    )) as Error | null
    expect(err?.name).toBe('ConfigError')
    expect(err?.message).toMatch(new RegExp(`^Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}: .+`))
    expect(err?.message).not.toContain('s3cret-pw')
  })

  it('refuses custom metrics with 503 and reports degraded storage while PostgreSQL is down, queues the hub’s own ticks, and stores them once it is back', async () => {
    const { hub } = await pgHub({ VIGIL_SAMPLE_MS: '200' })
    const reporter = (await hub.tokens.create('reporter', 'ci')).token
    const viewer = (await hub.tokens.create('viewer', 'wall')).token
    await server.kill()
    try {
      const health = async () => (await (await fetch(`${hub.url}/api/health`)).json()) as HealthResponse
      // Its own ticks fail to be written, and queue: the same fault as a full disk
      await expect
        .poll(async () => (await health()).reasons.map((r) => r.component), { timeout: 15_000 })
        .toContain('storage')
      expect((await health()).status).toBe('degraded')
      const refused = await call<{ error: { code: string } }>(hub, reporter, 'POST', '/api/metrics', {
        samples: [{ name: 'app.down', value: 1 }],
      })
      expect([refused.status, refused.body.error.code]).toEqual([503, 'unavailable'])
      const downFrom = Date.now()
      await new Promise((r) => setTimeout(r, 2000))
      const downTo = Date.now()
      await server.start()
      await expect.poll(async () => (await health()).reasons, { timeout: 30_000 }).toEqual([])
      // Every tick the sampler took while the database was down was queued, then stored in order
      const points = await call<SeriesResponse>(
        hub,
        viewer,
        'GET',
        `/api/series?metric=cpu.usage_pct&host=hub-host&from=${downFrom}&to=${downTo}&points=10000`,
      )
      expect(points.status).toBe(200)
      // 200 ms ticks for 2 s: about 10, some taken while the kill was still being noticed
      expect(points.body.points.length).toBeGreaterThanOrEqual(8)
    } finally {
      if (server.pid === null) await server.start()
    }
  })
})
