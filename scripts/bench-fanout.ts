/**
 * `npm run bench:fanout -- --clients 2000 [--seconds 20] [--sample-ms 1000]`
 *
 * Connects N SSE clients to a real `vigil serve`, then to a bare node:http SSE broadcaster (in this file, run as
 * a child process the same way), and reports for each: server RSS per connection, delivery latency from the
 * event's `ts` to receipt (p50, p99), the spread from the first client's receipt to the last (p50, p99, max),
 * and server CPU. Ratios are baseline ÷ Vigil: 1.0 means as fast as the bare broadcaster, above 1 faster.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnServe } from '../server/testing/process.ts'
import { cpuSeconds, mib, numberFlag, percentile, rss, sleep } from './lib/proc.ts'
import { frameSplitter } from './lib/sse.ts'

const clients = numberFlag('clients', 2000)
const seconds = numberFlag('seconds', 20)
const sampleMs = numberFlag('sample-ms', 1000)
const CONNECT_BATCH = 200

/**
 * The baseline: what a hand-written node:http broadcaster does, with no framework, store or replay. Self-contained
 * so it runs as plain `node -e`, without the TypeScript loader this script uses.
 */
function serveBaseline(intervalMs: number): void {
  const http = require('node:http') as typeof import('node:http')
  const subscribers = new Set<import('node:http').ServerResponse>()
  let id = 0
  const server = http.createServer((req, res) => {
    if (!req.url?.startsWith('/api/stream')) {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' })
    res.write('retry: 2000\n\n')
    subscribers.add(res)
    res.on('close', () => subscribers.delete(res))
  })
  // A payload shaped and sized like Vigil's metrics event on this machine
  const values: Record<string, number> = {}
  for (let i = 0; i < 26; i++) values[`metric.number_${i}.value_bytes`] = 123456789.123 + i
  setInterval(() => {
    const data = JSON.stringify({ host: 'baseline', ts: Date.now(), intervalMs, values })
    const frame = Buffer.from(`id: ${++id}\nevent: metrics\ndata: ${data}\n\n`)
    for (const res of subscribers) res.write(frame)
  }, intervalMs)
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`listening ${(server.address() as import('node:net').AddressInfo).port}\n`)
  })
}

interface Target {
  url: string
  pid: number
  stop(): Promise<void>
}

async function startVigil(): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-fanout-'))
  // Every client comes from this one address: the per-address cap is raised for the run
  const p = await spawnServe(
    ['--port', '0', '--data-dir', dir, '--sample-ms', String(sampleMs), '--max-conn-per-ip', '1000000'],
    {},
    true,
  )
  return {
    url: p.url,
    pid: p.child.pid as number,
    async stop() {
      p.child.kill('SIGTERM')
      await p.exited
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

async function startBaseline(): Promise<Target> {
  const child = spawn(process.execPath, ['-e', `(${serveBaseline.toString()})(${sampleMs})`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const port = await new Promise<string>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      const m = /listening (\d+)/.exec(d.toString())
      if (m?.[1]) resolve(m[1])
    })
  })
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid as number,
    async stop() {
      child.kill('SIGTERM')
      await new Promise((resolve) => child.once('exit', resolve))
    },
  }
}

interface Result {
  rssPerConn: number
  rssTotal: number
  latency: number[]
  spread: number[]
  events: number
  incomplete: number
  cpuPct: number
}

async function measure(target: Target): Promise<Result> {
  const agent = new http.Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY })
  const receipts = new Map<number, { ts: number; at: number[] }>()
  let recording = false
  const requests: http.ClientRequest[] = []
  let connected = 0
  const rssBefore = rss(target.pid).rss

  const open = () =>
    new Promise<void>((resolve, reject) => {
      const req = http.get(`${target.url}/api/stream?topics=metrics`, { agent }, (res) => {
        res.setEncoding('utf8')
        let first = true
        const feed = frameSplitter((frame, at) => {
          if (!recording || !frame.includes('event: metrics')) return
          const id = Number(/^id: (\d+)/m.exec(frame)?.[1])
          const ts = Number(/"ts":(\d+)/.exec(frame)?.[1])
          let r = receipts.get(id)
          if (!r) {
            r = { ts, at: [] }
            receipts.set(id, r)
          }
          r.at.push(at)
        })
        res.on('data', (chunk: string) => {
          if (first) {
            first = false
            connected++
            resolve()
          }
          feed(chunk)
        })
      })
      req.on('error', reject)
      requests.push(req)
    })

  for (let i = 0; i < clients; i += CONNECT_BATCH) {
    await Promise.all(Array.from({ length: Math.min(CONNECT_BATCH, clients - i) }, open))
  }
  if (connected !== clients) throw new Error(`only ${connected} of ${clients} clients connected`)
  await sleep(2 * sampleMs)
  const mem = rss(target.pid).rss
  const cpu0 = cpuSeconds(target.pid)
  const t0 = performance.now()
  recording = true
  await sleep(seconds * 1000)
  recording = false
  const cpuPct = ((cpuSeconds(target.pid) - cpu0) / ((performance.now() - t0) / 1000)) * 100
  await sleep(sampleMs) // let the last recorded event reach every client
  for (const req of requests) req.destroy()
  agent.destroy()

  const latency: number[] = []
  const spread: number[] = []
  let incomplete = 0
  const ids = [...receipts.keys()].sort((a, b) => a - b).slice(1, -1) // edges may be partly recorded
  for (const id of ids) {
    const r = receipts.get(id) as { ts: number; at: number[] }
    if (r.at.length !== clients) incomplete++
    let min = Number.POSITIVE_INFINITY
    let max = 0
    for (const at of r.at) {
      latency.push(at - r.ts)
      if (at < min) min = at
      if (at > max) max = at
    }
    spread.push(max - min)
  }
  latency.sort((a, b) => a - b)
  spread.sort((a, b) => a - b)
  return {
    rssPerConn: (mem - rssBefore) / clients,
    rssTotal: mem,
    latency,
    spread,
    events: ids.length,
    incomplete,
    cpuPct,
  }
}

function line(label: string, r: Result): string {
  const f = (n: number) => `${n.toFixed(1)} ms`
  return (
    `${label.padEnd(9)} ${clients} clients, ${r.events} events: RSS ${(r.rssPerConn / 1024).toFixed(1)} KiB/conn ` +
    `(total ${mib(r.rssTotal)}), latency p50 ${f(percentile(r.latency, 50))} p99 ${f(percentile(r.latency, 99))}, ` +
    `spread p50 ${f(percentile(r.spread, 50))} p99 ${f(percentile(r.spread, 99))} max ${f(r.spread.at(-1) ?? Number.NaN)}, ` +
    `server cpu ${r.cpuPct.toFixed(1)} %, incomplete events ${r.incomplete}`
  )
}

async function run(start: () => Promise<Target>): Promise<Result> {
  const target = await start()
  try {
    return await measure(target)
  } finally {
    await target.stop()
  }
}

async function main(): Promise<void> {
  console.log(
    `bench:fanout ${new Date().toISOString()} node ${process.version}, ${cpus().length} cores, ` +
      `${clients} clients, ${seconds} s, one event per ${sampleMs} ms; clients run in this process`,
  )
  const vigil = await run(startVigil)
  console.log(line('vigil', vigil))
  const base = await run(startBaseline)
  console.log(line('baseline', base))
  const ratio = (b: number, v: number) => (v > 0 ? (b / v).toFixed(2) : 'n/a')
  console.log(
    `ratio (baseline ÷ vigil, ≥ 0.8 is the target): latency p99 ${ratio(percentile(base.latency, 99), percentile(vigil.latency, 99))}, ` +
      `spread p99 ${ratio(percentile(base.spread, 99), percentile(vigil.spread, 99))}, ` +
      `RSS/conn ${ratio(base.rssPerConn, vigil.rssPerConn)}`,
  )
}

await main()
