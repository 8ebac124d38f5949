import type { AlertChannel } from '../protocol/index.ts'
import { formats, type Notice } from './formats.ts'

/** How long a channel has to answer one request. */
export const SEND_TIMEOUT_MS = 10_000

/** One delivery attempt: delivered on a 2xx; else the status, or the error when no answer came. */
export interface Attempt {
  ok: boolean
  status: number | null
  error: string | null
  ms: number
}

/**
 * Posts a notice to a channel in the channel kind's format, with `Idempotency-Key` so a receiver can drop a retry
 * it already has. A redirect is an error, not followed: a channel's URL is where its notices go. The URL is never
 * in the answer (a failure names the status or the network error only). `stop` aborts the request (the hub is
 * stopping).
 */
export async function send(channel: AlertChannel, notice: Notice, key: string, stop?: AbortSignal): Promise<Attempt> {
  const out = formats[channel.kind](notice)
  const started = performance.now()
  const ms = () => Math.round(performance.now() - started)
  try {
    const res = await fetch(channel.url, {
      method: 'POST',
      body: out.body,
      headers: { ...out.headers, ...channel.headers, 'idempotency-key': key, 'user-agent': 'vigil-alerts' },
      redirect: 'manual',
      signal: stop
        ? AbortSignal.any([stop, AbortSignal.timeout(SEND_TIMEOUT_MS)])
        : AbortSignal.timeout(SEND_TIMEOUT_MS),
    })
    // The body is not read beyond this: a receiver's answer is its status
    await res.body?.cancel()
    if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status, error: null, ms: ms() }
    return { ok: false, status: res.status, error: `the channel answered ${res.status}`, ms: ms() }
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } }
    const why = e.name === 'TimeoutError' ? `no answer within ${SEND_TIMEOUT_MS} ms` : (e.cause?.code ?? e.name)
    return { ok: false, status: null, error: `could not reach the channel: ${why}`, ms: ms() }
  }
}

/** The notice `alert.channel.test` sends: marked as a test in its rule, labels and series. */
export function testNotice(channel: string, dashboardUrl: string, now = Date.now()): Notice {
  return {
    id: 'test',
    rule: 'vigil-test',
    host: 'vigil',
    series: '',
    state: 'firing',
    severity: 'warning',
    value: null,
    threshold: null,
    startsAt: now,
    labels: { test: 'true', channel },
    url: `${dashboardUrl}/alerts`,
  }
}
