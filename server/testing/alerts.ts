import { afterEach } from 'vitest'
import type { AlertView, Reply } from '../protocol/index.ts'
import { ControlClient } from './control.ts'
import { sleep, startTestHub, type TestHub } from './hub.ts'
import { Receiver } from './receiver.ts'

/** A reply's result, or the reply itself when it is an error (so a test's expectation shows it). */
export const result = (r: Reply | undefined) => (r && 'ok' in r && r.ok ? r.result : r)

/** Polls `check` every 50 ms until it answers something other than undefined; rejects after `timeoutMs`. */
export async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000) {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** A received notice's JSON body. */
export const body = (req: { body: string } | undefined) => JSON.parse(req?.body ?? 'null') as Record<string, unknown>

/**
 * A hub with an admin on the control channel, a receiver behind a webhook channel `hook`, and the calls the alert
 * tests make: set a rule, post a custom metric, read alerts. Stopped after each test.
 */
export function useAlertHub() {
  let t: TestHub | null = null
  let receiver: Receiver | null = null
  let admin: ControlClient | null = null
  let n = 0
  afterEach(async () => {
    admin?.close()
    await t?.stop()
    await receiver?.close()
    t = null
    receiver = null
    admin = null
  })

  async function connect(hub: TestHub['hub'], token: string) {
    admin?.close()
    admin = new ControlClient(`ws://127.0.0.1:${hub.port}/api/control`, { authorization: `Bearer ${token}` })
    await admin.opened()
  }

  async function start(env: Record<string, string> = {}) {
    t = await startTestHub({ VIGIL_SAMPLE_MS: '1000', ...env })
    receiver = await Receiver.start()
    const token = (await t.hub.tokens.create('admin', 'root')).token
    await connect(t.hub, token)
    const r = receiver
    const hub = () => (t as TestHub).hub
    const command = async (cmd: Record<string, unknown>) => {
      const id = `c${++n}`
      const c = admin as ControlClient
      const before = c.replies.length
      c.send({ id, ...cmd })
      const replies = await c.waitReplies(before + 1)
      return result(replies.find((x) => 'id' in x && x.id === id))
    }
    const auth = { authorization: `Bearer ${token}` }
    const api = {
      t: t as TestHub,
      r,
      token,
      hub,
      command,
      async channel(extra: Record<string, unknown> = {}) {
        return command({ type: 'alert.channel.set', name: 'hook', kind: 'webhook', url: r.url('/hook'), ...extra })
      },
      rule: (rule: Record<string, unknown>) => command({ type: 'alert.rule.set', rule }),
      /** Posts one custom sample of `name` now, for `host` (the hub's own when absent). */
      async metric(name: string, value: number, host?: string, bearer = token) {
        const res = await fetch(`${hub().url}/api/metrics`, {
          method: 'POST',
          headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
          body: JSON.stringify({ ...(host ? { host } : {}), samples: [{ name, value }] }),
        })
        if (res.status !== 204 && res.status !== 200) throw new Error(`POST /api/metrics ${res.status}`)
      },
      /** Posts `value` every `everyMs` for `forMs`. */
      async hold(name: string, value: number, forMs: number, everyMs = 200, host?: string) {
        const end = Date.now() + forMs
        while (Date.now() < end) {
          await api.metric(name, value, host)
          await sleep(everyMs)
        }
      },
      async alerts(query = ''): Promise<AlertView[]> {
        const res = await fetch(`${hub().url}/api/alerts${query}`, { headers: auth })
        return ((await res.json()) as { alerts: AlertView[] }).alerts
      },
      async get(path: string): Promise<{ status: number; body: unknown }> {
        const res = await fetch(`${hub().url}${path}`, { headers: auth })
        return { status: res.status, body: await res.json() }
      },
      /** Restarts the hub on its data dir and reconnects the admin. */
      async restart(extra: Record<string, string> = {}) {
        const h = await (t as TestHub).restart(extra)
        await connect(h, token)
        return h
      },
      /** Waits for the receiver to have `count` requests, then answers them. */
      requests: (count: number, timeoutMs?: number) =>
        until(`${count} notification requests`, () => (r.requests.length >= count ? r.requests : undefined), timeoutMs),
    }
    return api
  }
  return { start }
}
