import { describe, expect, it } from 'vitest'
import { hashSecret } from '../auth/index.ts'
import type { HostEntry, MetricsEvent, SeriesResponse } from '../protocol/index.ts'
import { openSqliteStore } from '../store/index.ts'
import { holes, useAgentProcesses } from '../testing/agents.ts'
import { useChildHubs } from '../testing/child.ts'
import { Collector, sleep, sqliteOf, useTestHubs } from '../testing/hub.ts'

const hubs = useTestHubs()
const childHubs = useChildHubs()
const agentProcesses = useAgentProcesses()
const spoolDir = agentProcesses.spoolDir

const agent = agentProcesses.start

async function hostsOf(url: string): Promise<HostEntry[]> {
  return (await (await fetch(`${url}/api/hosts`)).json()) as HostEntry[]
}

/** Every stored raw tick of a host's CPU in [from, to], by time: one point per tick at this resolution. */
async function tickTimes(url: string, host: string, from: number, to: number): Promise<number[]> {
  const q = `${url}/api/series?metric=cpu.usage_pct&host=${host}&from=${from}&to=${to}&points=10000`
  const r = (await (await fetch(q)).json()) as SeriesResponse
  expect(r.stepMs).toBeLessThan(500)
  return r.points.map((p) => p[0])
}

/** A hub as a child process with an agent token made in its data dir, restartable on the same port. */
async function childHub(tokens: string[]) {
  const { dir, token } = await childHubs.dataDir('admin', 'root')
  const made = await Promise.all(tokens.map((name) => childHubs.tokenIn(dir, 'agent', name)))
  const args = ['--data-dir', dir, '--sample-ms', '1000', '--agent-heartbeat-ms', '1000']
  const first = await childHubs.start([...args, '--port', '0'])
  const port = new URL(first.url).port
  return {
    url: first.url,
    admin: token,
    tokens: made,
    process: first,
    async kill() {
      this.process.child.kill('SIGKILL')
      await this.process.exited
    },
    async restart() {
      this.process = await childHubs.start([...args, '--port', port])
    },
  }
}

describe('a fleet of agents', () => {
  it('shows two agents with different host names online, and streams each host’s metrics under its own name', async () => {
    const t = await hubs.start({ VIGIL_SAMPLE_MS: '1000', VIGIL_HOSTNAME: 'hub-1' })
    const url = t.hub.url
    const a = agent(url, (await t.hub.tokens.create('agent', 'edge-a')).token, 'edge-a')
    const b = agent(url, (await t.hub.tokens.create('agent', 'edge-b')).token, 'edge-b')
    await Promise.all([a.connected(), b.connected()])

    const all = new Collector(`${url}/api/stream?topics=metrics`, ['metrics'])
    const onlyA = new Collector(`${url}/api/stream?topics=metrics:edge-a`, ['metrics'])
    try {
      const hostsIn = (c: Collector) => new Set(c.events.map((e) => (e.data as MetricsEvent).host))
      await all.waitFor(() => ['edge-a', 'edge-b', 'hub-1'].every((h) => hostsIn(all).has(h)), 20_000)
      await onlyA.waitFor((e) => e.length >= 3, 20_000)
      expect([...hostsIn(onlyA)]).toEqual(['edge-a'])
      // A fast-group tick (a slow one carries filesystems and temperatures instead)
      const fromA = all.events
        .map((e) => e.data as MetricsEvent)
        .find((m) => m.host === 'edge-a' && 'cpu.usage_pct' in m.values) as MetricsEvent
      expect(fromA.values['cpu.usage_pct']).toBeTypeOf('number')
      expect(fromA.intervalMs).toBe(1000)

      const hosts = await hostsOf(url)
      expect(hosts.map((h) => [h.host, h.state, h.local, h.agentVersion])).toEqual([
        ['edge-a', 'online', false, '0.1.0'],
        ['edge-b', 'online', false, '0.1.0'],
        ['hub-1', 'online', true, null],
      ])
      const edgeA = hosts[0] as HostEntry
      expect(edgeA.info?.cores).toBeGreaterThan(0)
      expect(Math.abs(edgeA.clockSkewMs ?? Number.NaN)).toBeLessThan(2000)
      expect(edgeA.spool).toMatchObject({ droppedTicks: 0 })
      // Its slow tick's device names, sent as a devices message, for /metrics' labels
      await expect
        .poll(async () => (await hostsOf(url)).find((h) => h.host === 'edge-a')?.devices?.mounts.includes('/'), {
          timeout: 20_000,
        })
        .toBe(true)
    } finally {
      all.close()
      onlyA.close()
    }
  })

  it('keeps every 1 s tick of each agent host exactly once across a kill -9 of the hub and 20 s down', async () => {
    const hub = await childHub(['edge-a', 'edge-b'])
    const [ta, tb] = hub.tokens as [string, string]
    const a = agent(hub.url, ta, 'edge-a')
    const b = agent(hub.url, tb, 'edge-b')
    await Promise.all([a.connected(), b.connected()])
    await sleep(3000)
    const killedAt = Date.now()
    await hub.kill()
    await sleep(20_000)
    await hub.restart()
    const backAt = Date.now()
    await Promise.all([a.connected(2), b.connected(2)])
    // Both replays have finished once each host's entry says which span it filled
    await expect
      .poll(async () => (await hostsOf(hub.url)).filter((h) => (h.backfill?.at ?? 0) >= backAt).length, {
        timeout: 30_000,
      })
      .toBe(2)
    await sleep(2000)
    const until = Date.now() - 1000
    for (const host of ['edge-a', 'edge-b']) {
      const times = await tickTimes(hub.url, host, killedAt - 3000, until)
      expect([host, holes(times)]).toEqual([host, []])
      // The outage is covered tick by tick: about 20 s worth and more
      expect(times.filter((t) => t > killedAt && t < backAt).length).toBeGreaterThanOrEqual(19)
      const entry = (await hostsOf(hub.url)).find((h) => h.host === host)
      expect(entry?.backfill?.from).toBeLessThanOrEqual(killedAt + 1000)
      expect(entry?.backfill?.to).toBeGreaterThanOrEqual(backAt - 2000)
    }
  }, 120_000)

  it('moves to the next hub of its --hub list when its hub goes away, and replays there every tick the first had not stored', async () => {
    const env = { VIGIL_SAMPLE_MS: '60000', VIGIL_AGENT_HEARTBEAT_MS: '1000' }
    const a = await hubs.start({ ...env, VIGIL_HOSTNAME: 'hub-a' })
    const b = await hubs.start({ ...env, VIGIL_HOSTNAME: 'hub-b' })
    const { token } = await a.hub.tokens.create('agent', 'edge-m')
    // The same token on B, as hubs sharing one database have it
    sqliteOf(b.hub)
      .prepare('INSERT INTO tokens (name, role, hash, created_at) VALUES (?, ?, ?, ?)')
      .run('edge-m', 'agent', hashSecret(token), Date.now())
    const edge = agent(`${a.hub.url},${b.hub.url}`, token, 'edge-m')
    await edge.connected()
    expect((await hostsOf(a.hub.url)).find((h) => h.host === 'edge-m')?.state).toBe('online')
    const start = Date.now()
    await sleep(3000)
    await a.hub.close()
    await edge.connected(2)
    await expect.poll(async () => (await hostsOf(b.hub.url)).find((h) => h.host === 'edge-m')?.state).toBe('online')
    await sleep(3000)
    const until = Date.now() - 1000

    // What A stored, read from its data dir now that it is closed, and what B stored: together, every tick
    const atA = openSqliteStore({
      dataDir: a.dir,
      retentionMs: { raw: 3_600_000, '1m': 3_600_000, '1h': 3_600_000 },
      replayMs: 900_000,
    })
    const fromA = (await atA.range('cpu.usage_pct', 'edge-m', start, until, 10_000)).points.map((p) => p[0])
    await atA.close()
    const fromB = await tickTimes(b.hub.url, 'edge-m', start, until)
    expect(fromA.length).toBeGreaterThanOrEqual(2)
    expect(fromB.length).toBeGreaterThanOrEqual(2)
    const all = [...new Set([...fromA, ...fromB])].sort((x, y) => x - y)
    expect(holes(all)).toEqual([])
    expect(all[0]).toBeLessThan(start + 1500)
    expect(all.at(-1)).toBeGreaterThan(until - 1500)
  }, 60_000)

  it('replays its spool after a kill -9 of the agent while the hub was down, with nothing lost or doubled', async () => {
    const hub = await childHub(['edge-k'])
    const spool = spoolDir()
    const first = agent(hub.url, hub.tokens[0] as string, 'edge-k', [], spool)
    await first.connected()
    await sleep(2000)
    const hubDownAt = Date.now()
    await hub.kill()
    await sleep(5000)
    first.child.kill('SIGKILL')
    await first.exited
    const agentDownAt = Date.now()
    await sleep(2000)
    const second = agent(hub.url, hub.tokens[0] as string, 'edge-k', [], spool)
    await sleep(4000)
    await hub.restart()
    await second.connected()
    await expect
      .poll(async () => (await hostsOf(hub.url)).find((h) => h.host === 'edge-k')?.spool?.ticks, { timeout: 30_000 })
      .toBe(0)
    const times = await tickTimes(hub.url, 'edge-k', hubDownAt - 2000, Date.now() - 1000)
    // One hole only: while the agent itself was dead, when its host was not sampled at all
    const gaps = holes(times)
    expect(gaps).toHaveLength(1)
    const [before, after] = gaps[0] as [number, number]
    expect(before).toBeGreaterThan(agentDownAt - 2000)
    expect(before).toBeLessThanOrEqual(agentDownAt)
    expect(after).toBeGreaterThan(agentDownAt)
    expect(times.filter((t) => t > hubDownAt && t < agentDownAt).length).toBeGreaterThanOrEqual(4)
    expect(new Set(times).size).toBe(times.length)
  }, 120_000)

  it('marks a stopped agent (SIGSTOP) offline within two heartbeats, and online again after SIGCONT', async () => {
    const t = await hubs.start({ VIGIL_SAMPLE_MS: '1000', VIGIL_AGENT_HEARTBEAT_MS: '1000' })
    const a = agent(t.hub.url, (await t.hub.tokens.create('agent')).token, 'edge-s')
    await a.connected()
    const state = async () => (await hostsOf(t.hub.url)).find((h) => h.host === 'edge-s')?.state
    expect(await state()).toBe('online')
    a.child.kill('SIGSTOP')
    const stoppedAt = Date.now()
    await expect.poll(state, { timeout: 20_000, interval: 100 }).toBe('offline')
    console.log(`agent stopped: offline after ${Date.now() - stoppedAt} ms with a 1000 ms heartbeat`)
    a.child.kill('SIGCONT')
    await expect.poll(state, { timeout: 60_000, interval: 200 }).toBe('online')
  }, 90_000)

  it('drops the oldest ticks of a spool made tiny while the hub is away, and reports the gap with its span and count', async () => {
    const t = await hubs.start({ VIGIL_SAMPLE_MS: '1000' })
    const port = String(t.hub.port)
    const token = (await t.hub.tokens.create('agent')).token
    const a = agent(t.hub.url, token, 'edge-t', ['--spool-max-bytes', '3000', '--slow-sample-ms', '600000'])
    await a.connected()
    // Two live ticks at least, so one was acknowledged long before the hub goes: the tick just before `downAt`
    // may still be in flight when it closes, and then it is spooled, and dropped as the oldest
    await sleep(2500)
    const downAt = Date.now()
    await t.hub.close()
    await sleep(10_000)
    await t.restart({ VIGIL_PORT: port })
    await a.connected(2)
    const backAt = Date.now()
    const entry = async () => (await hostsOf(t.hub.url)).find((h) => h.host === 'edge-t')
    await expect.poll(async () => (await entry())?.gaps.length, { timeout: 30_000 }).toBe(1)
    const e = (await entry()) as HostEntry
    const gap = e.gaps[0] as HostEntry['gaps'][number]
    expect(gap.ticks).toBeGreaterThanOrEqual(3)
    expect(gap.ticks).toBe(e.spool?.droppedTicks)
    expect(gap.from).toBeGreaterThanOrEqual(downAt - 1000)
    expect(gap.to).toBeLessThan(backAt)
    // Tick times strictly rise, but not always a cadence apart: a tick that fired late on a busy machine keeps
    // its own time, and the next one may follow 1 ms after it
    expect(gap.to - gap.from).toBeGreaterThanOrEqual(gap.ticks - 1)
    // About five ticks fit in 3000 bytes: the rest of the ten seconds went
    expect(e.spool?.bytes).toBeLessThanOrEqual(3000)
    // History has exactly that hole: nothing stored inside the gap, ticks on both sides of it
    await sleep(1500)
    const times = await tickTimes(t.hub.url, 'edge-t', downAt - 3000, Date.now() - 1000)
    expect(times.filter((ts) => ts >= gap.from && ts <= gap.to)).toEqual([])
    expect(times.some((ts) => ts < gap.from)).toBe(true)
    expect(times.some((ts) => ts > gap.to)).toBe(true)
  }, 90_000)
})
