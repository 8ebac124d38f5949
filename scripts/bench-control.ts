import { mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { ControlClient } from '../server/testing/control.ts'
import { createToken, spawnServe } from '../server/testing/process.ts'
import { numberFlag, percentile } from './lib/proc.ts'
import { frameSplitter } from './lib/sse.ts'

const pings = numberFlag('pings', 10_000)
const sets = numberFlag('sets', 1000)
const changes = numberFlag('changes', 20)

const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-control-'))
const env = { VIGIL_WS_RATE: '100000', VIGIL_WS_BURST: '100000' }
const server = await spawnServe(['--port', '0', '--data-dir', dir, '--sample-ms', '1000'], env, true)
const token = createToken(dir, 'operator', 'bench')

const fmt = (sorted: number[]) =>
  `p50 ${percentile(sorted, 50).toFixed(3)} ms, p99 ${percentile(sorted, 99).toFixed(3)} ms`

async function roundTrips(client: ControlClient, n: number, msg: (i: number) => unknown): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    const r = await client.request(msg(i))
    out.push(performance.now() - t0)
    if ('ok' in r && !r.ok) throw new Error(`refused: ${r.error.code} ${r.error.message}`)
  }
  return out.sort((a, b) => a - b)
}

/** Resolves with the arrival time of the first metrics event at `intervalMs` on a raw SSE connection. */
function metricsWatcher(url: string) {
  let wanted: { ms: number; resolve: (at: number) => void } | null = null
  const feed = frameSplitter((frame, at) => {
    const m = /"intervalMs":(\d+)/.exec(frame)
    if (wanted && m && Number(m[1]) === wanted.ms) {
      wanted.resolve(at)
      wanted = null
    }
  })
  const req = http.get(`${url}/api/stream?topics=metrics`, (res) => {
    res.setEncoding('utf8')
    res.on('data', feed)
  })
  return {
    next: (ms: number) => new Promise<number>((resolve) => (wanted = { ms, resolve })),
    close: () => req.destroy(),
  }
}

try {
  const client = new ControlClient(`ws://127.0.0.1:${new URL(server.url).port}/api/control`, {
    authorization: `Bearer ${token}`,
  })
  await client.opened()
  console.log(
    `bench:control ${new Date().toISOString()} node ${process.version}, ${cpus().length} cores; client and hub on one machine`,
  )
  const ping = await roundTrips(client, pings, (i) => ({ id: i, type: 'ping' }))
  console.log(`ping round trip, ${pings} sequential: ${fmt(ping)}`)
  const set = await roundTrips(client, sets, (i) => ({
    id: `s${i}`,
    type: 'sampling.set',
    intervalMs: i % 2 ? 1000 : 1100,
  }))
  console.log(`sampling.set round trip (write settings + audit row + config event), ${sets} sequential: ${fmt(set)}`)

  const watcher = metricsWatcher(server.url)
  const lags: number[] = []
  for (let i = 0; i < changes; i++) {
    const ms = i % 2 ? 500 : 700
    const arrived = watcher.next(ms)
    await client.request({ id: `c${i}`, type: 'sampling.set', intervalMs: ms })
    const acked = performance.timeOrigin + performance.now()
    lags.push((await arrived) - acked)
  }
  watcher.close()
  lags.sort((a, b) => a - b)
  console.log(
    `acknowledgement → first metrics event at the new interval (500 ↔ 700 ms), ${changes} changes: ${fmt(lags)}; ` +
      'by design at most the shorter of the old and new interval',
  )
  client.close()
} finally {
  server.child.kill('SIGTERM')
  await server.exited
  rmSync(dir, { recursive: true, force: true })
}
