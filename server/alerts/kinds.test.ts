import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { useAgentProcesses } from '../testing/agents.ts'
import { body, until, useAlertHub } from '../testing/alerts.ts'
import { spawnRun } from '../testing/process.ts'
import { alertId } from './index.ts'

const alerts = useAlertHub()
const agents = useAgentProcesses()

describe('the built-in rule kinds', () => {
  it('fires host.offline when an agent is stopped and resolves it when the agent returns', async () => {
    const a = await alerts.start()
    await a.channel()
    await a.rule({ kind: 'host.offline', name: 'gone', hosts: 'edge-*', forMs: 1000, severity: 'critical' })
    const token = (await a.hub().tokens.create('agent', 'edge-1')).token
    const spool = agents.spoolDir()
    const first = agents.start(a.hub().url, token, 'edge-1', [], spool)
    await first.connected()
    first.child.kill('SIGKILL')
    await first.exited
    const [fired] = await a.requests(1, 20_000)
    const id = alertId('gone', 'edge-1', '')
    expect(fired?.headers['idempotency-key']).toBe(`${id}:firing:1`)
    expect(body(fired)).toMatchObject({
      rule: 'gone',
      host: 'edge-1',
      series: '',
      state: 'firing',
      severity: 'critical',
    })
    const again = agents.start(a.hub().url, token, 'edge-1', [], spool)
    await again.connected()
    const reqs = await a.requests(2, 20_000)
    expect(reqs[1]?.headers['idempotency-key']).toBe(`${id}:resolved:1`)
    expect((await a.alerts())[0]).toMatchObject({ id, state: 'resolved', episode: 1 })
  }, 90_000)

  it('fires job.failed for a vigil run of false, naming the job, and resolves it on the next success', async () => {
    const a = await alerts.start()
    await a.channel()
    await a.rule({ kind: 'job.failed', name: 'builds', job: 'build-*', severity: 'warning', labels: { team: 'ci' } })
    const reporter = (await a.hub().tokens.create('reporter', 'ci')).token
    const failed = await spawnRun(a.hub().url, reporter, ['--name', 'build-web'], ['false'])
    expect(failed.code).toBe(1)
    const jobId = /job (j[0-9a-f]+)/.exec(failed.stderr)?.[1]
    const [fired] = await a.requests(1)
    const id = alertId('builds', a.hub().host, 'build-web')
    expect(body(fired)).toMatchObject({
      id,
      rule: 'builds',
      series: 'build-web',
      state: 'firing',
      value: 1,
      threshold: null,
      labels: { team: 'ci', jobId },
    })
    // A job the glob does not take changes nothing
    expect((await spawnRun(a.hub().url, reporter, ['--name', 'deploy'], ['false'])).code).toBe(1)
    expect((await spawnRun(a.hub().url, reporter, ['--name', 'build-web'], ['true'])).code).toBe(0)
    const reqs = await a.requests(2)
    expect(reqs.map((r) => r.headers['idempotency-key'])).toEqual([`${id}:firing:1`, `${id}:resolved:1`])
    expect((await a.alerts()).map((x) => [x.series, x.state])).toEqual([['build-web', 'resolved']])
  }, 60_000)

  it('fires hub.degraded while a second connection holds the write lock, notifies once storage is back, then resolves', async () => {
    const a = await alerts.start({ VIGIL_SAMPLE_MS: '200' })
    await a.channel()
    await a.rule({ kind: 'hub.degraded', name: 'hub', severity: 'critical' })
    const lock = new Database(join(a.t.dir, 'vigil.db'))
    lock.exec('BEGIN IMMEDIATE')
    await until('degraded', async () => {
      const h = (await (await fetch(`${a.hub().url}/api/health`)).json()) as { status: string }
      return h.status === 'degraded' ? true : undefined
    })
    await new Promise((r) => setTimeout(r, 1000))
    lock.exec('ROLLBACK')
    lock.close()
    const reqs = await a.requests(2, 30_000)
    const id = alertId('hub', a.hub().host, 'storage')
    expect(reqs.map((r) => [r.headers['idempotency-key'], body(r).series, body(r).state])).toEqual([
      [`${id}:firing:1`, 'storage', 'firing'],
      [`${id}:resolved:1`, 'storage', 'resolved'],
    ])
  }, 60_000)
})
