import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ROOT } from '../paths.ts'
import type { AuditEntry, Job, LogEvent, LogLine } from '../protocol/index.ts'
import { ControlClient } from '../testing/control.ts'
import { Collector, startTestHub, type TestHub } from '../testing/hub.ts'

let t: TestHub | null = null
const closers: { close(): void }[] = []
const children: ChildProcess[] = []
afterEach(async () => {
  for (const c of closers.splice(0)) c.close()
  for (const c of children.splice(0)) c.kill('SIGKILL')
  await t?.stop()
  t = null
})

/** The real CLI as a child process: `vigil run … -- command`. */
function vigilRun(url: string, token: string, args: string[], command: string[], env: Record<string, string> = {}) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'server/main.ts'), 'run', '--url', url, '--token', token, ...args, '--', ...command],
    { cwd: ROOT, env: { ...process.env, ...env } },
  )
  children.push(child)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString()
  })
  const jobId = new Promise<string>((resolve) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
      const m = /vigil run: job (j[0-9a-f]+):/.exec(stderr)
      if (m?.[1]) resolve(m[1])
    })
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { child, jobId, exited, stdout: () => stdout, stderr: () => stderr }
}

async function setup() {
  t = await startTestHub({ VIGIL_SAMPLE_MS: '60000' })
  const reporter = (await t.hub.tokens.create('reporter', 'runner')).token
  return { h: t.hub, reporter }
}

function jobStream(url: string, id: string, headers: Record<string, string> = {}) {
  const c = new Collector(`${url}/api/stream?topics=job:${id}`, ['job', 'log'], headers)
  closers.push(c)
  return c
}

const linesOf = (c: Collector) => c.events.filter((e) => e.type === 'log').flatMap((e) => (e.data as LogEvent).lines)
const statesOf = (c: Collector) => c.events.filter((e) => e.type === 'job').map((e) => (e.data as Job).state)
const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('vigil run', () => {
  it('reports progress up to 100, the steps, every line exactly once and in order, then succeeded and the exit code', async () => {
    const { h, reporter } = await setup()
    const script = [
      'sleep 0.5',
      'echo "::step 1/2 count"',
      'for i in $(seq 1 50); do echo "line $i"; if [ $((i % 10)) = 0 ]; then echo "::progress $((i * 2))"; fi; done',
      'sleep 0.4',
      'echo "::step 2/2 finish"',
      'echo "to stderr" >&2',
    ].join('; ')
    const run = vigilRun(h.url, reporter, ['--name', 'counting'], ['bash', '-c', script])
    const id = await run.jobId
    const stream = jobStream(h.url, id)
    expect(await run.exited).toBe(0)
    await stream.waitFor(() => statesOf(stream).includes('succeeded'))
    const lines = linesOf(stream)
    expect(lines.filter((l) => l.stream === 'stdout').map((l) => l.text)).toEqual(
      Array.from({ length: 50 }, (_, i) => `line ${i + 1}`),
    )
    expect(lines.filter((l) => l.stream === 'stderr').map((l) => l.text)).toEqual(['to stderr'])
    expect(lines.map((l) => l.seq)).toEqual(Array.from({ length: 51 }, (_, i) => i + 1))
    const jobs = stream.events.filter((e) => e.type === 'job').map((e) => e.data as Job)
    const percents = jobs.map((j) => j.progress.percent).filter((p) => p !== null)
    expect(percents.at(-1)).toBe(100)
    for (let i = 1; i < percents.length; i++) expect(percents[i]).toBeGreaterThanOrEqual(percents[i - 1] as number)
    expect(new Set(jobs.map((j) => j.progress.step?.name).filter(Boolean))).toEqual(new Set(['count', 'finish']))
    expect(jobs.at(-1)).toMatchObject({ state: 'succeeded', exitCode: 0, name: 'counting' })
    expect(run.stdout()).toContain('line 50\n')
    // The link it prints is the job's dashboard page
    expect(run.stderr()).toContain(`vigil run: job ${id}: ${h.url}/jobs/${id}\n`)
  })

  it('delivers each of 300,000 lines of seq exactly once and in order, live to a subscriber with a 64 KiB queue and stored', {
    timeout: 120_000,
  }, async () => {
    t = await startTestHub({
      VIGIL_SAMPLE_MS: '60000',
      VIGIL_SSE_BUFFER_BYTES: '65536',
      VIGIL_JOB_LOG_LINES: '1000000',
    })
    const h = t.hub
    const reporter = (await h.tokens.create('reporter', 'runner')).token
    const n = 300_000
    // Subscribed from before the job exists: the stream replays what came before it opened, then goes live
    const { lastEventId } = (await (await fetch(`${h.url}/api/stats`)).json()) as { lastEventId: number }
    const run = vigilRun(h.url, reporter, [], ['seq', String(n)])
    const id = await run.jobId
    const stream = jobStream(h.url, id, { 'Last-Event-ID': String(lastEventId) })
    expect(await run.exited).toBe(0)
    await stream.waitFor(() => statesOf(stream).includes('succeeded'), 60_000)
    const expected = Array.from({ length: n }, (_, i) => String(i + 1)).join('\n')
    const live = linesOf(stream)
    expect(live.map((l) => l.text).join('\n')).toBe(expected)
    expect(live.every((l, i) => l.seq === i + 1 && l.stream === 'stdout' && !l.cut)).toBe(true)
    const stored: LogLine[] = []
    for (let after = 0; ; after = stored.length) {
      const page = (await (await fetch(`${h.url}/api/jobs/${id}/logs?after=${after}&limit=10000`)).json()) as {
        lines: LogLine[]
      }
      if (page.lines.length === 0) break
      stored.push(...page.lines)
    }
    expect(stored.map((l) => l.text).join('\n')).toBe(expected)
    expect(stored.every((l, i) => l.seq === i + 1)).toBe(true)
    // Echoed as the command printed it
    expect(run.stdout()).toBe(`${expected}\n`)
    expect(h.streams.dropped).toBe(0)
  })

  it('keeps empty lines, CRLF and CR line ends, stderr beside stdout, and takes directives out, whatever the read boundaries', async () => {
    const { h, reporter } = await setup()
    const script =
      "printf 'a\\r\\nb\\rc\\n\\n::progress 40\\n'; printf 'err\\n' >&2; sleep 0.3; printf 'd'; sleep 0.3; printf 'e\\n\\n'; printf 'no end'"
    const run = vigilRun(h.url, reporter, [], ['bash', '-c', script])
    const id = await run.jobId
    expect(await run.exited).toBe(0)
    const logs = (await (await fetch(`${h.url}/api/jobs/${id}/logs`)).json()) as { lines: LogLine[] }
    expect(logs.lines.filter((l) => l.stream === 'stdout').map((l) => l.text)).toEqual([
      'a',
      'b',
      'c',
      '',
      'de',
      '',
      'no end',
    ])
    expect(logs.lines.filter((l) => l.stream === 'stderr').map((l) => l.text)).toEqual(['err'])
    expect(logs.lines.map((l) => l.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    const job = (await (await fetch(`${h.url}/api/jobs/${id}`)).json()) as Job
    expect(job.progress.percent).toBe(40)
  })

  it('reports a failing command as failed with its exit code, and exits with the same code', async () => {
    const { h, reporter } = await setup()
    const run = vigilRun(h.url, reporter, [], ['bash', '-c', 'echo nope; exit 7'])
    const id = await run.jobId
    expect(await run.exited).toBe(7)
    const job = (await (await fetch(`${h.url}/api/jobs/${id}`)).json()) as Job
    expect(job).toMatchObject({ state: 'failed', exitCode: 7, name: 'bash -c echo nope; exit 7' })
  })

  it('gives a client that disconnects mid-run and resumes with Last-Event-ID exactly the job’s lines, none twice', async () => {
    const { h, reporter } = await setup()
    const run = vigilRun(
      h.url,
      reporter,
      [],
      ['bash', '-c', 'sleep 0.3; for i in $(seq 1 40); do echo "n$i"; sleep 0.03; done'],
    )
    const id = await run.jobId
    const first = jobStream(h.url, id)
    await first.waitFor(() => linesOf(first).length >= 10)
    first.close()
    const last = first.events.at(-1)?.id as string
    const resumed = jobStream(h.url, id, { 'Last-Event-ID': last })
    expect(await run.exited).toBe(0)
    await resumed.waitFor(() => statesOf(resumed).includes('succeeded'))
    const union = [...linesOf(first), ...linesOf(resumed)].map((l) => l.text)
    expect(union).toEqual(Array.from({ length: 40 }, (_, i) => `n${i + 1}`))
  })

  it('cancels a sleep 300 job from the control channel: cancelling, then cancelled within the grace period, its processes gone, audited', async () => {
    const { h, reporter } = await setup()
    const run = vigilRun(h.url, reporter, ['--grace', '5'], ['bash', '-c', 'echo $$; exec sleep 300'])
    const id = await run.jobId
    const stream = jobStream(h.url, id)
    await stream.waitFor(() => linesOf(stream).length >= 1)
    const pids = linesOf(stream).map((l) => Number(l.text))
    expect(pids.every(alive)).toBe(true)
    const operator = (await h.tokens.create('operator', 'alice')).token
    const ws = new ControlClient(`ws://127.0.0.1:${h.port}/api/control`, { authorization: `Bearer ${operator}` })
    closers.push(ws)
    await ws.opened()
    expect(await ws.request({ id: 1, type: 'job.cancel', jobId: id, reason: 'maintenance window' })).toMatchObject({
      id: 1,
      ok: true,
      result: { state: 'cancelling' },
    })
    await run.exited
    await stream.waitFor(() => statesOf(stream).includes('cancelled'))
    expect(statesOf(stream).filter((s) => s !== 'running')).toEqual(['cancelling', 'cancelled'])
    expect(pids.some(alive)).toBe(false)
    const job = (await (await fetch(`${h.url}/api/jobs/${id}`)).json()) as Job
    expect(job.cancelRequested).toMatchObject({ by: 'alice', reason: 'maintenance window' })
    // SIGINT was enough: confirmed before the 5 s grace ran out and SIGTERM was due
    expect((job.finishedAt as number) - (job.cancelRequested?.at as number)).toBeLessThan(5000)
    expect(job.exitCode).toBe(130)
    const audit = (await (
      await fetch(`${h.url}/api/audit?limit=1`, { headers: { authorization: `Bearer ${operator}` } })
    ).json()) as {
      entries: AuditEntry[]
    }
    expect(audit.entries[0]).toMatchObject({
      command: 'job.cancel',
      actor: 'alice',
      args: { jobId: id, reason: 'maintenance window' },
    })
  })

  it('kills a command that ignores SIGINT and SIGTERM by escalating to SIGKILL', async () => {
    const { h, reporter } = await setup()
    const script = "trap '' INT TERM; echo $$; sleep 300 & echo $!; wait; wait; wait"
    const run = vigilRun(h.url, reporter, ['--grace', '1'], ['bash', '-c', script])
    const id = await run.jobId
    const stream = jobStream(h.url, id)
    await stream.waitFor(() => linesOf(stream).length >= 2)
    const pids = linesOf(stream).map((l) => Number(l.text))
    const operator = (await h.tokens.create('operator', 'bob')).token
    const ws = new ControlClient(`ws://127.0.0.1:${h.port}/api/control`, { authorization: `Bearer ${operator}` })
    closers.push(ws)
    await ws.opened()
    await ws.request({ id: 1, type: 'job.cancel', jobId: id })
    expect(await run.exited).toBe(137)
    expect(pids.some(alive)).toBe(false)
    await stream.waitFor(() => statesOf(stream).includes('cancelled'))
    expect(run.stderr()).toContain('cancel requested by bob: SIGINT, then SIGTERM after 1 s, then SIGKILL')
  })

  it('reports the CPU and memory of the command’s process tree as job metrics', async () => {
    const { h, reporter } = await setup()
    // A child that spins for 5 s: two heartbeats, the second measuring the first's span
    const run = vigilRun(
      h.url,
      reporter,
      [],
      ['bash', '-c', 'bash -c "end=\\$((SECONDS+5)); while [ \\$SECONDS -lt \\$end ]; do :; done" & wait'],
    )
    const id = await run.jobId
    expect(await run.exited).toBe(0)
    const job = (await (await fetch(`${h.url}/api/jobs/${id}`)).json()) as Job
    expect(job.resources?.cpuPct).toBeGreaterThan(30)
    expect(job.resources?.rssBytes).toBeGreaterThan(100_000)
    const series = await fetch(`${h.url}/api/series?metric=job.${id}.cpu_pct&from=0&points=100`)
    expect(series.status).toBe(200)
    expect(((await series.json()) as { points: unknown[] }).points.length).toBeGreaterThanOrEqual(1)
    const catalog = (await (await fetch(`${h.url}/api/metrics/catalog`)).json()) as { name: string; unit: string }[]
    expect(catalog).toContainEqual(expect.objectContaining({ name: `job.${id}.rss_bytes`, unit: 'bytes' }))
  })

  it('runs the command again as a new attempt when an operator retries the failed job while vigil run waits', async () => {
    const { h, reporter } = await setup()
    const mark = join((t as TestHub).dir, 'ran-once')
    const script = 'if [ -f "$MARK" ]; then echo second; exit 0; else touch "$MARK"; echo first; exit 1; fi'
    const run = vigilRun(h.url, reporter, ['--wait-retry', '30'], ['bash', '-c', script], { MARK: mark })
    const id = await run.jobId
    // Waiting means heartbeats after the end
    for (;;) {
      const job = (await (await fetch(`${h.url}/api/jobs/${id}`)).json()) as Job
      if (job.state === 'failed' && (job.heartbeatAt ?? 0) > (job.finishedAt ?? 0)) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const operator = (await h.tokens.create('operator', 'carol')).token
    const ws = new ControlClient(`ws://127.0.0.1:${h.port}/api/control`, { authorization: `Bearer ${operator}` })
    closers.push(ws)
    await ws.opened()
    const ack = await ws.request({ id: 1, type: 'job.retry', jobId: id })
    expect(ack).toMatchObject({
      id: 1,
      ok: true,
      result: { state: 'queued', attempt: 2, retryOf: id, name: `bash -c ${script}` },
    })
    const retryId = (ack as { result: Job }).result.id
    expect(await run.exited).toBe(0)
    const retried = (await (await fetch(`${h.url}/api/jobs/${retryId}`)).json()) as Job
    expect(retried).toMatchObject({ state: 'succeeded', exitCode: 0, attempt: 2, retryOf: id })
    const logs = (await (await fetch(`${h.url}/api/jobs/${retryId}/logs`)).json()) as { lines: LogLine[] }
    expect(logs.lines.map((l) => l.text)).toEqual(['second'])
    expect(((await (await fetch(`${h.url}/api/jobs/${id}`)).json()) as Job).retriedAs).toBe(retryId)
    expect(await ws.request({ id: 2, type: 'job.retry', jobId: id })).toMatchObject({
      ok: false,
      error: { code: 'conflict', message: `Job ${id} was retried already, as ${retryId}` },
    })
  })

  it('still runs the command, unreported, when the hub refuses the token, and exits with its code at once', async () => {
    const { h } = await setup()
    const run = vigilRun(h.url, 'vgl_not_a_token', [], ['bash', '-c', 'echo hi; exit 4'])
    expect(await run.exited).toBe(4)
    expect(run.stdout()).toBe('hi\n')
    expect(run.stderr()).toContain('vigil run: could not create the job, so it is not reported: POST /api/jobs: 401')
  })

  it('passes SIGTERM to the command and gives up on a hub that is gone within seconds, not the 5-minute catch-up', async () => {
    const { h, reporter } = await setup()
    const run = vigilRun(h.url, reporter, [], ['bash', '-c', 'echo started; sleep 300'])
    await run.jobId
    await (t as TestHub).hub.close()
    run.child.kill('SIGTERM')
    // The test's own 30 s timeout is the bound: without the signal cutting it short this waits 5 minutes
    expect(await run.exited).toBe(143)
    expect(run.stdout()).toBe('started\n')
    expect(run.stderr()).toContain('vigil run: the hub stayed unreachable; the end of this job was not reported')
  }, 30_000)

  it('stops waiting for a retry when it gets SIGINT, and exits with the command’s code', async () => {
    const { h, reporter } = await setup()
    const run = vigilRun(h.url, reporter, ['--wait-retry', '600'], ['bash', '-c', 'exit 3'])
    await run.jobId
    await vi.waitFor(() => expect(run.stderr()).toContain('vigil run: waiting up to 600 s for a retry (job.retry)'), {
      timeout: 10_000,
    })
    run.child.kill('SIGINT')
    expect(await run.exited).toBe(3)
  }, 30_000)

  it('loses no line when the hub restarts mid-job', async () => {
    const { h, reporter } = await setup()
    const port = String(h.port)
    const run = vigilRun(h.url, reporter, [], ['bash', '-c', 'for i in $(seq 1 60); do echo "r$i"; sleep 0.05; done'])
    const id = await run.jobId
    await new Promise((resolve) => setTimeout(resolve, 800))
    const hub = await (t as TestHub).restart({ VIGIL_PORT: port })
    expect(await run.exited).toBe(0)
    const logs = (await (await fetch(`${hub.url}/api/jobs/${id}/logs?limit=1000`)).json()) as { lines: LogLine[] }
    expect(logs.lines.map((l) => l.text)).toEqual(Array.from({ length: 60 }, (_, i) => `r${i + 1}`))
    expect(logs.lines.map((l) => l.seq)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1))
    expect(((await (await fetch(`${hub.url}/api/jobs/${id}`)).json()) as Job).state).toBe('succeeded')
  })
})
