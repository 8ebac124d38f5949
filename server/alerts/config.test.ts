import { afterEach, describe, expect, it } from 'vitest'
import type { AuditEntry, ChannelView, Reply, RuleView } from '../protocol/index.ts'
import { ControlClient } from '../testing/control.ts'
import { startTestHub, type TestHub } from '../testing/hub.ts'

let t: TestHub | null = null
const clients: ControlClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.close()
  await t?.stop()
  t = null
})

async function setup() {
  t = await startTestHub({ VIGIL_SAMPLE_MS: '1000' })
  const hub = t.hub
  const url = `ws://127.0.0.1:${hub.port}/api/control`
  const tokens = {
    admin: (await hub.tokens.create('admin', 'root')).token,
    operator: (await hub.tokens.create('operator', 'ops')).token,
    viewer: (await hub.tokens.create('viewer', 'wall')).token,
  }
  const client = async (role: keyof typeof tokens) => {
    const c = new ControlClient(url, { authorization: `Bearer ${tokens[role]}` })
    clients.push(c)
    await c.opened()
    return c
  }
  const read = async (path: string) => {
    const res = await fetch(`${hub.url}${path}`, { headers: { authorization: `Bearer ${tokens.admin}` } })
    return { status: res.status, text: await res.text() }
  }
  return { hub, client, read }
}

const error = (r: Reply | undefined) => (r && 'ok' in r && !r.ok ? r.error : null)
const result = (r: Reply | undefined) => (r && 'ok' in r && r.ok ? r.result : null)

const SECRET_URL = 'https://hooks.slack.test/services/T000/B000/s3cr3tPath'
const rule = { name: 'cpu-hot', metric: 'cpu.usage_pct', op: '>', threshold: 50, forMs: 2000, severity: 'warning' }

describe('alert rules and channels over the control channel', () => {
  it('creates, replaces, lists and deletes a rule by name, each change audited', async () => {
    const { client, read } = await setup()
    const ops = await client('operator')
    expect(result(await ops.request({ id: 1, type: 'alert.rule.set', rule }))).toMatchObject({
      rule: { ...rule, kind: 'metric' },
      updatedBy: 'ops',
    })
    await ops.request({ id: 2, type: 'alert.rule.set', rule: { ...rule, threshold: 70 } })
    await ops.request({
      id: 3,
      type: 'alert.rule.set',
      rule: { name: 'down', kind: 'host.offline', severity: 'critical' },
    })
    const listed = JSON.parse((await read('/api/alerts/rules')).text) as { rules: RuleView[] }
    expect(
      listed.rules.map((r) => [r.rule.name, r.rule.kind, 'threshold' in r.rule ? r.rule.threshold : null]),
    ).toEqual([
      ['cpu-hot', 'metric', 70],
      ['down', 'host.offline', null],
    ])
    expect(result(await ops.request({ id: 4, type: 'alert.rule.delete', name: 'down' }))).toEqual({ deleted: 'down' })
    expect(error(await ops.request({ id: 5, type: 'alert.rule.delete', name: 'down' }))).toEqual({
      code: 'not_found',
      message: 'No alert rule down',
    })
    const audit = JSON.parse((await read('/api/audit?limit=5')).text) as { entries: AuditEntry[] }
    expect(audit.entries.map((e) => [e.command, e.outcome, e.errorCode])).toEqual([
      ['alert.rule.delete', 'failed', 'not_found'],
      ['alert.rule.delete', 'accepted', null],
      ['alert.rule.set', 'accepted', null],
      ['alert.rule.set', 'accepted', null],
      ['alert.rule.set', 'accepted', null],
    ])
  })

  it('answers bad rules with invalid, a viewer with forbidden, and an operator setting a channel with forbidden', async () => {
    const { client } = await setup()
    const ops = await client('operator')
    const bad = async (r: unknown) => error(await ops.request({ id: 'b', type: 'alert.rule.set', rule: r }))?.code
    expect(await bad({ ...rule, op: '=>' })).toBe('invalid')
    expect(await bad({ ...rule, forMs: -1 })).toBe('invalid')
    expect(await bad({ ...rule, metric: 'fs.*x.used_pct' })).toBe('invalid')
    expect(
      error(await ops.request({ id: 'c', type: 'alert.rule.set', rule: { ...rule, channels: ['pager'] } })),
    ).toEqual({
      code: 'invalid',
      message: 'channels: no channel pager',
    })
    const viewer = await client('viewer')
    expect(error(await viewer.request({ id: 'v', type: 'alert.rule.set', rule }))?.code).toBe('forbidden')
    expect(
      error(await ops.request({ id: 'o', type: 'alert.channel.set', name: 'ops', kind: 'slack', url: SECRET_URL })),
    ).toEqual({ code: 'forbidden', message: 'Only admins may send alert.channel.set' })
    expect(error(await ops.request({ id: 'd', type: 'alert.channel.delete', name: 'ops' }))?.code).toBe('forbidden')
  })

  it('lets an admin set a channel a rule then names, shows only its host, and never keeps its URL in the audit', async () => {
    const { client, read } = await setup()
    const admin = await client('admin')
    const channel = { name: 'ops', kind: 'slack', url: SECRET_URL, headers: { 'X-Token': 'hdr-s3cr3t' } }
    const set = await admin.request({ id: 1, type: 'alert.channel.set', ...channel })
    expect(result(set)).toMatchObject({
      name: 'ops',
      kind: 'slack',
      urlHost: 'hooks.slack.test',
      headers: ['X-Token'],
      minSeverity: 'warning',
      updatedBy: 'root',
    })
    expect(
      result(await admin.request({ id: 2, type: 'alert.rule.set', rule: { ...rule, channels: ['ops'] } })),
    ).not.toBeNull()
    expect(error(await admin.request({ id: 3, type: 'alert.channel.delete', name: 'ops' }))).toEqual({
      code: 'conflict',
      message: 'Channel ops is used by rule cpu-hot',
    })
    const channels = await read('/api/alerts/channels')
    expect((JSON.parse(channels.text) as { channels: ChannelView[] }).channels.map((c) => c.urlHost)).toEqual([
      'hooks.slack.test',
    ])
    const audit = await read('/api/audit?limit=10')
    for (const text of [channels.text, audit.text, (await read('/api/alerts/rules')).text]) {
      expect(text).not.toContain('s3cr3t')
    }
    expect(await t?.hub.alerts.config.channel('ops')).toEqual({ ...channel, minSeverity: 'warning' })
  })
})
