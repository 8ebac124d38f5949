import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { HostEntry, MetricsEvent } from '../protocol/index.ts'
import { Collector, useTestHubs } from '../testing/hub.ts'
import { type AgentProcess, spawnAgent } from '../testing/process.ts'

const hubs = useTestHubs()
const agents: AgentProcess[] = []
const dirs: string[] = []
afterEach(async () => {
  for (const a of agents.splice(0)) {
    a.child.kill('SIGKILL')
    await a.exited
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function agent(url: string, token: string, hostname: string, extra: string[] = []): AgentProcess {
  const spool = mkdtempSync(join(tmpdir(), 'vigil-spool-'))
  dirs.push(spool)
  const a = spawnAgent(['--hub', url, '--hostname', hostname, '--spool-dir', spool, ...extra], { VIGIL_TOKEN: token })
  agents.push(a)
  return a
}

async function hostsOf(url: string): Promise<HostEntry[]> {
  return (await (await fetch(`${url}/api/hosts`)).json()) as HostEntry[]
}

describe('a fleet of agents', () => {
  it('shows two agents with different host names online, and streams each host’s metrics under its own name', async () => {
    const t = await hubs.start({ VIGIL_SAMPLE_MS: '1000', VIGIL_HOSTNAME: 'hub-1' })
    const url = t.hub.url
    const a = agent(url, t.hub.tokens.create('agent', 'edge-a').token, 'edge-a')
    const b = agent(url, t.hub.tokens.create('agent', 'edge-b').token, 'edge-b')
    await Promise.all([a.connected(), b.connected()])

    const all = new Collector(`${url}/api/stream?topics=metrics`, ['metrics'])
    const onlyA = new Collector(`${url}/api/stream?topics=metrics:edge-a`, ['metrics'])
    try {
      const hostsIn = (c: Collector) => new Set(c.events.map((e) => (e.data as MetricsEvent).host))
      await all.waitFor(() => ['edge-a', 'edge-b', 'hub-1'].every((h) => hostsIn(all).has(h)), 20_000)
      await onlyA.waitFor((e) => e.length >= 3, 20_000)
      expect([...hostsIn(onlyA)]).toEqual(['edge-a'])
      const fromA = all.events.find((e) => (e.data as MetricsEvent).host === 'edge-a')?.data as MetricsEvent
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
    } finally {
      all.close()
      onlyA.close()
    }
  })
})
