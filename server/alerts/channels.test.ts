import { describe, expect, it } from 'vitest'
import { useAlertHub } from '../testing/alerts.ts'
import { Receiver } from '../testing/receiver.ts'

const alerts = useAlertHub()

async function setup() {
  const a = await alerts.start()
  return { hub: a.hub(), r: a.r, c: a.command }
}

describe('alert.channel.test against an in-test receiver', () => {
  it('posts the generic webhook body with its Idempotency-Key and the channel’s own headers, and answers delivered', async () => {
    const { hub, r, c } = await setup()
    const channel = {
      name: 'hook',
      kind: 'webhook',
      url: r.url('/in'),
      headers: { Authorization: 'Bearer rcv-secret' },
    }
    await c({ type: 'alert.channel.set', ...channel })
    expect(await c({ type: 'alert.channel.test', name: 'hook' })).toEqual({
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
      await c({ type: 'alert.channel.set', name: kind, kind, url: r.url(`/${kind}`) })
      expect(await c({ type: 'alert.channel.test', name: kind })).toMatchObject({
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
    await c({ type: 'alert.channel.set', name: 'bad', kind: 'webhook', url: r.url('/x') })
    expect(await c({ type: 'alert.channel.test', name: 'bad' })).toMatchObject({
      delivered: false,
      status: 500,
      error: 'the channel answered 500',
    })
    const gone = await Receiver.start()
    const url = gone.url('/gone')
    await gone.close()
    await c({ type: 'alert.channel.set', name: 'gone', kind: 'webhook', url })
    expect(await c({ type: 'alert.channel.test', name: 'gone' })).toMatchObject({
      delivered: false,
      status: null,
      error: 'could not reach the channel: ECONNREFUSED',
    })
    expect(await c({ type: 'alert.channel.test', name: 'nope' })).toMatchObject({
      ok: false,
      error: { code: 'not_found', message: 'No alert channel nope' },
    })
  })
})
