import { describe, expect, it } from 'vitest'
import type { Hub } from '../hub.ts'
import type { AlertView } from '../protocol/index.ts'
import { result, until } from '../testing/alerts.ts'
import { useHubCluster } from '../testing/cluster.ts'
import { ControlClient } from '../testing/control.ts'
import { Collector, sleep } from '../testing/hub.ts'
import { Receiver } from '../testing/receiver.ts'
import { alertId } from './index.ts'

const { cluster, cleanup } = useHubCluster()

const headers = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' })

async function metric(hub: Hub, token: string, host: string, value: number): Promise<void> {
  const res = await fetch(`${hub.url}/api/metrics`, {
    method: 'POST',
    headers: headers(token),
    body: JSON.stringify({ host, samples: [{ name: 'app.queue', value }] }),
  })
  expect(res.status).toBe(200)
}

async function alertsAt(hub: Hub, token: string): Promise<AlertView[]> {
  return ((await (await fetch(`${hub.url}/api/alerts`, { headers: headers(token) })).json()) as { alerts: AlertView[] })
    .alerts
}

describe('alerts with several hubs', () => {
  it('evaluates and notifies an alert once across two hubs, and goes on from the stored state when the evaluating hub stops', async () => {
    const hubs = (await cluster(2)) as [Hub, Hub]
    const receiver = await Receiver.start()
    cleanup(() => receiver.close())
    const [a] = hubs
    const token = (await a.tokens.create('admin', 'root')).token
    const control = new ControlClient(`ws://127.0.0.1:${a.port}/api/control`, headers(token))
    cleanup(() => control.close())
    await control.opened()
    await control.request({ id: 1, type: 'alert.channel.set', name: 'hook', kind: 'webhook', url: receiver.url('/h') })
    expect(
      result(
        await control.request({
          id: 2,
          type: 'alert.rule.set',
          rule: { name: 'deep', metric: 'app.queue', op: '>', threshold: 5, severity: 'critical' },
        }),
      ),
    ).toMatchObject({ rule: { name: 'deep' } })
    const holder = await until('one hub holding the lease', () => hubs.find((h) => h.singletonHeld))
    const other = hubs.find((h) => h !== holder) as Hub
    const events = new Collector(`${other.url}/api/stream?topics=alerts`, ['alert'], headers(token))
    cleanup(() => events.es.close())
    // The sample arrives at the hub that does not evaluate: the evaluating one hears it on the bus
    await sleep(500)
    await metric(other, token, 'web-1', 9)
    await until('the firing notice', () => (receiver.requests.length >= 1 ? true : undefined))
    await sleep(2000)
    const id = alertId('deep', 'web-1', 'app.queue')
    expect(receiver.requests.map((r) => r.headers['idempotency-key'])).toEqual([`${id}:firing:1`])
    // One evaluation: one pending and one firing event, not one of each per hub
    expect(events.events.map((e) => (e.data as AlertView).state)).toEqual(['pending', 'firing'])
    for (const h of hubs) {
      expect((await alertsAt(h, token)).map((x) => [x.id, x.state, x.episode])).toEqual([[id, 'firing', 1]])
    }

    await holder.close()
    await until('the other hub holding the lease', () => (other.singletonHeld ? true : undefined), 30_000)
    await sleep(1500)
    await metric(other, token, 'web-1', 1)
    await until('the resolved notice', () => (receiver.requests.length >= 2 ? true : undefined), 20_000)
    await sleep(1500)
    expect(receiver.requests.map((r) => r.headers['idempotency-key'])).toEqual([`${id}:firing:1`, `${id}:resolved:1`])
  }, 90_000)
})
