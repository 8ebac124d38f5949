import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { ConfigEvent, HostEntry, MetricsEvent, Reply, SamplingResult, SeriesResponse } from '../protocol/index.ts'
import { useAgentProcesses } from '../testing/agents.ts'
import { ControlClient } from '../testing/control.ts'
import { Collector, sleep, useTestHubs } from '../testing/hub.ts'
import { Spool } from './spool.ts'

const hubs = useTestHubs()
const agentProcesses = useAgentProcesses()
const spoolDir = agentProcesses.spoolDir

const agent = agentProcesses.start

/**
 * The median gap between a host's fast ticks among `events` after `since`, to the 100 ms: ticks are stamped on
 * their interval's grid, but one that ran late (a loaded machine) keeps its own time.
 */
function cadence(events: Collector['events'], host: string, since: number): number {
  const ts = events
    .map((e) => e.data as MetricsEvent)
    .filter((m) => m.host === host && m.ts >= since && 'cpu.usage_pct' in m.values)
    .map((m) => m.ts)
  const gaps = ts
    .slice(1)
    .map((t, i) => t - (ts[i] as number))
    .sort((a, b) => a - b)
  return Math.round((gaps[Math.floor(gaps.length / 2)] ?? Number.NaN) / 100) * 100
}

const ok = (r: Reply) => ('ok' in r && r.ok ? (r.result as SamplingResult) : null)

describe('commands that reach agents', () => {
  it('acknowledges sampling.set for a host once its agent applied it, and only that host changes cadence', async () => {
    const t = await hubs.start({ VIGIL_SAMPLE_MS: '1000' })
    const url = t.hub.url
    const a = agent(url, (await t.hub.tokens.create('agent', 'ag-a')).token, 'edge-a')
    const b = agent(url, (await t.hub.tokens.create('agent', 'ag-b')).token, 'edge-b')
    await Promise.all([a.connected(), b.connected()])
    const live = new Collector(`${url}/api/stream?topics=metrics,config`, ['metrics', 'config'])
    const operator = new ControlClient(`${url.replace('http', 'ws')}/api/control`, {
      authorization: `Bearer ${(await t.hub.tokens.create('operator', 'ops')).token}`,
    })
    try {
      await operator.opened()
      const reply = await operator.request({ id: 1, type: 'sampling.set', host: 'edge-a', intervalMs: 200 })
      const result = ok(reply)
      expect(result).toMatchObject({ host: 'edge-a', applied: true, sampling: { fastMs: 200, slowMs: 10_000 } })
      const since = Date.now()
      await live.waitFor(
        (e) =>
          e.filter((x) => (x.data as MetricsEvent).host === 'edge-b' && (x.data as MetricsEvent).ts >= since).length >=
          4,
        20_000,
      )
      expect(cadence(live.events, 'edge-a', since)).toBe(200)
      expect(cadence(live.events, 'edge-b', since)).toBe(1000)
      const config = live.events.find((e) => e.type === 'config')?.data as ConfigEvent
      expect(config).toMatchObject({ host: 'edge-a', sampling: { fastMs: 200 }, changedBy: 'ops' })
      expect((await (await fetch(`${url}/api/config?host=edge-a`)).json()) as ConfigEvent).toMatchObject({
        host: 'edge-a',
        sampling: { fastMs: 200 },
      })
      const unknown = await operator.request({ id: 2, type: 'sampling.set', host: 'nowhere', intervalMs: 500 })
      expect(unknown).toMatchObject({ ok: false, error: { code: 'not_found', message: 'No host nowhere' } })
    } finally {
      live.close()
      operator.close()
    }
  }, 60_000)

  it('answers applied: false for an offline host, applies the setting when its agent reconnects, and reverts it after ttlMs', async () => {
    const t = await hubs.start({ VIGIL_SAMPLE_MS: '1000', VIGIL_AGENT_HEARTBEAT_MS: '500' })
    const url = t.hub.url
    const token = (await t.hub.tokens.create('agent', 'ag-c')).token
    const spool = spoolDir()
    const first = agent(url, token, 'edge-c', [], spool)
    await first.connected()
    first.child.kill('SIGTERM')
    await first.exited
    const state = async () =>
      ((await (await fetch(`${url}/api/hosts`)).json()) as HostEntry[]).find((h) => h.host === 'edge-c')?.state
    await expect.poll(state).toBe('offline')

    const admin = (await t.hub.tokens.create('admin', 'boss')).token
    const operator = new ControlClient(`${url.replace('http', 'ws')}/api/control`, { authorization: `Bearer ${admin}` })
    const live = new Collector(`${url}/api/stream?topics=metrics:edge-c,config`, ['metrics', 'config'])
    try {
      await operator.opened()
      const set = ok(await operator.request({ id: 1, type: 'sampling.set', host: 'edge-c', intervalMs: 500 }))
      expect(set).toMatchObject({ host: 'edge-c', applied: false, sampling: { fastMs: 500 } })
      agent(url, token, 'edge-c', [], spool)
      await expect.poll(state, { timeout: 30_000 }).toBe('online')
      const since = Date.now()
      await live.waitFor(
        (e) => e.filter((x) => x.type === 'metrics' && (x.data as MetricsEvent).ts >= since).length >= 6,
        20_000,
      )
      expect(cadence(live.events, 'edge-c', since)).toBe(500)

      // A timed change goes back to the last untimed one, 500 ms, when it runs out
      const timed = ok(
        await operator.request({ id: 2, type: 'sampling.set', host: 'edge-c', intervalMs: 200, ttlMs: 2000 }),
      )
      expect(timed).toMatchObject({ applied: true, sampling: { fastMs: 200 }, revertsAt: expect.any(Number) })
      await live.waitFor(
        (e) => e.some((x) => x.type === 'config' && (x.data as ConfigEvent).changedBy === 'system'),
        20_000,
      )
      const reverted = Date.now()
      await live.waitFor(
        (e) => e.filter((x) => x.type === 'metrics' && (x.data as MetricsEvent).ts >= reverted).length >= 5,
        20_000,
      )
      expect(cadence(live.events, 'edge-c', reverted)).toBe(500)

      const audit = (await (
        await fetch(`${url}/api/audit?limit=20`, { headers: { authorization: `Bearer ${admin}` } })
      ).json()) as { entries: { command: string; args: { host?: string } }[] }
      expect(
        audit.entries.filter((e) => e.command.startsWith('sampling.')).map((e) => [e.command, e.args.host]),
      ).toEqual([
        ['sampling.revert', 'edge-c'],
        ['sampling.set', 'edge-c'],
        ['sampling.set', 'edge-c'],
      ])
    } finally {
      live.close()
      operator.close()
    }
  }, 90_000)

  it('reverts a timed change of an agent host when it runs out, also when the hub restarted meanwhile', async () => {
    const t = await hubs.start({ VIGIL_SAMPLE_MS: '1000' })
    const port = String(t.hub.port)
    const a = agent(t.hub.url, (await t.hub.tokens.create('agent', 'ag-r')).token, 'edge-r')
    await a.connected()
    const operator = new ControlClient(`${t.hub.url.replace('http', 'ws')}/api/control`, {
      authorization: `Bearer ${(await t.hub.tokens.create('operator', 'ops-r')).token}`,
    })
    await operator.opened()
    const timed = ok(
      await operator.request({ id: 1, type: 'sampling.set', host: 'edge-r', intervalMs: 300, ttlMs: 6000 }),
    )
    expect(timed).toMatchObject({ applied: true, sampling: { fastMs: 300 } })
    operator.close()
    await t.restart({ VIGIL_PORT: port })
    await a.connected(2)
    const live = new Collector(`${t.hub.url}/api/stream?topics=metrics:edge-r,config`, ['metrics', 'config'])
    try {
      await live.waitFor(
        (e) => e.some((x) => x.type === 'config' && (x.data as ConfigEvent).changedBy === 'system'),
        30_000,
      )
      const reverted = live.events.find((x) => x.type === 'config')?.data as ConfigEvent
      expect(reverted).toMatchObject({ host: 'edge-r', sampling: { fastMs: 1000 }, changedBy: 'system' })
      const since = Date.now()
      await live.waitFor(
        (e) => e.filter((x) => x.type === 'metrics' && (x.data as MetricsEvent).ts >= since).length >= 4,
        20_000,
      )
      expect(cadence(live.events, 'edge-r', since)).toBe(1000)
    } finally {
      live.close()
    }
  }, 90_000)

  it('reports to a wss:// hub with a self-signed certificate trusted through --hub-ca', async () => {
    const t = await hubs.start({ VIGIL_SAMPLE_MS: '1000', VIGIL_SELF_SIGNED: 'true' })
    expect(t.hub.url).toMatch(/^https:/)
    const ca = join(t.dir, 'tls', 'self-signed.crt')
    const a = agent(t.hub.url, (await t.hub.tokens.create('agent')).token, 'edge-tls', ['--hub-ca', ca])
    await a.connected()
    expect(a.stderr()).toContain('wss://127.0.0.1:')
    // Without the CA the certificate is refused and the agent keeps trying
    const untrusted = agent(t.hub.url, (await t.hub.tokens.create('agent')).token, 'edge-untrusted')
    await sleep(2000)
    expect(untrusted.stderr()).toMatch(/self[- ]signed certificate/)
    expect(untrusted.stderr()).not.toContain('connected to the hub')
    expect(readFileSync(ca, 'utf8')).toContain('BEGIN CERTIFICATE')
  }, 60_000)

  it('takes spooled ticks three hours old into closed hours through a replay, with 1-minute rollups equal to a brute-force computation', async () => {
    const t = await hubs.start({ VIGIL_SAMPLE_MS: '60000' })
    const dir = spoolDir()
    const hour = Math.floor((Date.now() - 3 * 3_600_000) / 3_600_000) * 3_600_000
    const spool = new Spool(dir, { maxBytes: 64 * 2 ** 20, maxAgeMs: 86_400_000 })
    const values: { ts: number; v: number }[] = []
    for (let i = 0; i < 3600; i += 2) {
      const v = Math.round(Math.abs(Math.sin(i / 40)) * 10_000) / 100
      values.push({ ts: hour + i * 1000, v })
      spool.append({ ts: hour + i * 1000, intervalMs: 2000, values: { 'cpu.usage_pct': v } }, Date.now())
    }
    spool.close()
    const a = agent(t.hub.url, (await t.hub.tokens.create('agent')).token, 'edge-old', [], dir)
    await a.connected()
    const host = async () =>
      ((await (await fetch(`${t.hub.url}/api/hosts`)).json()) as HostEntry[]).find((h) => h.host === 'edge-old')
    await expect.poll(async () => (await host())?.backfill?.ticks, { timeout: 30_000 }).toBeGreaterThanOrEqual(1800)
    expect((await host())?.backfill?.from).toBe(hour)
    const q = `${t.hub.url}/api/series?metric=cpu.usage_pct&host=edge-old&from=${hour}&to=${hour + 3_599_999}&points=60`
    const r = (await (await fetch(q)).json()) as SeriesResponse
    expect([r.tier, r.points.length]).toEqual(['1m', 60])
    r.points.forEach(([ts, avg, min, max], k) => {
      const bucket = values.filter((s) => s.ts >= hour + k * 60_000 && s.ts < hour + (k + 1) * 60_000).map((s) => s.v)
      expect([ts, min, max]).toEqual([hour + k * 60_000, Math.min(...bucket), Math.max(...bucket)])
      expect(Math.abs(avg - bucket.reduce((x, y) => x + y, 0) / bucket.length)).toBeLessThan(1e-9)
    })
  }, 60_000)
})
