import { describe, expect, it } from 'vitest'
import type { NotificationView } from '../protocol/index.ts'
import { until, useAlertHub } from '../testing/alerts.ts'
import { sleep } from '../testing/hub.ts'
import { alertId } from './index.ts'

const alerts = useAlertHub()

describe('the notification outbox', () => {
  it('delivers exactly once after a receiver answering 500 for 20 s recovers, with one key on every retry, across a hub restart', async () => {
    const a = await alerts.start()
    const failUntil = Date.now() + 20_000
    a.r.status = () => (Date.now() < failUntil ? 500 : 200)
    await a.channel()
    await a.rule({ name: 'outage', metric: 'app.up', op: '<', threshold: 1, severity: 'critical' })
    await a.metric('app.up', 0)
    await a.requests(2, 10_000)
    // Restart while the notice waits in the outbox for its next try
    await a.restart()
    const delivered = await until(
      'a 200 answer',
      () => (a.r.requests.some((r) => r.answered === 200) ? a.r.requests : undefined),
      70_000,
    )
    await sleep(3000)
    const id = alertId('outage', a.hub().host, 'app.up')
    expect(new Set(a.r.requests.map((r) => r.headers['idempotency-key']))).toEqual(new Set([`${id}:firing:1`]))
    expect(a.r.requests.filter((r) => r.answered === 200)).toHaveLength(1)
    expect(a.r.requests.at(-1)?.answered).toBe(200)
    expect(delivered.length).toBeGreaterThanOrEqual(3)
    const { body } = await a.get(`/api/alerts/notifications?alertId=${id}`)
    const [n] = (body as { notifications: NotificationView[] }).notifications
    expect(n).toMatchObject({ channel: 'hook', key: `${id}:firing:1`, state: 'firing', status: 'delivered' })
    // Every attempt is recorded; one that the restart cut short may be missing from the hub's record, never added
    expect(n?.attempts.at(-1)).toMatchObject({ ok: true, status: 200, error: null })
    expect(n?.attempts.filter((x) => !x.ok).every((x) => x.status === 500)).toBe(true)
    expect(n?.attempts.length).toBeLessThanOrEqual(a.r.requests.length)
  }, 120_000)

  it('turns /api/health degraded (notifications) while a channel keeps failing, and ok once it delivers', async () => {
    const a = await alerts.start()
    let failing = true
    a.r.status = () => (failing ? 503 : 200)
    await a.channel()
    await a.rule({ name: 'down', metric: 'app.ok', op: '<', threshold: 1, severity: 'warning' })
    await a.metric('app.ok', 0)
    const health = async () =>
      (await (await fetch(`${a.hub().url}/api/health`)).json()) as {
        status: string
        reasons: { component: string; message: string }[]
      }
    const degraded = await until(
      'degraded health',
      async () => {
        const h = await health()
        return h.status === 'degraded' ? h : undefined
      },
      20_000,
    )
    expect(degraded.reasons).toEqual([
      expect.objectContaining({
        component: 'notifications',
        message: 'channel hook: 3 failed attempts in a row (the channel answered 503)',
      }),
    ])
    expect(JSON.stringify(degraded)).not.toContain(a.r.url())
    failing = false
    await until('ok health', async () => ((await health()).status === 'ok' ? true : undefined), 30_000)
  }, 60_000)

  it('shows every attempt of a notification with its status, and no channel URL in any read', async () => {
    const a = await alerts.start()
    let calls = 0
    a.r.status = () => (++calls === 1 ? 500 : 204)
    await a.channel({ headers: { Authorization: 'Bearer very-secret' } })
    await a.rule({ name: 'once', metric: 'app.x', op: '>', threshold: 0, severity: 'warning' })
    await a.metric('app.x', 1)
    const id = alertId('once', a.hub().host, 'app.x')
    const n = await until('a delivered notice', async () => {
      const { body } = await a.get(`/api/alerts/notifications?alertId=${id}`)
      const [first] = (body as { notifications: NotificationView[] }).notifications
      return first?.status === 'delivered' ? first : undefined
    })
    expect(n.attempts.map((x) => [x.ok, x.status, x.error])).toEqual([
      [false, 500, 'the channel answered 500'],
      [true, 204, null],
    ])
    for (const path of [
      '/api/alerts',
      '/api/alerts/rules',
      '/api/alerts/channels',
      '/api/alerts/silences',
      '/api/alerts/notifications',
      '/api/audit',
    ]) {
      const { status, body } = await a.get(path)
      expect(status).toBe(200)
      expect(JSON.stringify(body)).not.toContain(a.r.url())
      expect(JSON.stringify(body)).not.toContain('very-secret')
    }
    expect((await a.get('/api/alerts/notifications?alertId=nope')).status).toBe(400)
    expect((await a.get('/api/alerts?state=burning')).status).toBe(400)
  })

  it('prunes resolved alerts and finished notifications older than the cut, and keeps the firing alert', async () => {
    const a = await alerts.start()
    await a.channel()
    await a.rule({ name: 'stays', metric: 'app.s', op: '>', threshold: 0, severity: 'warning' })
    await a.rule({ name: 'went', metric: 'app.w', op: '>', threshold: 0, severity: 'warning' })
    await a.metric('app.s', 1)
    await a.metric('app.w', 1)
    await a.metric('app.w', 0)
    await a.requests(3)
    await until('all delivered', async () => {
      const { body } = await a.get('/api/alerts/notifications')
      const ns = (body as { notifications: NotificationView[] }).notifications
      return ns.length === 3 && ns.every((n) => n.status === 'delivered') ? true : undefined
    })
    const host = a.hub().host
    expect(await a.hub().alerts.records.prune(Date.now() + 1)).toEqual([alertId('went', host, 'app.w')])
    expect((await a.alerts()).map((x) => [x.rule, x.state])).toEqual([['stays', 'firing']])
    expect((await a.get('/api/alerts/notifications')).body).toEqual({ notifications: [] })
  })
})
