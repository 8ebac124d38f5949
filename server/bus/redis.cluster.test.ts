import { createClient } from 'redis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type PrivateRedis, startRedis } from '../testing/services.ts'
import { COUNTER_JUMP, RedisEventStream, type RedisEventStreamOptions, type StreamEvent } from './redis.ts'

let redis: PrivateRedis
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis?.stop()
})

let keyN = 0
const open: RedisEventStream[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()))
})

/** A hub's view of the stream: what its follower handed on, its gaps and its faults. */
async function hub(key: string, opts: Partial<RedisEventStreamOptions> = {}) {
  const seen: StreamEvent[] = []
  const gaps: [number, number][] = []
  const faults: (string | null)[] = []
  const stream = await RedisEventStream.open({
    url: redis.url,
    key,
    origin: 'hub-1',
    windowMs: 60_000,
    onEvent: (e) => seen.push(e),
    onGap: (a, b) => gaps.push([a, b]),
    onFault: (m) => faults.push(m),
    ...opts,
  })
  open.push(stream)
  return { stream, seen, gaps, faults }
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

const ev = (i: number, topic = 'metrics:edge-1'): Omit<StreamEvent, 'id'> => ({
  ts: 1_800_000_000_000 + i,
  topic,
  event: 'metrics',
  data: JSON.stringify({ i }),
})

describe('events on a Redis Stream', () => {
  it('gives events appended at two hubs at once one order, ids strictly increasing by one, the same at every follower', async () => {
    const key = `t${++keyN}`
    const a = await hub(key)
    const b = await hub(key)
    const ids = await Promise.all(Array.from({ length: 400 }, (_, i) => (i % 2 === 0 ? a : b).stream.append(ev(i), 0)))
    expect([...ids].sort((x, y) => x - y)).toEqual(Array.from({ length: 400 }, (_, i) => i + 1))
    await expect.poll(() => a.seen.length).toBe(400)
    await expect.poll(() => b.seen.length).toBe(400)
    expect(a.seen.map((e) => e.id)).toEqual(Array.from({ length: 400 }, (_, i) => i + 1))
    expect(b.seen).toEqual(a.seen)
    const byId = new Map(a.seen.map((e) => [e.id, e]))
    ids.forEach((id, i) => {
      expect(byId.get(id)).toEqual({ id, ...ev(i), origin: 'hub-1' })
    })
    expect(a.gaps).toEqual([])
  })

  it('replays exactly the events after any id to a client that resumes on another hub', async () => {
    const key = `t${++keyN}`
    const a = await hub(key)
    const b = await hub(key)
    // Bursts put many entries in one millisecond, pauses spread them over many: the search must find each one
    for (let i = 0; i < 300; i++) {
      await a.stream.append(ev(i), 0)
      if (i % 50 === 0) await new Promise((r) => setTimeout(r, 5))
    }
    await expect.poll(() => a.seen.length).toBe(300)
    for (let n = 0; n <= 300; n++) {
      const replay = await b.stream.after(n, 1000)
      expect(replay?.map((e) => e.id)).toEqual(a.seen.slice(n).map((e) => e.id))
    }
    expect(await b.stream.after(290, 5)).toEqual(a.seen.slice(290, 295))
  })

  it('answers a reset for an id older than the window it trims to, or newer than any issued', async () => {
    const key = `t${++keyN}`
    const a = await hub(key, { windowMs: 100 })
    // Trimming is by whole stream nodes (100 entries each): fill several, then let them age past the window
    for (let i = 0; i < 500; i++) await a.stream.append(ev(i), 0)
    await new Promise((r) => setTimeout(r, 300))
    const last = await a.stream.append(ev(500), 0)
    expect(last).toBe(501)
    expect(await a.stream.after(0, 1000)).toBeNull()
    expect(await a.stream.after(10, 1000)).toBeNull()
    expect(await a.stream.after(500, 1000)).toEqual([{ id: 501, ...ev(500), origin: 'hub-1' }])
    expect(await a.stream.after(501, 1000)).toEqual([])
    expect(await a.stream.after(502, 1000)).toBeNull()
  })

  it('skips an entry in the stream that no hub wrote, and follows on', async () => {
    const key = `t${++keyN}`
    const a = await hub(key)
    await a.stream.append(ev(0), 0)
    const raw = createClient({ url: redis.url })
    await raw.connect()
    await raw.sendCommand(['XADD', key, '*', 'junk', 'yes'])
    raw.destroy()
    await a.stream.append(ev(1), 0)
    await expect.poll(() => a.seen.map((e) => e.id)).toEqual([1, 2])
    expect(a.gaps).toEqual([])
  })

  it('follows on through Redis killed -9 and restarted: the fault is told and cleared, ids go on past every id seen, the lost ones are a gap and a reset', async () => {
    const key = `t${++keyN}`
    const a = await hub(key)
    const b = await hub(key)
    for (let i = 0; i < 10; i++) await a.stream.append(ev(i), 0)
    // Both have read all ten: the jump after the restart is counted from the last id a hub has seen
    await expect.poll(() => [a.seen.length, b.seen.length]).toEqual([10, 10])

    await redis.kill()
    await expect.poll(() => b.faults.some((f) => f?.startsWith('Redis unreachable'))).toBe(true)
    await expect(a.stream.append(ev(10), 0)).rejects.toThrow()
    await redis.start()

    // Appends fail at once while the client is offline (so a hub can fall back), until it has reconnected
    let next = 0
    while (next === 0) next = await a.stream.append(ev(11), 0).catch(() => delay(50).then(() => 0))
    expect(next).toBe(10 + COUNTER_JUMP)
    await expect.poll(() => b.seen.map((e) => e.id)).toEqual([...Array.from({ length: 10 }, (_, i) => i + 1), next])
    expect(b.gaps).toEqual([[10, next]])
    expect(b.faults.at(-1)).toBeNull()
    expect(await b.stream.after(5, 100)).toBeNull()
    expect(await b.stream.after(10, 100)).toBeNull()
    expect((await b.stream.after(next - 1, 100))?.map((e) => e.id)).toEqual([next])
  })
})
