import { afterEach, describe, expect, it } from 'vitest'
import type { AuditEntry, Job, LogEvent, LogLine } from '../protocol/index.ts'
import { ControlClient } from '../testing/control.ts'
import { Collector, type Received, sleep, startTestHub, type TestHub } from '../testing/hub.ts'
import { splitLines } from './logs.ts'

let t: TestHub | null = null
const closers: { close(): void }[] = []
afterEach(async () => {
  for (const c of closers.splice(0)) c.close()
  await t?.stop()
  t = null
})

async function setup(env: Record<string, string> = {}) {
  t = await startTestHub({ VIGIL_SAMPLE_MS: '60000', ...env })
  const h = t.hub
  const reporter = (await h.tokens.create('reporter', 'ci')).token
  const api =
    (token: string) =>
    async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
      const res = await fetch(`${h.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      })
      return { status: res.status, body: (await res.json()) as Record<string, unknown> }
    }
  return { h, reporter, as: api }
}

function collect(url: string, types: string[], headers: Record<string, string> = {}) {
  const c = new Collector(url, types, headers)
  closers.push(c)
  return c
}

describe('job ingest API and streams', () => {
  it('reports a job: progress never goes backwards, steps, every line once and in order, then succeeded', async () => {
    const { h, reporter, as } = await setup()
    const api = as(reporter)
    const created = await api('POST', '/api/jobs', { name: 'nightly backup', labels: { env: 'prod' } })
    expect(created.status).toBe(201)
    const id = created.body.id as string
    expect(created.body).toMatchObject({
      name: 'nightly backup',
      labels: { env: 'prod' },
      state: 'running',
      attempt: 1,
      host: h.host,
    })

    const stream = collect(`${h.url}/api/stream?topics=job:${id}`, ['job', 'log'])
    await stream.waitFor((e) => e.length >= 2) // the opening snapshot: the job, then its (empty) tail
    await api('POST', `/api/jobs/${id}/progress`, { step: { index: 1, count: 2, name: 'dump' }, percent: 10 })
    await api('POST', `/api/jobs/${id}/progress`, { current: 400, total: 1000, unit: 'rows' })
    const back = await api('POST', `/api/jobs/${id}/progress`, { percent: 30 })
    expect((back.body.progress as Job['progress']).percent).toBe(40)
    expect(
      (
        await api('POST', `/api/jobs/${id}/logs?batch=0`, [
          { text: 'one\ntwo\r\nthree' },
          { stream: 'stderr', text: 'oops' },
        ])
      ).body,
    ).toEqual({
      duplicate: false,
      lines: 4,
      lastSeq: 4,
    })
    const nd = await api(
      'POST',
      `/api/jobs/${id}/logs?batch=1`,
      '{"text":"five"}\n{"text":"six","stream":"system"}\n',
      {
        'content-type': 'application/x-ndjson',
      },
    )
    expect(nd.body).toEqual({ duplicate: false, lines: 2, lastSeq: 6 })
    await api('POST', `/api/jobs/${id}/progress`, { step: { index: 2, count: 2, name: 'upload' }, percent: 100 })
    const done = await api('POST', `/api/jobs/${id}/finish`, { state: 'succeeded', exitCode: 0 })
    expect(done.body).toMatchObject({ state: 'succeeded', exitCode: 0, log: { lines: 6, dropped: 0 } })

    await stream.waitFor((e) => e.some((x) => x.type === 'job' && (x.data as Job).state === 'succeeded'))
    const lines = stream.events.filter((e) => e.type === 'log').flatMap((e) => (e.data as LogEvent).lines)
    expect(lines.map((l) => [l.seq, l.stream, l.text])).toEqual([
      [1, 'stdout', 'one'],
      [2, 'stdout', 'two'],
      [3, 'stdout', 'three'],
      [4, 'stderr', 'oops'],
      [5, 'stdout', 'five'],
      [6, 'system', 'six'],
    ])
    const percents = stream.events.filter((e) => e.type === 'job').map((e) => (e.data as Job).progress.percent)
    expect(percents).toEqual([null, 10, 40, 40, 100, 100])
    const steps = stream.events.filter((e) => e.type === 'job').map((e) => (e.data as Job).progress.step?.name ?? null)
    expect(steps).toEqual([null, 'dump', 'dump', 'dump', 'upload', 'upload'])
  })

  it('acknowledges a retried log batch without storing its lines again', async () => {
    const { reporter, as } = await setup()
    const api = as(reporter)
    const id = (await api('POST', '/api/jobs', { name: 'import' })).body.id as string
    await api('POST', `/api/jobs/${id}/logs?batch=0`, [{ text: 'a' }, { text: 'b' }])
    const again = await api('POST', `/api/jobs/${id}/logs?batch=0`, [{ text: 'a' }, { text: 'b' }])
    expect(again.body).toEqual({ duplicate: true, lines: 0, lastSeq: 2 })
    const logs = await api('GET', `/api/jobs/${id}/logs`)
    expect((logs.body.lines as LogLine[]).map((l) => l.text)).toEqual(['a', 'b'])
  })

  it('searches the whole stored log with ?q=, case-insensitively, taking % and _ literally, paged by after', async () => {
    const { reporter, as } = await setup()
    const api = as(reporter)
    const id = (await api('POST', '/api/jobs', { name: 'build' })).body.id as string
    const text = Array.from({ length: 5000 }, (_, i) => (i % 1000 === 999 ? `ERROR at step ${i + 1}` : `ok ${i + 1}`))
    await api(
      'POST',
      `/api/jobs/${id}/logs?batch=0`,
      text.map((t) => ({ text: t })),
    )
    await api('POST', `/api/jobs/${id}/logs?batch=1`, [{ text: '100% done_now' }, { text: '100x done-now' }])
    const seqs = async (query: string) =>
      ((await api('GET', `/api/jobs/${id}/logs?${query}`)).body.lines as LogLine[]).map((l) => [l.seq, l.text])
    expect(await seqs('q=error')).toEqual([
      [1000, 'ERROR at step 1000'],
      [2000, 'ERROR at step 2000'],
      [3000, 'ERROR at step 3000'],
      [4000, 'ERROR at step 4000'],
      [5000, 'ERROR at step 5000'],
    ])
    expect(await seqs('q=Error&after=2000&limit=2')).toEqual([
      [3000, 'ERROR at step 3000'],
      [4000, 'ERROR at step 4000'],
    ])
    expect(await seqs(`q=${encodeURIComponent('0% done_')}`)).toEqual([[5001, '100% done_now']])
    expect(await seqs('q=nothing-like-it')).toEqual([])
    expect((await api('GET', `/api/jobs/${id}/logs?q=`)).status).toBe(400)
  })

  it('keeps the first 1,000 and the last N lines and says how many were dropped', async () => {
    const { reporter, as } = await setup({ VIGIL_JOB_LOG_LINES: '100' })
    const api = as(reporter)
    const id = (await api('POST', '/api/jobs', { name: 'chatty' })).body.id as string
    const text = Array.from({ length: 1500 }, (_, i) => `line ${i + 1}`).join('\n')
    await api('POST', `/api/jobs/${id}/logs?batch=0`, [{ text }])
    const logs = await api('GET', `/api/jobs/${id}/logs?limit=10000`)
    const seqs = (logs.body.lines as LogLine[]).map((l) => l.seq)
    expect(seqs).toEqual([
      ...Array.from({ length: 1000 }, (_, i) => i + 1),
      ...Array.from({ length: 100 }, (_, i) => 1401 + i),
    ])
    expect(logs.body.dropped).toBeNull()
    const after = await api('GET', `/api/jobs/${id}/logs?after=1000&limit=5`)
    expect(after.body.dropped).toEqual({ after: 1000, count: 400 })
    expect((after.body.lines as LogLine[])[0]?.seq).toBe(1401)
  })

  it('cuts a line over 16 KiB and marks it', () => {
    const [line] = splitLines('x'.repeat(20_000))
    expect(line?.cut).toBe(true)
    expect(line?.text).toHaveLength(16_384)
    expect(splitLines('a\r\nb\rc\n')).toEqual([
      { text: 'a', cut: false },
      { text: 'b', cut: false },
      { text: 'c', cut: false },
    ])
  })

  it('opens a job:<id> stream with the job and its last `tail` lines, and a resume replays exactly the missed lines', async () => {
    const { h, reporter, as } = await setup()
    const api = as(reporter)
    const id = (await api('POST', '/api/jobs', { name: 'tail me' })).body.id as string
    await api('POST', `/api/jobs/${id}/logs?batch=0`, [
      { text: Array.from({ length: 300 }, (_, i) => `l${i + 1}`).join('\n') },
    ])
    const first = collect(`${h.url}/api/stream?topics=job:${id}&tail=50`, ['job', 'log'])
    await first.waitFor((e) => e.length >= 2)
    expect(first.events[0]?.type).toBe('job')
    expect(((first.events[1] as Received).data as LogEvent).lines.map((l) => l.seq)).toEqual(
      Array.from({ length: 50 }, (_, i) => 251 + i),
    )
    await api('POST', `/api/jobs/${id}/logs?batch=1`, [{ text: 'l301\nl302' }])
    await first.waitFor((e) => e.length >= 3)
    first.close()
    const seen = first.events.at(-1)?.id as string
    await api('POST', `/api/jobs/${id}/logs?batch=2`, [{ text: 'l303' }])
    await api('POST', `/api/jobs/${id}/logs?batch=3`, [{ text: 'l304\nl305' }])
    const resumed = collect(`${h.url}/api/stream?topics=job:${id}`, ['job', 'log'], { 'Last-Event-ID': seen })
    await resumed.waitFor((e) => e.filter((x) => x.type === 'log').length >= 2)
    const union = [...first.events, ...resumed.events]
      .filter((e) => e.type === 'log')
      .flatMap((e) => (e.data as LogEvent).lines.map((l) => l.seq))
    expect(union).toEqual(Array.from({ length: 55 }, (_, i) => 251 + i))
  })

  it('coalesces progress on the jobs topic to at most 4 summaries a second, always sending the last', async () => {
    const { h, reporter, as } = await setup()
    const api = as(reporter)
    const id = (await api('POST', '/api/jobs', { name: 'busy' })).body.id as string
    const summaries = collect(`${h.url}/api/stream?topics=jobs`, ['job'])
    await new Promise<void>((resolve) => summaries.es.addEventListener('open', () => resolve()))
    const start = Date.now()
    for (let p = 1; p <= 40; p++) await api('POST', `/api/jobs/${id}/progress`, { percent: p * 2.5 })
    const elapsed = Date.now() - start
    await summaries.waitFor((e) => e.some((x) => (x.data as Job).progress.percent === 100))
    await sleep(300)
    const mine = summaries.events.filter((e) => (e.data as Job).id === id)
    expect(mine.length).toBeLessThanOrEqual(Math.ceil(elapsed / 250) + 2)
    expect(mine.length).toBeLessThan(40)
    expect(((mine.at(-1) as Received).data as Job).progress.percent).toBe(100)
  })
})

describe('who may touch a job, and bad input', () => {
  it('lets a reporter token touch only its own jobs, and keeps viewers to reading', async () => {
    const { h, reporter, as } = await setup()
    const other = (await h.tokens.create('reporter', 'other')).token
    const viewer = (await h.tokens.create('viewer', 'wall')).token
    const operator = (await h.tokens.create('operator', 'ops')).token
    const id = (await as(reporter)('POST', '/api/jobs', { name: 'mine' })).body.id as string
    const denied = await as(other)('POST', `/api/jobs/${id}/progress`, { percent: 5 })
    expect(denied).toEqual({
      status: 403,
      body: { error: { code: 'forbidden', message: 'This token may only touch the jobs it created' } },
    })
    expect((await as(other)('GET', `/api/jobs/${id}`)).status).toBe(403)
    expect((await as(operator)('POST', `/api/jobs/${id}/progress`, { percent: 5 })).status).toBe(200)
    const viewerPost = await as(viewer)('POST', '/api/jobs', { name: 'nope' })
    expect(viewerPost).toEqual({
      status: 403,
      body: { error: { code: 'forbidden', message: 'Role viewer may not report jobs' } },
    })
    expect((await as(viewer)('GET', `/api/jobs/${id}`)).body).toMatchObject({ id, name: 'mine' })
    const list = await as(viewer)('GET', '/api/jobs?name=mi')
    expect((list.body.jobs as Job[]).map((j) => j.id)).toEqual([id])
  })

  it('answers wrong types, unknown jobs, finished jobs and a 10 MB body with the right 4xx and code', async () => {
    const { reporter, as } = await setup()
    const api = as(reporter)
    expect((await api('POST', '/api/jobs', { name: 7 })).body).toMatchObject({ error: { code: 'invalid' } })
    expect((await api('POST', '/api/jobs', { name: 'x', extra: 1 })).status).toBe(400)
    const id = (await api('POST', '/api/jobs', { name: 'x' })).body.id as string
    expect((await api('POST', `/api/jobs/${id}/progress`, { percent: 'half' })).status).toBe(400)
    expect((await api('POST', `/api/jobs/${id}/logs`, [{ text: 'no batch' }])).body).toMatchObject({
      error: { code: 'invalid' },
    })
    expect((await api('POST', `/api/jobs/${id}/logs?batch=0`, '{"text": broken')).body).toEqual({
      error: { code: 'invalid', message: 'Body is not valid JSON (or NDJSON)' },
    })
    expect((await api('POST', `/api/jobs/${id}/heartbeat`, { cpuPct: -1, rssBytes: 5 })).status).toBe(400)
    expect((await api('POST', `/api/jobs/${id}/heartbeat`, '{oops')).body).toEqual({
      error: { code: 'invalid', message: 'Body is not valid JSON' },
    })
    const unknown = await as(reporter)('POST', '/api/jobs/jnope/heartbeat')
    expect(unknown).toEqual({ status: 404, body: { error: { code: 'not_found', message: 'No job jnope' } } })
    const operatorToken = (await t?.hub.tokens.create('operator', 'ops'))?.token as string
    expect((await as(operatorToken)('GET', '/api/jobs/jnope')).status).toBe(404)
    const huge = await api('POST', `/api/jobs/${id}/logs?batch=0`, [{ text: 'x'.repeat(10 * 1024 * 1024) }])
    expect(huge).toEqual({
      status: 413,
      body: { error: { code: 'payload_too_large', message: 'Body over 1048576 bytes' } },
    })
    expect((await api('POST', `/api/jobs/${id}/finish`, { state: 'failed', exitCode: 3 })).body).toMatchObject({
      state: 'failed',
      exitCode: 3,
    })
    const twice = await api('POST', `/api/jobs/${id}/finish`, { state: 'succeeded' })
    expect(twice).toEqual({
      status: 409,
      body: { error: { code: 'conflict', message: `Job ${id} is failed already` } },
    })
  })
})

describe('cancel and lost jobs', () => {
  it('cancels over the control channel: accepted, cancelling, the heartbeat asks the runner to stop, then cancelled; audited with actor and reason', async () => {
    const { h, reporter, as } = await setup()
    const api = as(reporter)
    const id = (await api('POST', '/api/jobs', { name: 'sleep 300' })).body.id as string
    const operator = (await h.tokens.create('operator', 'alice')).token
    const ws = new ControlClient(`ws://127.0.0.1:${h.port}/api/control`, { authorization: `Bearer ${operator}` })
    closers.push(ws)
    await ws.opened()
    const ack = await ws.request({ id: 1, type: 'job.cancel', jobId: id, reason: 'stuck for an hour' })
    expect(ack).toMatchObject({
      id: 1,
      ok: true,
      result: { id, state: 'cancelling', cancelRequested: { by: 'alice', reason: 'stuck for an hour' } },
    })
    expect((await api('POST', `/api/jobs/${id}/heartbeat`)).body).toMatchObject({
      cancelRequested: { by: 'alice', reason: 'stuck for an hour' },
    })
    expect(await ws.request({ id: 2, type: 'job.cancel', jobId: id })).toMatchObject({
      id: 2,
      ok: false,
      error: { code: 'conflict' },
    })
    expect((await api('POST', `/api/jobs/${id}/finish`, { state: 'cancelled', exitCode: 130 })).body).toMatchObject({
      state: 'cancelled',
    })
    const audit = (await (
      await fetch(`${h.url}/api/audit?limit=5`, { headers: { authorization: `Bearer ${operator}` } })
    ).json()) as {
      entries: AuditEntry[]
    }
    expect(audit.entries.map((e) => [e.command, e.actor, e.outcome, e.args])).toEqual([
      ['job.cancel', 'alice', 'failed', { jobId: id }],
      ['job.cancel', 'alice', 'accepted', { jobId: id, reason: 'stuck for an hour' }],
    ])
  })

  it('answers job.retry with conflict while the job runs, and when no runner waits for it', async () => {
    const { h, reporter, as } = await setup()
    const api = as(reporter)
    const id = (await api('POST', '/api/jobs', { name: 'reported', command: ['true'] })).body.id as string
    const ws = new ControlClient(`ws://127.0.0.1:${h.port}/api/control`, {
      authorization: `Bearer ${(await h.tokens.create('operator', 'o')).token}`,
    })
    closers.push(ws)
    await ws.opened()
    expect(await ws.request({ id: 1, type: 'job.retry', jobId: id })).toMatchObject({
      ok: false,
      error: { code: 'conflict', message: `Job ${id} is running: only a finished job can be retried` },
    })
    await api('POST', `/api/jobs/${id}/finish`, { state: 'failed', exitCode: 1 })
    expect(await ws.request({ id: 2, type: 'job.retry', jobId: id })).toMatchObject({
      ok: false,
      error: {
        code: 'conflict',
        message: `No runner is waiting to retry job ${id}: start vigil run with --wait-retry, or run it again`,
      },
    })
  })

  it('marks a running job lost when its heartbeat stops', async () => {
    const { h, reporter, as } = await setup({ VIGIL_JOB_LOST_MS: '1000' })
    const id = (await as(reporter)('POST', '/api/jobs', { name: 'vanishes' })).body.id as string
    const summaries = collect(`${h.url}/api/stream?topics=jobs`, ['job'])
    await summaries.waitFor((e) => e.some((x) => (x.data as Job).id === id && (x.data as Job).state === 'lost'), 10_000)
    expect((await as(reporter)('GET', `/api/jobs/${id}`)).body).toMatchObject({ state: 'lost' })
  })
})
