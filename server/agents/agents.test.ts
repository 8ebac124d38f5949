import { describe, expect, it } from 'vitest'
import type { AuditEntry, FleetEvent, FleetResponse, HostEntry, SeriesResponse } from '../protocol/index.ts'
import { ControlClient } from '../testing/control.ts'
import { Collector, sleep, useTestHubs } from '../testing/hub.ts'
import { SimAgent, simTick } from '../testing/sim-agent.ts'

const hubs = useTestHubs()
const agentUrl = (url: string) => `${url.replace('http', 'ws')}/api/agent`
const named = (host: string, machine = `machine-${host}`) => ({
  'x-vigil-host': host,
  'x-vigil-machine-id': machine,
})

async function auditOf(url: string, admin: string): Promise<AuditEntry[]> {
  const res = await fetch(`${url}/api/audit?limit=100`, { headers: { authorization: `Bearer ${admin}` } })
  return ((await res.json()) as { entries: AuditEntry[] }).entries
}

async function hostOf(url: string, host: string): Promise<HostEntry | undefined> {
  return ((await (await fetch(`${url}/api/hosts`)).json()) as HostEntry[]).find((h) => h.host === host)
}

describe('the agent channel', () => {
  it('answers no token with 401, viewer and reporter tokens with 403, and an agent token speaking for a second host with 403, audited', async () => {
    const t = await hubs.start({ VIGIL_SAMPLE_MS: '60000' })
    const { url, tokens } = { url: t.hub.url, tokens: t.hub.tokens }
    const admin = (await tokens.create('admin', 'root')).token
    const agentToken = (await tokens.create('agent', 'edge')).token
    expect(await ControlClient.refusal(agentUrl(url), named('edge-1'))).toBe(401)
    for (const role of ['viewer', 'reporter', 'operator'] as const) {
      const token = (await tokens.create(role)).token
      expect([
        role,
        await ControlClient.refusal(agentUrl(url), { authorization: `Bearer ${token}`, ...named('edge-1') }),
      ]).toEqual([role, 403])
    }
    const first = new SimAgent({ url, token: agentToken, host: 'edge-1' })
    expect((await first.hello()).host).toBe('edge-1')
    const other = { authorization: `Bearer ${agentToken}`, ...named('edge-2') }
    expect(await ControlClient.refusal(agentUrl(url), other)).toBe(403)
    first.close()
    await first.closed
    // Still bound once the first connection is gone
    expect(await ControlClient.refusal(agentUrl(url), other)).toBe(403)

    const refused = (await auditOf(url, admin)).filter((e) => e.command === 'agent.connect' && e.outcome === 'refused')
    expect(refused.map((e) => [e.actor, e.errorCode, (e.args as { host?: string }).host])).toEqual([
      ['edge', 'forbidden', 'edge-2'],
      ['edge', 'forbidden', 'edge-2'],
      [expect.stringMatching(/^operator-/), 'forbidden', undefined],
      [expect.stringMatching(/^reporter-/), 'forbidden', undefined],
      [expect.stringMatching(/^viewer-/), 'forbidden', undefined],
    ])
  })

  it('refuses a second machine claiming an online host with 409, lets the same machine take over, and frees the name once it is offline', async () => {
    const t = await hubs.start({ VIGIL_SAMPLE_MS: '60000' })
    const url = t.hub.url
    const token = (await t.hub.tokens.create('agent', 'db')).token
    const one = new SimAgent({ url, token, host: 'db-1', machineId: 'aaaa1111' })
    await one.hello()
    const elsewhere = { authorization: `Bearer ${token}`, ...named('db-1', 'bbbb2222') }
    expect(await ControlClient.refusal(agentUrl(url), elsewhere)).toBe(409)

    const again = new SimAgent({ url, token, host: 'db-1', machineId: 'aaaa1111' })
    await again.hello()
    expect(await one.closed).toEqual({ code: 4001, reason: 'replaced by a new connection from the same machine' })
    expect((await hostOf(url, 'db-1'))?.state).toBe('online')

    again.close()
    await again.closed
    await expect.poll(async () => (await hostOf(url, 'db-1'))?.state).toBe('offline')
    const moved = new SimAgent({ url, token, host: 'db-1', machineId: 'bbbb2222' })
    await moved.hello()
    expect((await hostOf(url, 'db-1'))?.state).toBe('online')
    moved.close()
  })

  it('refuses a token as the hub’s own host with 409, and a bad host name or machine id with 400', async () => {
    const t = await hubs.start({ VIGIL_SAMPLE_MS: '60000', VIGIL_HOSTNAME: 'the-hub' })
    const auth = { authorization: `Bearer ${(await t.hub.tokens.create('agent')).token}` }
    expect(await ControlClient.refusal(agentUrl(t.hub.url), { ...auth, ...named('the-hub') })).toBe(409)
    expect(await ControlClient.refusal(agentUrl(t.hub.url), { ...auth, ...named('bad host!') })).toBe(400)
    expect(await ControlClient.refusal(agentUrl(t.hub.url), { ...auth, ...named('ok-host', 'x y') })).toBe(400)
  })

  it('acknowledges ticks once committed with the contiguous mark, and stores a replayed tick only once', async () => {
    const t = await hubs.start({ VIGIL_SAMPLE_MS: '60000' })
    const url = t.hub.url
    const a = new SimAgent({ url, token: (await t.hub.tokens.create('agent')).token, host: 'web-1' })
    expect((await a.hello()).through).toBe(0)
    const t0 = Math.floor(Date.now() / 1000) * 1000 - 10_000
    a.ticks([1, 2, 3].map((s) => simTick(s, t0 + s * 1000)))
    expect(await a.next('ack', 0)).toEqual({ type: 'ack', from: 1, to: 3, through: 3 })
    // A live tick above a hole: stored, but the mark waits for the hole
    let n = a.received.length
    a.ticks([simTick(6, t0 + 6000)])
    expect(await a.next('ack', n)).toEqual({ type: 'ack', from: 6, to: 6, through: 3 })
    n = a.received.length
    a.ticks(
      [2, 3, 4, 5].map((s) => simTick(s, t0 + s * 1000, 99)),
      false,
    )
    expect(await a.next('ack', n)).toEqual({ type: 'ack', from: 2, to: 5, through: 6 })

    const q = `${url}/api/series?metric=cpu.usage_pct&host=web-1&from=${t0}&to=${t0 + 7000}&points=10000`
    const series = (await (await fetch(q)).json()) as SeriesResponse
    // Ticks 2 and 3 came twice: stored once, with their first values (the replay's were skipped as duplicates)
    expect(series.points.map((p) => [p[0], p[1]])).toEqual(
      [1, 2, 3, 4, 5, 6].map((s) => [t0 + s * 1000, s === 4 || s === 5 ? 99 : 10 + (s % 7)]),
    )
    a.close()
    await a.closed
    // A new connection of the same spool starts from the stored mark
    const b = new SimAgent({ url, token: a.opts.token, host: 'web-1' })
    expect((await b.hello()).through).toBe(6)
    b.close()
  })

  it('answers a malformed message with an error and keeps the socket; invalid ticks are refused by number and recorded as a gap', async () => {
    const t = await hubs.start({ VIGIL_SAMPLE_MS: '60000' })
    const a = new SimAgent({ url: t.hub.url, token: (await t.hub.tokens.create('agent')).token, host: 'odd-1' })
    await a.hello()
    a.send('not json')
    expect(await a.next('error', 0)).toEqual({
      type: 'error',
      code: 'bad_json',
      message: 'Messages are JSON text frames',
      ref: null,
    })
    a.send({ type: 'status' } as never)
    expect(await a.next('error', a.received.length - 0)).toMatchObject({ code: 'invalid', ref: 'status' })
    const ts = Date.now() - 5000
    a.send(
      JSON.stringify({
        type: 'ticks',
        live: true,
        ticks: [{ seq: 1, ts, intervalMs: 1000, values: { 'Bad Name': 1 } }],
      }),
    )
    expect(await a.next('nack', 0)).toMatchObject({ from: 1, to: 1, code: 'invalid', through: 1, retryMs: 0 })
    await expect
      .poll(async () => (await hostOf(t.hub.url, 'odd-1'))?.gaps)
      .toEqual([{ from: ts, to: ts, ticks: 1, reportedAt: expect.any(Number) }])
    const n = a.received.length
    a.ticks([simTick(2, ts + 1000)])
    expect(await a.next('ack', n)).toEqual({ type: 'ack', from: 2, to: 2, through: 2 })
    a.close()
  })

  it('closes the socket of a revoked agent token with 1008', async () => {
    const t = await hubs.start({ VIGIL_SAMPLE_MS: '60000' })
    const a = new SimAgent({
      url: t.hub.url,
      token: (await t.hub.tokens.create('agent', 'gone')).token,
      host: 'gone-1',
    })
    await a.hello()
    // Revoked by another process, as `vigil token revoke` does: the hub notices within half a second
    const other = (await import('../store/index.ts')).openDb(t.dir)
    other.sqlite.prepare("update tokens set revoked_at = ? where name = 'gone'").run(Date.now())
    other.sqlite.close()
    expect((await a.closed).code).toBe(1008)
  })

  it('sums a host’s network rates for the overview, leaving its byte counters out', async () => {
    const t = await hubs.start({ VIGIL_SAMPLE_MS: '60000' })
    const url = t.hub.url
    const a = new SimAgent({ url, token: (await t.hub.tokens.create('agent')).token, host: 'edge-net' })
    await a.hello()
    const values = {
      'net.eth0.rx_bytes_per_s': 1000,
      'net.eth0.tx_bytes_per_s': 24,
      'net.eth0.rx_bytes_total': 5_000_000_000,
      'net.eth0.tx_bytes_total': 700_000_000,
    }
    a.ticks([{ ...simTick(1, Date.now()), values }])
    await a.next('ack')
    const overview = async () =>
      ((await (await fetch(`${url}/api/fleet`)).json()) as FleetResponse).hosts.find((h) => h.host === 'edge-net')
    await expect.poll(async () => (await overview())?.netBytesPerS).toBe(1024)
    a.close()
  })

  it('sends at most one fleet event a second, in all, while 50 simulated hosts tick ten times a second', async () => {
    const t = await hubs.start({ VIGIL_SAMPLE_MS: '60000' })
    const url = t.hub.url
    const sims: SimAgent[] = []
    for (let i = 0; i < 50; i++) {
      sims.push(new SimAgent({ url, token: (await t.hub.tokens.create('agent')).token, host: `sim-${i}` }))
    }
    await Promise.all(sims.map((a) => a.hello()))
    const fleet = new Collector(`${url}/api/stream?topics=fleet`, ['fleet'])
    try {
      await fleet.waitFor((e) => e.length >= 1)
      const start = Date.now()
      let seq = 0
      while (Date.now() - start < 5000) {
        seq++
        const ts = Date.now()
        for (const a of sims) a.ticks([{ ...simTick(seq, ts), values: { 'cpu.usage_pct': seq % 100, 'load.1m': 1 } }])
        await sleep(100)
      }
      await sleep(1200)
      const elapsed = Date.now() - start
      const live = fleet.events.filter((e) => e.id !== '')
      // The stream opens with a snapshot of every host (no id), then the changes
      expect(fleet.events[0]?.id).toBe('')
      expect((fleet.events[0]?.data as FleetEvent | undefined)?.hosts.length).toBe(51)
      expect(live.length).toBeGreaterThanOrEqual(4)
      expect(live.length).toBeLessThanOrEqual(Math.ceil(elapsed / 1000) + 1)
      const seen = new Set(live.flatMap((e) => (e.data as FleetEvent).hosts.map((h) => h.host)))
      expect(sims.every((a) => seen.has(a.opts.host))).toBe(true)
      const overview = (await (await fetch(`${url}/api/fleet`)).json()) as FleetResponse
      const one = overview.hosts.find((h) => h.host === 'sim-7')
      expect(one).toMatchObject({ state: 'online', local: false, load1: 1, agentVersion: 'sim-1' })
      expect(one?.spark.cpuPct.filter((v) => v !== null).length).toBeGreaterThanOrEqual(1)
    } finally {
      fleet.close()
      for (const a of sims) a.close()
    }
  })
})
