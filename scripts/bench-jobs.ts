/**
 * `npm run bench:jobs [-- --lines 1000000]`: log ingest end to end. A real `vigil run` wraps a command printing
 * N lines (`seq N`, then N lines of 100 characters, as a chatty build prints); an SSE subscriber on the job's
 * topic counts them. Reports lines/s from the first line printed to the last line received, and the
 * subscriber's lag (receipt time minus the line's ingest timestamp), p50 and p99.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT } from '../server/paths.ts'
import { createToken, spawnServe } from '../server/testing/process.ts'
import { numberFlag, percentile } from './lib/proc.ts'
import { frameSplitter } from './lib/sse.ts'

const lines = numberFlag('lines', 1_000_000)
const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-jobs-'))
const server = await spawnServe(['--port', '0', '--data-dir', dir, '--sample-ms', '1000'], {}, true)
const token = createToken(dir, 'reporter', 'bench')

/** One run of `command` through `vigil run`, received by a subscriber; prints its figures. */
async function measure(label: string, command: string[]): Promise<void> {
  // Subscribing from the event id before the job exists replays whatever is ingested before the stream opens
  const stats = (await (await fetch(`${server.url}/api/stats`)).json()) as { lastEventId: number }
  const started = performance.timeOrigin + performance.now()
  // The command prints its lines as fast as the pipe takes them; vigil run echoes them to /dev/null here
  const run = spawn(
    process.execPath,
    [
      join(ROOT, 'dist/server/main.js'),
      'run',
      '--url',
      server.url,
      '--token',
      token,
      '--name',
      'bench',
      '--',
      ...command,
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  )
  let err = ''
  const jobId = await new Promise<string>((resolve) => {
    run.stderr.on('data', (d: Buffer) => {
      err += d.toString()
      const m = /vigil run: job (j[0-9a-f]+):/.exec(err)
      if (m?.[1]) resolve(m[1])
    })
  })
  const subscriber: { req?: http.ClientRequest } = {}
  let received = 0
  let lastAt = 0
  const lags: number[] = []
  const done = new Promise<void>((resolve) => {
    const feed = frameSplitter((frame, at) => {
      if (!frame.includes('event: log')) return
      const data = JSON.parse(frame.slice(frame.indexOf('data: ') + 6)) as { lines: { ts: number }[] }
      for (const l of data.lines) {
        received++
        if (received % 100 === 0) lags.push(at - l.ts)
      }
      lastAt = at
      if (received >= lines) resolve()
    })
    const url = `${server.url}/api/stream?topics=job:${jobId}&lastEventId=${stats.lastEventId}`
    subscriber.req = http.get(url, (res) => {
      res.setEncoding('utf8')
      res.on('data', feed)
    })
  })
  const exit = await new Promise<number | null>((resolve) => run.once('exit', resolve))
  await done
  subscriber.req?.destroy()
  lags.sort((a, b) => a - b)
  const seconds = (lastAt - started) / 1000
  console.log(
    `${lines} lines (${label}) from vigil run to an SSE subscriber: ${(lines / seconds).toFixed(0)} lines/s over ${seconds.toFixed(1)} s, ` +
      `subscriber lag p50 ${percentile(lags, 50).toFixed(0)} ms, p99 ${percentile(lags, 99).toFixed(0)} ms, vigil run exit ${exit}`,
  )
}

try {
  console.log(
    `bench:jobs ${new Date().toISOString()} node ${process.version}, ${cpus().length} cores; vigil run, hub and subscriber on one machine`,
  )
  await measure(`seq ${lines}`, ['seq', String(lines)])
  await measure('100 characters each', ['sh', '-c', `yes "$(printf '%0100d' 0)" | head -n ${lines}`])
} finally {
  server.child.kill('SIGTERM')
  await server.exited
  rmSync(dir, { recursive: true, force: true })
}
