import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from './paths.ts'
import type { HostEntry, SeriesResponse } from './protocol/index.ts'
import { holes, useAgentProcesses } from './testing/agents.ts'
import { useCleanup } from './testing/cleanup.ts'
import { useClusterServers } from './testing/cluster.ts'
import { Collector, sleep } from './testing/hub.ts'
import { type ServeProcess, spawnServe } from './testing/process.ts'

const servers = useClusterServers()
const cleanup = useCleanup()
const agents = useAgentProcesses()

/** `vigil token create` against the cluster's database, as an operator does; returns the secret. */
function token(url: string, role: string, name: string): string {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'server/main.ts'), 'token', 'create', '--role', role, '--name', name],
    { env: { ...process.env, VIGIL_DATABASE_URL: url }, encoding: 'utf8' },
  )
  if (r.status !== 0) throw new Error(r.stderr)
  return r.stdout.trim()
}

async function serve(env: Record<string, string>, hostname: string): Promise<ServeProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-failover-'))
  cleanup(() => rmSync(dir, { recursive: true, force: true }))
  const p = await spawnServe(['--port', '0', '--data-dir', dir, '--hostname', hostname], env)
  cleanup(async () => {
    p.child.kill('SIGKILL')
    await p.exited
  })
  return p
}

describe('a hub killed with -9 in a cluster of two', () => {
  it('moves its 20 clients and 2 agents to the other hub: no client misses an event, no agent host misses a tick, and its own host goes offline', async () => {
    const url = await servers.pg.createDatabase()
    const env = {
      VIGIL_DATABASE_URL: url,
      VIGIL_REDIS_URL: `${servers.redis.url}/1`,
      VIGIL_SAMPLE_MS: '1000',
      VIGIL_AGENT_HEARTBEAT_MS: '1000',
    }
    const viewer = token(url, 'viewer', 'wall')
    const agentTokens = [token(url, 'agent', 'edge-1'), token(url, 'agent', 'edge-2')]
    const a = await serve(env, 'hub-a')
    const b = await serve(env, 'hub-b')
    const headers = { authorization: `Bearer ${viewer}` }
    const started = Date.now()
    const procs = agentTokens.map((t, i) => agents.start(`${a.url},${b.url}`, t, `edge-${i + 1}`))
    await Promise.all(procs.map((p) => p.connected(1, 20_000)))

    // A witness on B, which stays up: every event of the topic, in order
    const witness = new Collector(`${b.url}/api/stream?topics=metrics`, ['metrics'], headers)
    cleanup(() => witness.close())
    const onA = Array.from(
      { length: 20 },
      () => new Collector(`${a.url}/api/stream?topics=metrics`, ['metrics'], headers),
    )
    for (const c of onA) cleanup(() => c.close())
    // Five seconds or so of ticks from four hosts (the two hubs, the two agents)
    await Promise.all(onA.map((c) => c.waitFor((e) => e.length >= 20, 20_000)))

    a.child.kill('SIGKILL')
    await a.exited
    const killedAt = Date.now()
    // Each client comes back, as a browser behind a load balancer does, on the hub that is left
    const lastIds = onA.map((c) => {
      c.close()
      return c.events.at(-1)?.id as string
    })
    const onB = lastIds.map(
      (id) => new Collector(`${b.url}/api/stream?topics=metrics`, ['metrics'], { ...headers, 'last-event-id': id }),
    )
    for (const c of onB) cleanup(() => c.close())
    await Promise.all(procs.map((p) => p.connected(2, 20_000)))
    const movedAt = Date.now()
    await sleep(4000)

    // Every id the witness saw after a client's first one and up to the end, the client saw too, once, in order
    const seen = witness.ids()
    const end = seen.at(-3) as number
    for (const [i, before] of onA.entries()) {
      const ids = [...before.ids(), ...(onB[i] as Collector).ids()]
      const from = ids[0] as number
      const want = seen.filter((id) => id >= from && id <= end)
      expect(want.length).toBeGreaterThan(10)
      expect([i, ids.filter((id) => id <= end)]).toEqual([i, want])
    }
    // And the agents' hosts have a tick every second across the kill: each spool replayed what A had not stored
    for (const host of ['edge-1', 'edge-2']) {
      const q = `${b.url}/api/series?metric=cpu.usage_pct&host=${host}&from=${started}&to=${movedAt + 3000}&points=10000`
      const res = await fetch(q, { headers })
      const r = (await res.json()) as SeriesResponse
      expect([host, res.status, res.status === 200 ? null : r]).toEqual([host, 200, null])
      const times = r.points.map((p) => p[0])
      // Ticks from before the kill to after the move, a second apart all through
      expect([host, (times[0] as number) < killedAt - 2000, (times.at(-1) as number) > movedAt + 1000]).toEqual([
        host,
        true,
        true,
      ])
      expect([host, holes(times)]).toEqual([host, []])
    }
    // Hub B lists the agents' hosts as its own now, and hub A's host offline once its hold in Redis lapsed
    const hostsAtB = async () =>
      ((await (await fetch(`${b.url}/api/hosts`, { headers })).json()) as HostEntry[]).map((h) => [
        h.host,
        h.state,
        h.hub,
      ])
    await expect.poll(hostsAtB, { timeout: 30_000, interval: 500 }).toEqual([
      ['edge-1', 'online', 'hub-b'],
      ['edge-2', 'online', 'hub-b'],
      ['hub-a', 'offline', null],
      ['hub-b', 'online', 'hub-b'],
    ])
    console.log(
      `failover: agents back on hub B ${movedAt - killedAt} ms after the kill; ${witness.events.length} events witnessed`,
    )
  })
})
