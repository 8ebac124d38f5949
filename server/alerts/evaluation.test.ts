import { describe, expect, it } from 'vitest'
import { body, until, useAlertHub } from '../testing/alerts.ts'
import { Collector, sleep } from '../testing/hub.ts'
import { alertId } from './index.ts'

const alerts = useAlertHub()

describe('alert evaluation on a real hub with a real receiver', () => {
  it('does not fire for 1.5 s above a forMs of 2 s, and fires exactly once after 3 s above, with the documented body and key', async () => {
    const a = await alerts.start()
    await a.channel()
    await a.rule({
      name: 'queue-deep',
      metric: 'app.queue.depth',
      op: '>',
      threshold: 50,
      forMs: 2000,
      severity: 'critical',
      labels: { team: 'ops' },
    })
    const host = a.hub().host
    await a.hold('app.queue.depth', 60, 1500)
    await a.metric('app.queue.depth', 10)
    await sleep(2500)
    expect(a.r.requests).toHaveLength(0)
    expect(await a.alerts()).toEqual([])

    const crossed = Date.now()
    await a.hold('app.queue.depth', 60, 3000)
    const [req] = await a.requests(1)
    await sleep(1500)
    expect(a.r.requests).toHaveLength(1)
    const id = alertId('queue-deep', host, 'app.queue.depth')
    expect(req?.headers['idempotency-key']).toBe(`${id}:firing:1`)
    expect(body(req)).toEqual({
      id,
      rule: 'queue-deep',
      host,
      series: 'app.queue.depth',
      state: 'firing',
      severity: 'critical',
      value: 60,
      threshold: 50,
      startsAt: expect.any(Number),
      labels: { team: 'ops' },
      url: `${a.hub().url}/alerts/${id}`,
    })
    const startsAt = body(req).startsAt as number
    expect(startsAt - crossed).toBeGreaterThanOrEqual(2000)
    const [alert] = await a.alerts('?state=firing')
    expect(alert).toMatchObject({ id, state: 'firing', episode: 1, notifiedEpisode: 1, silenced: false })
    expect(alert?.history.map((h) => h.state)).toEqual(['pending', 'firing'])
  })

  it('does not fire again while values swing between 45 and 55 over a clearThreshold of 40, and resolves once below it', async () => {
    const a = await alerts.start()
    await a.channel()
    await a.rule({ name: 'swing', metric: 'app.load', op: '>', threshold: 50, clearThreshold: 40, severity: 'warning' })
    await a.metric('app.load', 55)
    await a.requests(1)
    for (let i = 0; i < 10; i++) await a.metric('app.load', i % 2 === 0 ? 45 : 55)
    await sleep(300)
    expect(a.r.requests).toHaveLength(1)
    await a.metric('app.load', 30)
    await a.metric('app.load', 35)
    const reqs = await a.requests(2)
    await sleep(500)
    expect(a.r.requests).toHaveLength(2)
    const id = alertId('swing', a.hub().host, 'app.load')
    expect(reqs.map((r) => r.headers['idempotency-key'])).toEqual([`${id}:firing:1`, `${id}:resolved:1`])
    expect(body(reqs[1])).toMatchObject({ state: 'resolved', value: 30, endsAt: expect.any(Number) })
    const [alert] = await a.alerts()
    expect(alert?.history.map((h) => h.state)).toEqual(['pending', 'firing', 'resolved'])
  })

  it('sends a firing alert again every repeatMs, each repeat with its own key', async () => {
    const a = await alerts.start()
    await a.channel()
    await a.rule({ name: 'rep', metric: 'app.errors', op: '>=', threshold: 1, repeatMs: 1000, severity: 'warning' })
    await a.metric('app.errors', 3)
    const reqs = await a.requests(3, 10_000)
    const id = alertId('rep', a.hub().host, 'app.errors')
    expect(reqs.slice(0, 3).map((r) => r.headers['idempotency-key'])).toEqual([
      `${id}:firing:1`,
      `${id}:firing:1.1`,
      `${id}:firing:1.2`,
    ])
    expect(reqs.slice(0, 3).map((r) => body(r).state)).toEqual(['firing', 'firing', 'firing'])
  })

  it('holds a firing alert through a dip shorter than keepFiringMs, and resolves after a longer one', async () => {
    const a = await alerts.start()
    await a.channel()
    await a.rule({ name: 'keep', metric: 'app.temp', op: '>', threshold: 70, keepFiringMs: 2000, severity: 'warning' })
    await a.metric('app.temp', 80)
    await a.requests(1)
    await a.hold('app.temp', 60, 800)
    await a.metric('app.temp', 80)
    await sleep(2500)
    expect(a.r.requests).toHaveLength(1)
    expect((await a.alerts())[0]?.state).toBe('firing')
    const low = Date.now()
    await a.metric('app.temp', 60)
    const reqs = await a.requests(2)
    expect(body(reqs[1]).state).toBe('resolved')
    expect((body(reqs[1]).endsAt as number) - low).toBeGreaterThanOrEqual(2000)
  })

  it('covers with fs.*.used_pct > 90 a filesystem that first reports after the rule was set', async () => {
    const a = await alerts.start()
    await a.channel()
    await a.rule({
      name: 'disk-full',
      metric: 'fs.*.used_pct',
      hosts: 'db-*',
      op: '>',
      threshold: 90,
      severity: 'critical',
    })
    const agent = (await a.hub().tokens.create('agent', 'db-1')).token
    await a.metric('fs.data.used_pct', 50, 'db-1', agent)
    await a.metric('fs.data2.used_pct', 95, 'db-1', agent)
    const [req] = await a.requests(1)
    expect(body(req)).toMatchObject({ rule: 'disk-full', host: 'db-1', series: 'fs.data2.used_pct', value: 95 })
    // Another host's series is not the rule's: hosts is db-*
    const other = (await a.hub().tokens.create('agent', 'web-1')).token
    await a.metric('fs.data.used_pct', 99, 'web-1', other)
    await sleep(500)
    expect(a.r.requests).toHaveLength(1)
    expect((await a.alerts()).map((x) => [x.host, x.series, x.state])).toEqual([
      ['db-1', 'fs.data2.used_pct', 'firing'],
    ])
  })

  it('sends no second firing notification after a restart while an alert fires, and keeps its state', async () => {
    const a = await alerts.start()
    await a.channel()
    await a.rule({ name: 'hot', metric: 'app.heat', op: '>', threshold: 5, severity: 'critical' })
    await a.metric('app.heat', 9)
    await a.requests(1)
    await until('the notice delivered', async () => {
      const { body: b } = await a.get('/api/alerts/notifications')
      const ns = (b as { notifications: { status: string }[] }).notifications
      return ns[0]?.status === 'delivered' ? true : undefined
    })
    await a.restart()
    await a.hold('app.heat', 9, 2500)
    expect(a.r.requests).toHaveLength(1)
    const [alert] = await a.alerts()
    expect(alert).toMatchObject({ state: 'firing', episode: 1, notifiedEpisode: 1 })
  })

  it('streams an alert event on the alerts topic for every state change, inactive for a pending one that went', async () => {
    const a = await alerts.start()
    const live = new Collector(`${a.hub().url}/api/stream?topics=alerts`, ['alert'], {
      authorization: `Bearer ${a.token}`,
    })
    try {
      await a.rule({ name: 'ev', metric: 'app.ev', op: '>', threshold: 1, forMs: 60_000, severity: 'warning' })
      await a.metric('app.ev', 2)
      await a.metric('app.ev', 0)
      await a.rule({ name: 'ev', metric: 'app.ev', op: '>', threshold: 1, severity: 'warning' })
      await sleep(200)
      await a.metric('app.ev', 2)
      await a.metric('app.ev', 0)
      await live.waitFor((e) => e.length >= 5)
      const id = alertId('ev', a.hub().host, 'app.ev')
      expect(live.events.map((e) => [(e.data as { id: string }).id, (e.data as { state: string }).state])).toEqual([
        [id, 'pending'],
        [id, 'inactive'],
        [id, 'pending'],
        [id, 'firing'],
        [id, 'resolved'],
      ])
      expect(live.events[3]?.data).toMatchObject({ episode: 1, value: 2, silenced: false })
    } finally {
      live.es.close()
    }
  })
})
