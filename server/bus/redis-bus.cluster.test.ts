import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Streams } from '../stream/index.ts'
import { useCleanup } from '../testing/cleanup.ts'
import { Collector } from '../testing/hub.ts'
import { type PrivateRedis, startRedis } from '../testing/services.ts'
import { RedisBus } from './redis-bus.ts'

let redis: PrivateRedis
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis?.stop()
})

const cleanup = useCleanup()

let keyN = 0

/** A hub as far as streams go: its bus on the shared Redis, its streams, and an HTTP server handing them requests. */
async function hub(key: string) {
  const bus = await RedisBus.open({ url: redis.url, key, origin: 'test-hub', windowMs: 60_000 })
  const streams = new Streams(bus, bus.log(), { heartbeatMs: 60_000, retryMs: 200, clientBufferBytes: 1 << 20 })
  const server: Server = createServer((req, res) => {
    const last = req.headers['last-event-id']
    const topics = new URL(req.url ?? '/', 'http://x').searchParams.get('topics')?.split(',') ?? ['jobs']
    streams.open(res, { topics, lastEventId: last ? Number(last) : null, tokenId: null, tail: 0 })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  cleanup(() => bus.close())
  cleanup(() => new Promise((r) => server.close(r)))
  cleanup(() => streams.close())
  return { bus, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` }
}

function collect(url: string, headers: Record<string, string> = {}): Collector {
  const c = new Collector(url, ['job', 'reset'], headers)
  cleanup(() => c.close())
  return c
}

describe('streams on a bus shared in Redis', () => {
  it('resumes a client on hub B with the Last-Event-ID it got from hub A, under a steady publish rate at both: no gap, no duplicate', async () => {
    const key = `rb${++keyN}`
    const a = await hub(key)
    const b = await hub(key)
    const published: { id: number; topic: string }[] = []
    let n = 0
    // Both hubs publish, on the client's topic and on another it does not follow
    const timer = setInterval(() => {
      const at = n % 2 === 0 ? a : b
      const topic = n % 3 === 0 ? 'audit' : 'jobs'
      n++
      void at.bus.publish(topic, 'job', { n }).then((id) => published.push({ id, topic }))
    }, 3)
    cleanup(() => clearInterval(timer))

    const first = collect(`${a.url}/?topics=jobs`)
    await first.waitFor((e) => e.length >= 60)
    first.close()
    // What the client had when it went away (an event parsed already may still be dispatched after close)
    const firstIds = first.ids()
    const resumeFrom = String(firstIds.at(-1))
    await new Promise((r) => setTimeout(r, 150)) // some 50 events go by that only a replay can give
    const second = collect(`${b.url}/?topics=jobs`, { 'last-event-id': resumeFrom })
    await second.waitFor((e) => e.length >= 60)
    clearInterval(timer)
    await new Promise((r) => setTimeout(r, 100))
    const lastJob = Math.max(...published.filter((p) => p.topic === 'jobs').map((p) => p.id))
    await second.waitFor((e) => e.at(-1)?.id === String(lastJob))

    const seen = [...firstIds, ...second.ids()]
    const expected = published
      .filter((p) => p.topic === 'jobs')
      .map((p) => p.id)
      .sort((x, y) => x - y)
      .filter((id) => id >= (firstIds[0] as number))
    expect(second.events.some((e) => e.type === 'reset')).toBe(false)
    expect(seen).toEqual(expected)
  })

  it('answers a resume with an id newer than the cluster has issued with a reset on any hub', async () => {
    const key = `rb${++keyN}`
    const a = await hub(key)
    const id = await a.bus.publish('jobs', 'job', {})
    await expect.poll(() => a.bus.lastId).toBe(id)
    const c = collect(`${a.url}/?topics=jobs`, { 'last-event-id': String(id + 10) })
    await c.waitFor((e) => e.length >= 1)
    expect(c.events[0]).toMatchObject({ type: 'reset', id: String(id), data: { reason: 'unknown_id' } })
  })
})
