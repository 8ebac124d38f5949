import { connect } from 'node:net'
import { EventSource } from 'eventsource'
import { describe, expect, it } from 'vitest'
import { rss } from '../../scripts/lib/proc.ts'
import type { MetricsEvent } from '../protocol/index.ts'
import { useChildHubs } from '../testing/child.ts'

const NORMAL = 50
/** The bound this test holds the hub to: its peak resident memory, all of it (clients run in the test process). */
const RSS_BOUND = 256 * 1024 * 1024

const hubs = useChildHubs()

describe('overload', () => {
  it(`cuts off 1 client that never reads while ${NORMAL} others keep every sampler tick, with hub RSS under 256 MiB`, async () => {
    const { dir, token } = await hubs.dataDir('reporter', 'flood')
    const server = await hubs.start([
      '--port',
      '0',
      '--data-dir',
      dir,
      '--sample-ms',
      '100',
      '--sse-buffer-bytes',
      '262144',
    ])
    const url = server.url
    const port = Number(new URL(url).port)

    // Normal clients: real EventSources that record the sampler's ticks they receive
    const ticks = Array.from({ length: NORMAL }, () => [] as number[])
    const clients = ticks.map((got) => {
      const es = new EventSource(`${url}/api/stream?topics=metrics`)
      es.addEventListener('metrics', (e) => {
        const ev = JSON.parse(e.data) as MetricsEvent
        if (ev.intervalMs > 0 && 'vigil.sampler_ms' in ev.values) got.push(ev.ts)
      })
      return es
    })
    await expect.poll(() => ticks.every((t) => t.length > 0), { timeout: 15_000 }).toBe(true)

    // The slow client: sends its request, then never reads a byte
    const stalled = connect(port, '127.0.0.1')
    stalled.pause()
    stalled.on('error', () => {})
    const stalledClosed = new Promise<void>((resolve) => stalled.on('close', () => resolve()))
    stalled.write('GET /api/stream?topics=metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')

    // Load: custom-metric batches whose live events are ~150 KB each, far more than a stalled socket holds
    const names = Array.from({ length: 5000 }, (_, i) => `flood.series_${i}.value`)
    const startedAt = Date.now()
    const stats = async () =>
      (await (await fetch(`${url}/api/stats`)).json()) as { clients: number; droppedClients: number }
    let batches = 0
    // At least 3 s of flood, and on until the stalled client has been cut off (20 s at most)
    while (Date.now() - startedAt < 20_000) {
      const res = await fetch(`${url}/api/metrics`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ samples: names.map((name) => ({ name, value: batches })) }),
      })
      expect(res.status).toBe(200)
      batches++
      if (Date.now() - startedAt >= 3000 && (await stats()).droppedClients > 0) break
    }
    expect(await stats()).toEqual(expect.objectContaining({ clients: NORMAL, droppedClients: 1 }))

    // Every normal client got the same sampler ticks, about 10 a second, none cut off
    const until = Math.min(...ticks.map((t) => t.at(-1) ?? 0))
    const window = (t: number[]) => t.filter((ts) => ts >= startedAt && ts <= until)
    const during = window(ticks[0] as number[])
    expect(during.length).toBeGreaterThanOrEqual(20)
    for (const got of ticks) expect(window(got)).toEqual(during)
    const gaps = during.slice(1).map((ts, i) => ts - (during[i] as number))
    const median = [...gaps].sort((a, b) => a - b)[Math.floor(gaps.length / 2)] as number
    expect(median).toBeLessThanOrEqual(200)

    const mem = rss(server.child.pid as number)
    expect(mem.peak).toBeLessThan(RSS_BOUND)
    console.log(
      `overload: ${batches} batches of 5000 samples in ${((Date.now() - startedAt) / 1000).toFixed(1)} s, 1 stalled client cut off, ${NORMAL} clients kept ${during.length} ticks (median gap ${median} ms), hub RSS ${(mem.rss / 1_048_576).toFixed(0)} MiB, peak ${(mem.peak / 1_048_576).toFixed(0)} MiB`,
    )
    stalled.resume()
    await stalledClosed
    for (const es of clients) es.close()
  })
})
