import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import type { Hub } from '../hub.ts'
import type { MetricsEvent, ResetEvent } from '../protocol/index.ts'
import { Collector, sleep, startTestHub, type TestHub } from '../testing/hub.ts'

/** Publishes on an in-process bus, whose id is then its last one. */
function publishedId(hub: Hub, topic: string, event: string, payload: unknown): number {
  hub.bus.publish(topic, event, payload)
  return hub.bus.lastId
}

let t: TestHub | null = null
const collectors: Collector[] = []
function collect(url: string, types: string[], headers: Record<string, string> = {}): Collector {
  const c = new Collector(url, types, headers)
  collectors.push(c)
  return c
}

afterEach(async () => {
  for (const c of collectors.splice(0)) c.close()
  await t?.stop()
  t = null
})

const metricsOf = (c: Collector) => c.events.filter((e) => e.type === 'metrics').map((e) => e.data as MetricsEvent)

/** Reads a raw stream with fetch until `until` matches the text so far, then aborts. */
async function readRaw(url: string, until: RegExp, headers: Record<string, string> = {}) {
  const ac = new AbortController()
  const res = await fetch(url, { signal: ac.signal, headers })
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  let text = ''
  const deadline = setTimeout(() => ac.abort(), 10_000)
  try {
    while (!until.test(text)) {
      const { value, done } = await reader.read()
      if (done) break
      text += decoder.decode(value, { stream: true })
    }
  } finally {
    clearTimeout(deadline)
    ac.abort()
  }
  return { res, text }
}

describe('GET /api/stream', () => {
  it('delivers metrics events with increasing ids carrying cpu.usage_pct and mem.used_bytes', async () => {
    t = await startTestHub()
    const c = collect(`${t.hub.url}/api/stream`, ['metrics'])
    await c.waitFor(
      (evs) => evs.filter((e) => (e.data as MetricsEvent).values['cpu.usage_pct'] !== undefined).length >= 3,
    )
    const ids = c.ids()
    expect(ids.length).toBeGreaterThanOrEqual(3)
    for (let i = 1; i < ids.length; i++) expect(ids[i]).toBeGreaterThan(ids[i - 1] as number)
    const withCpu = metricsOf(c).filter((m) => m.values['cpu.usage_pct'] !== undefined)
    for (const m of withCpu) {
      expect(m.host).toBe(t.hub.host)
      expect(m.intervalMs).toBe(100)
      expect(m.values['cpu.usage_pct']).toBeGreaterThanOrEqual(0)
      expect(m.values['cpu.usage_pct']).toBeLessThanOrEqual(100)
      expect(m.values['mem.used_bytes']).toBeGreaterThan(0)
    }
  })

  it('opens with the SSE headers and a retry line, then sends a ping comment every VIGIL_SSE_HEARTBEAT_MS', async () => {
    t = await startTestHub({ VIGIL_SSE_HEARTBEAT_MS: '50', VIGIL_SSE_RETRY_MS: '1234', VIGIL_SAMPLE_MS: '60000' })
    const { res, text } = await readRaw(`${t.hub.url}/api/stream?topics=config`, /(: ping\n\n[\s\S]*){2}/)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(res.headers.get('cache-control')).toBe('no-cache, no-transform')
    expect(res.headers.get('x-accel-buffering')).toBe('no')
    // The id is the newest when the stream opened (the hub's own events may have come since)
    const opening = /^retry: 1234\nid: (\d+)\n\n/.exec(text)
    expect(opening).not.toBeNull()
    expect(Number(opening?.[1])).toBeLessThanOrEqual(t.hub.bus.lastId)
    expect(text.match(/^: ping$/gm)?.length).toBeGreaterThanOrEqual(2)
  })

  it('replays exactly the missed events after Last-Event-ID, as a never-disconnected client received them', async () => {
    t = await startTestHub()
    const url = `${t.hub.url}/api/stream`
    const steady = collect(url, ['metrics'])
    await steady.waitFor((e) => e.length >= 1)
    const flaky = collect(url, ['metrics'])
    await flaky.waitFor((e) => e.length >= 3)
    flaky.close()
    const lastSeen = flaky.ids().at(-1) as number
    await sleep(500)
    const resumed = collect(url, ['metrics'], { 'Last-Event-ID': String(lastSeen) })
    await resumed.waitFor((e) => e.length >= 8)
    const last = resumed.ids().at(-1) as number
    await steady.waitFor(() => steady.ids().includes(last))
    const first = flaky.ids()[0] as number
    const expected = steady.ids().filter((id) => id >= first && id <= last)
    expect([...flaky.ids(), ...resumed.ids()]).toEqual(expected)
    // The first replayed event is the steady client's next one: ids rise across topics, so not always by one
    expect(Number(resumed.events[0]?.id)).toBe(steady.ids().find((id) => id > lastSeen))
  })

  it('opens with the newest id, so a client that drops before its first event resumes from where it joined', async () => {
    // One tick at start, then none for a minute: the client joins after it and sees no event before the restart.
    // Browsers take the id from an id-only block (WHATWG "dispatch the event", step 1); the eventsource package
    // ignores such blocks, so this client is raw fetch, doing what a browser does.
    t = await startTestHub({ VIGIL_SAMPLE_MS: '60000', VIGIL_SLOW_SAMPLE_MS: '600000' })
    while (t.hub.bus.lastId === 0) await sleep(10)
    const joinedAt = t.hub.bus.lastId
    const { text } = await readRaw(`${t.hub.url}/api/stream?topics=metrics`, /\n\n/)
    expect(text).toBe(`retry: 2000\nid: ${joinedAt}\n\n`)
    const hub = await t.restart()
    while (hub.bus.lastId === joinedAt) await sleep(10)
    const firstOfRestart = hub.bus.lastId
    const resumed = collect(`${hub.url}/api/stream?topics=metrics`, ['metrics'], { 'Last-Event-ID': String(joinedAt) })
    await resumed.waitFor((e) => e.length >= 1)
    expect(resumed.ids()).toEqual([firstOfRestart])
  })

  it('resumes from ?lastEventId= exactly as from the Last-Event-ID header', async () => {
    t = await startTestHub()
    const url = `${t.hub.url}/api/stream`
    const first = collect(url, ['metrics'])
    await first.waitFor((e) => e.length >= 4)
    first.close()
    const from = first.ids()[1] as number
    const missed = first.ids().slice(2, 4)
    const byQuery = collect(`${url}?lastEventId=${from}`, ['metrics'])
    const byHeader = collect(url, ['metrics'], { 'Last-Event-ID': String(from) })
    await byQuery.waitFor((e) => e.length >= 2)
    await byHeader.waitFor((e) => e.length >= 2)
    expect(byQuery.ids().slice(0, 2)).toEqual(missed)
    expect(byHeader.ids().slice(0, 2)).toEqual(missed)
  })

  it('carries only the subscribed topics', async () => {
    t = await startTestHub({ VIGIL_SLOW_SAMPLE_MS: '1000' })
    const hostsOnly = collect(`${t.hub.url}/api/stream?topics=hosts`, ['metrics', 'host'])
    await hostsOnly.waitFor((e) => e.length >= 1)
    await sleep(300)
    expect(hostsOnly.events.every((e) => e.type === 'host')).toBe(true)
    const host = hostsOnly.events[0]?.data as { host: string; processes: { count: number; topCpu: unknown[] } }
    expect(host.host).toBe(t.hub.host)
    expect(host.processes.count).toBeGreaterThan(0)
    expect(host.processes.topCpu).toHaveLength(5)
  })

  it('continues ids above the old maximum after a restart on the same data dir and still serves the old history', async () => {
    t = await startTestHub()
    const before = collect(`${t.hub.url}/api/stream`, ['metrics'])
    await before.waitFor(() => metricsOf(before).filter((m) => m.values['cpu.usage_pct'] !== undefined).length >= 2)
    before.close()
    const oldMax = t.hub.bus.lastId
    const oldTs = metricsOf(before)
      .filter((m) => m.values['cpu.usage_pct'] !== undefined)
      .map((m) => m.ts)
    const hub = await t.restart()
    const after = collect(`${hub.url}/api/stream`, ['metrics'])
    await after.waitFor((e) => e.length >= 1)
    expect(Math.min(...after.ids())).toBeGreaterThan(oldMax)

    const from = Math.min(...oldTs)
    const res = await fetch(`${hub.url}/api/series?metric=cpu.usage_pct&from=${from}&to=${Date.now()}&points=10000`)
    expect(res.status).toBe(200)
    const body = (await res.json()) as { points: [number, number, number, number][] }
    const served = body.points.map((p) => p[0])
    for (const ts of oldTs) expect(served).toContain(ts)
  })

  it('replays across a restart from the persisted event log', async () => {
    t = await startTestHub()
    // `steady` stays connected until the hub ends its stream, so it holds every event of the first run
    const steady = collect(`${t.hub.url}/api/stream`, ['metrics'])
    const early = collect(`${t.hub.url}/api/stream`, ['metrics'])
    await early.waitFor((e) => e.length >= 2)
    early.close()
    const seen = early.ids()[1] as number
    await sleep(300)
    const oldMax = t.hub.bus.lastId
    const hub = await t.restart()
    steady.close()
    const missed = steady.ids().filter((id) => id > seen && id <= oldMax)
    expect(missed.length).toBeGreaterThan(0)
    const resumed = collect(`${hub.url}/api/stream`, ['metrics'], { 'Last-Event-ID': String(seen) })
    await resumed.waitFor(() => resumed.ids().some((id) => id > oldMax))
    expect(resumed.ids().filter((id) => id <= oldMax)).toEqual(missed)
    expect(resumed.ids().slice(0, missed.length)).toEqual(missed)
  })

  it('sends reset with too_old for a Last-Event-ID older than the replay window', async () => {
    t = await startTestHub({ VIGIL_REPLAY_S: '1' })
    const first = collect(`${t.hub.url}/api/stream`, ['metrics'])
    await first.waitFor((e) => e.length >= 2)
    first.close()
    const old = first.ids()[0] as number
    await sleep(1500)
    const hub = await t.restart() // the start prunes events older than the window
    const c = collect(`${hub.url}/api/stream`, ['reset', 'metrics'], { 'Last-Event-ID': String(old) })
    await c.waitFor((e) => e.length >= 2)
    expect(c.events[0]?.type).toBe('reset')
    expect(c.events[0]?.data as ResetEvent).toEqual({ reason: 'too_old', lastEventId: String(old) })
    expect(Number(c.events[1]?.id)).toBeGreaterThan(Number(c.events[0]?.id))
  })

  it('sends reset with unknown_id for a Last-Event-ID the hub never issued', async () => {
    t = await startTestHub()
    const c = collect(`${t.hub.url}/api/stream`, ['reset'], { 'Last-Event-ID': '999999' })
    await c.waitFor((e) => e.length >= 1)
    expect(c.events[0]?.data).toEqual({ reason: 'unknown_id', lastEventId: '999999' })
  })

  it('answers 400 invalid for an unknown topic or a non-decimal Last-Event-ID', async () => {
    t = await startTestHub({ VIGIL_SAMPLE_MS: '60000' })
    const badTopic = await fetch(`${t.hub.url}/api/stream?topics=metrics,bogus`)
    expect(badTopic.status).toBe(400)
    expect(((await badTopic.json()) as { error: { code: string } }).error.code).toBe('invalid')
    const badId = await fetch(`${t.hub.url}/api/stream`, { headers: { 'Last-Event-ID': '12abc' } })
    expect(badId.status).toBe(400)
    expect(await badId.json()).toEqual({
      error: { code: 'invalid', message: 'Last-Event-ID must be a decimal event id' },
    })
  })

  it('cuts off a client that never reads once its queue has not gone down for 5 s, while a reading client receives every event', async () => {
    t = await startTestHub({ VIGIL_SAMPLE_MS: '60000', VIGIL_SSE_BUFFER_BYTES: '65536' })
    const hub = t.hub
    const { token } = await hub.tokens.create('operator', 'ops')
    const reader = collect(`${hub.url}/api/stream?topics=audit`, ['audit'], { authorization: `Bearer ${token}` })
    await new Promise<void>((resolve) => reader.es.addEventListener('open', () => resolve()))
    // A raw socket that sends the request and then never reads a byte
    const stalled = connect(hub.port, '127.0.0.1')
    stalled.pause()
    stalled.write(`GET /api/stream?topics=audit HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n\r\n`)
    let stalledClosed = false
    stalled.on('close', () => {
      stalledClosed = true
    })
    stalled.on('error', () => {})
    while (hub.streams.clients < 2) await sleep(10)

    // Synthetic load: far more bytes than the stalled socket's kernel buffers and queue can hold
    const big = 'x'.repeat(16_000)
    const published: number[] = []
    for (let i = 0; i < 2000; i++) {
      published.push(publishedId(hub, 'audit', 'audit', { i, big }))
      // One event per turn of the event loop, so a client that reads keeps up as it would with real traffic
      await new Promise((resolve) => setImmediate(resolve))
    }

    await reader.waitFor((e) => e.length === published.length, 30_000)
    expect(reader.ids()).toEqual(published)
    // The stalled client fell behind at once; it is cut off when its queue has not gone down for 5 s
    await expect.poll(() => [hub.streams.dropped, hub.streams.clients], { timeout: 20_000 }).toEqual([1, 1])
    const stats = (await (await fetch(`${hub.url}/api/stats`)).json()) as { clients: number; droppedClients: number }
    expect(stats).toMatchObject({ clients: 1, droppedClients: 1 })
    stalled.resume()
    while (!stalledClosed) await sleep(10)
  })

  it('catches a reading client up from the log after a burst far larger than its buffer: every event once, in order, on one connection', async () => {
    t = await startTestHub({ VIGIL_SAMPLE_MS: '60000', VIGIL_SSE_BUFFER_BYTES: '65536' })
    const hub = t.hub
    const { token } = await hub.tokens.create('operator', 'ops')
    const reader = collect(`${hub.url}/api/stream?topics=audit`, ['audit'], { authorization: `Bearer ${token}` })
    let opens = 0
    reader.es.addEventListener('open', () => {
      opens++
    })
    await expect.poll(() => opens).toBe(1)
    // 2000 events of 16 KB in one turn of the event loop: 32 MB at once against a 64 KiB queue
    const big = 'z'.repeat(16_000)
    const published = Array.from({ length: 2000 }, (_, i) => publishedId(hub, 'audit', 'audit', { i, big }))
    await reader.waitFor((e) => e.length === published.length, 30_000)
    const live = publishedId(hub, 'audit', 'audit', { i: 'live' })
    await reader.waitFor((e) => e.length === published.length + 1)
    expect(reader.ids()).toEqual([...published, live])
    expect([opens, hub.streams.dropped, hub.streams.clients]).toEqual([1, 0, 1])
  })

  it('replays a backlog larger than the client buffer by waiting for it to drain, not by cutting it off', async () => {
    t = await startTestHub({ VIGIL_SAMPLE_MS: '60000', VIGIL_SSE_BUFFER_BYTES: '65536' })
    const hub = t.hub
    const start = publishedId(hub, 'audit', 'audit', { i: -1 })
    const big = 'y'.repeat(4000)
    const published: number[] = []
    for (let i = 0; i < 1000; i++) published.push(publishedId(hub, 'audit', 'audit', { i, big }))
    const { token } = await hub.tokens.create('operator', 'ops')
    const c = collect(`${hub.url}/api/stream?topics=audit`, ['audit'], {
      'Last-Event-ID': String(start),
      authorization: `Bearer ${token}`,
    })
    await c.waitFor((e) => e.length >= published.length, 30_000)
    const live = publishedId(hub, 'audit', 'audit', { i: 'live' })
    await c.waitFor((e) => e.length === published.length + 1)
    expect(c.ids()).toEqual([...published, live])
    expect(hub.streams.dropped).toBe(0)
  })
})
