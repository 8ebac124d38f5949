import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Bus } from '../bus/index.ts'
import { type EventLog, eventLog, openSqliteStore, RetryingWriter, type Store } from '../store/index.ts'
import { useCleanup } from '../testing/cleanup.ts'
import { Collector } from '../testing/hub.ts'
import { Streams } from './index.ts'

const cleanup = useCleanup()

/**
 * Streams over a real bus and SQLite log, behind a log whose reads take `delayMs` (faked: a log shared by hubs,
 * in Redis, answers over the network), and an HTTP server that hands each request to the streams.
 */
async function rig(delayMs: number, clientBufferBytes = 1 << 20) {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-replay-'))
  const store: Store = openSqliteStore({
    dataDir: dir,
    retentionMs: { raw: 3_600_000, '1m': 3_600_000, '1h': 3_600_000 },
    replayMs: 900_000,
  })
  const writer = new RetryingWriter(store, { maxPending: 100, onFault: () => {} })
  const bus = new Bus(store, writer)
  const local = eventLog(store, writer, () => bus.lastId)
  const reads: number[] = []
  const slow: EventLog = {
    async replay(afterId, topics, limit) {
      reads.push(afterId)
      const batch = await local.replay(afterId, topics, limit)
      await new Promise((r) => setTimeout(r, delayMs))
      return batch
    },
  }
  const streams = new Streams(bus, slow, { heartbeatMs: 60_000, retryMs: 1000, clientBufferBytes })
  const server: Server = createServer((req, res) => {
    const last = req.headers['last-event-id']
    streams.open(res, { topics: ['jobs'], lastEventId: last ? Number(last) : null, tokenId: null, tail: 0 })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  cleanup(() => rmSync(dir, { recursive: true, force: true }))
  cleanup(() => store.close())
  cleanup(() => server.close())
  cleanup(() => streams.close())
  const publish = (n: number, pad = '') => bus.publish('jobs', 'job', { n, pad })
  return { url, bus, streams, publish, reads }
}

describe('resume from a log that answers asynchronously', () => {
  it('sends each event once, in order, when events go live while the replay reads are in flight', async () => {
    const r = await rig(30)
    for (let i = 1; i <= 600; i++) r.publish(i)
    const c = new Collector(`${r.url}/`, ['job'], { 'last-event-id': '100' })
    cleanup(() => c.close())
    // Live events keep coming during the reads of the replay (two batches of at most 256, 30 ms each)
    const live = setInterval(() => r.publish(0), 5)
    cleanup(() => clearInterval(live))
    await c.waitFor((e) => e.length >= 700, 10_000)
    clearInterval(live)
    const last = r.bus.lastId
    await c.waitFor((e) => e.at(-1)?.id === String(last), 10_000)
    const ids = c.events.map((e) => Number(e.id))
    expect(ids).toEqual(Array.from({ length: last - 100 }, (_, i) => 101 + i))
    expect(r.reads.length).toBeGreaterThanOrEqual(2)
  })

  it('reads on rather than going live when the events held during a read pass the client’s bound, and still sends each once', async () => {
    const r = await rig(100, 16_384)
    const pad = 'x'.repeat(1000)
    for (let i = 1; i <= 300; i++) r.publish(i, pad)
    const c = new Collector(`${r.url}/`, ['job'], { 'last-event-id': '100' })
    cleanup(() => c.close())
    // About 20 kB of live events per 100 ms read, on top of what the replay queues: the hold overflows. At
    // 200 kB/s live, a client in this busy process still keeps up once it is live, so it is never cut off
    const live = setInterval(() => r.publish(0, pad), 5)
    cleanup(() => clearInterval(live))
    await c.waitFor((e) => e.length >= 400, 10_000)
    clearInterval(live)
    const last = r.bus.lastId
    await c.waitFor((e) => e.at(-1)?.id === String(last), 10_000)
    expect(c.ids()).toEqual(Array.from({ length: last - 100 }, (_, i) => 101 + i))
    expect(r.streams.dropped).toBe(0)
    expect(r.reads.length).toBeGreaterThan(3)
  })

  it('answers a resume from before the log with a reset at the newest id, then the events after it, once each', async () => {
    const r = await rig(30)
    r.publish(1)
    const c = new Collector(`${r.url}/`, ['job', 'reset'], { 'last-event-id': String(r.bus.lastId + 5) })
    cleanup(() => c.close())
    await new Promise((res) => setTimeout(res, 10))
    r.publish(2) // emitted while the read that decides the reset is in flight
    await c.waitFor((e) => e.some((x) => x.type === 'reset'), 10_000)
    r.publish(3)
    await c.waitFor((e) => e.filter((x) => x.type === 'job').length >= 1, 10_000)
    const reset = c.events[0]
    expect(reset?.type).toBe('reset')
    expect(reset?.data).toEqual({ reason: 'unknown_id', lastEventId: '6' })
    expect(reset?.id).toBe('2')
    expect(c.events.slice(1).map((e) => [e.type, e.id])).toEqual([['job', '3']])
  })
})
