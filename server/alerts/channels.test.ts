import { afterEach, describe, expect, it } from 'vitest'
import type { Reply } from '../protocol/index.ts'
import { ControlClient } from '../testing/control.ts'
import { startTestHub, type TestHub } from '../testing/hub.ts'
import { Receiver } from '../testing/receiver.ts'

let t: TestHub | null = null
let receiver: Receiver | null = null
let admin: ControlClient | null = null
afterEach(async () => {
  admin?.close()
  await t?.stop()
  await receiver?.close()
  t = null
  receiver = null
})

async function setup() {
  t = await startTestHub({ VIGIL_SAMPLE_MS: '1000' })
  receiver = await Receiver.start()
  const token = (await t.hub.tokens.create('admin', 'root')).token
  admin = new ControlClient(`ws://127.0.0.1:${t.hub.port}/api/control`, { authorization: `Bearer ${token}` })
  await admin.opened()
  return { hub: t.hub, r: receiver, c: admin }
}

const result = (r: Reply | undefined) => (r && 'ok' in r && r.ok ? r.result : r)

describe('alert.channel.test against an in-test receiver', () => {
  it('posts the generic webhook body with its Idempotency-Key and the channel’s own headers, and answers delivered', async () => {
    const { hub, r, c } = await setup()
    const channel = {
      name: 'hook',
      kind: 'webhook',
      url: r.url('/in'),
      headers: { Authorization: 'Bearer rcv-secret' },
    }
    await c.request({ id: 1, type: 'alert.channel.set', ...channel })
    expect(result(await c.request({ id: 2, type: 'alert.channel.test', name: 'hook' }))).toEqual({
      channel: 'hook',
      delivered: true,
      status: 200,
      error: null,
      ms: expect.any(Number),
    })
    expect(r.requests).toHaveLength(1)
    const req = r.requests[0]
    expect([req?.method, req?.path, req?.headers['content-type'], req?.headers.authorization]).toEqual([
      'POST',
      '/in',
      'application/json',
      'Bearer rcv-secret',
    ])
    expect(req?.headers['idempotency-key']).toMatch(/^test:hook:\d+$/)
    expect(JSON.parse(req?.body ?? '')).toEqual({
      id: 'test',
      rule: 'vigil-test',
      host: 'vigil',
      series: '',
      state: 'firing',
      severity: 'warning',
      value: null,
      threshold: null,
      startsAt: expect.any(Number),
      labels: { test: 'true', channel: 'hook' },
      url: `${hub.url}/alerts`,
    })
  })

  it('speaks Slack’s, Discord’s and ntfy’s formats', async () => {
    const { r, c } = await setup()
    for (const kind of ['slack', 'discord', 'ntfy']) {
      await c.request({ id: `s-${kind}`, type: 'alert.channel.set', name: kind, kind, url: r.url(`/${kind}`) })
      expect(result(await c.request({ id: `t-${kind}`, type: 'alert.channel.test', name: kind }))).toMatchObject({
        delivered: true,
      })
    }
    const [slack, discord, ntfy] = r.requests
    const line = '[FIRING warning] vigil-test on vigil'
    expect(JSON.parse(slack?.body ?? '')).toEqual({
      text: line,
      attachments: [
        {
          color: '#e0a800',
          title: 'vigil-test firing',
          title_link: expect.stringMatching(/\/alerts$/),
          fields: [
            { title: 'Host', value: 'vigil', short: true },
            { title: 'Severity', value: 'warning', short: true },
          ],
          ts: expect.any(Number),
        },
      ],
    })
    const d = JSON.parse(discord?.body ?? '')
    expect(d.allowed_mentions).toEqual({ parse: [] })
    expect(d.embeds).toHaveLength(1)
    expect(d.embeds[0]).toMatchObject({ title: 'vigil-test firing', description: line, color: 0xe0a800 })
    expect(new Date(d.embeds[0].timestamp).getTime()).toBeGreaterThan(0)
    expect([ntfy?.path, ntfy?.body, ntfy?.headers.title, ntfy?.headers.priority, ntfy?.headers.tags]).toEqual([
      '/ntfy',
      line,
      'vigil-test firing on vigil',
      'high',
      'warning',
    ])
    expect(ntfy?.headers.click).toMatch(/\/alerts$/)
  })

  it('answers delivered: false with the status of a failing receiver, the error of an unreachable one, and not_found for no channel', async () => {
    const { r, c } = await setup()
    r.status = () => 500
    await c.request({ id: 1, type: 'alert.channel.set', name: 'bad', kind: 'webhook', url: r.url('/x') })
    expect(result(await c.request({ id: 2, type: 'alert.channel.test', name: 'bad' }))).toMatchObject({
      delivered: false,
      status: 500,
      error: 'the channel answered 500',
    })
    const gone = await Receiver.start()
    const url = gone.url('/gone')
    await gone.close()
    await c.request({ id: 3, type: 'alert.channel.set', name: 'gone', kind: 'webhook', url })
    expect(result(await c.request({ id: 4, type: 'alert.channel.test', name: 'gone' }))).toMatchObject({
      delivered: false,
      status: null,
      error: 'could not reach the channel: ECONNREFUSED',
    })
    expect(await c.request({ id: 5, type: 'alert.channel.test', name: 'nope' })).toEqual({
      id: 5,
      ok: false,
      error: { code: 'not_found', message: 'No alert channel nope' },
    })
  })
})
