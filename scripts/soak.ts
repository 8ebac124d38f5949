/**
 * `npm run soak -- --minutes 30`: a long load against a real `vigil serve` (from dist/):
 * - 500 SSE clients on metrics+jobs that disconnect after 5–30 s and resume by Last-Event-ID, over and over;
 * - 20 operators on WebSockets sending `sampling.set` at 10 commands/s in all;
 * - 5 `vigil run` jobs printing 100 log lines/s each;
 * - one reader that never reads, on the jobs' log topics too (it is cut off, and replaced 5 s later).
 * A reference client that never disconnects records every event id; a resumed session must continue exactly
 * where the reference says it should, and every id within a session must follow the previous one; anything
 * else is a gap. Prints the hub's RSS, heap, open fds and event-loop lag p99 after warm-up and at the end.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import http from 'node:http'
import { connect, type Socket } from 'node:net'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { ROOT } from '../server/paths.ts'
import type { StatsResponse } from '../server/protocol/index.ts'
import { createToken, spawnServe } from '../server/testing/process.ts'
import { Inspector } from './lib/inspector.ts'
import { mib, numberFlag, sleep } from './lib/proc.ts'
import { frameSplitter } from './lib/sse.ts'

const minutes = numberFlag('minutes', 30)
const CLIENTS = numberFlag('clients', 500)
const OPERATORS = 20
const JOBS = 5
const TOPICS = 'metrics,jobs'
const endAt = Date.now() + minutes * 60_000
const warmupMs = Math.min(120_000, minutes * 6_000)

const dir = mkdtempSync(join(tmpdir(), 'vigil-soak-'))
const server = await spawnServe(
  ['--port', '0', '--data-dir', dir, '--sample-ms', '1000', '--max-conn-per-ip', '100000', '--ws-rate', '50'],
  // The inspector, on loopback, lets the soak collect garbage before reading the heap
  { NODE_OPTIONS: '--inspect=127.0.0.1:0' },
  true,
)
const inspector = await Inspector.attach(server.stderr())
const url = new URL(server.url)
const operatorToken = createToken(dir, 'operator', 'soak-ops')
const reporterToken = createToken(dir, 'reporter', 'soak-jobs')
const pid = server.child.pid as number

/** One SSE session on the topics; calls back with each event id. Returns the request so it can be aborted. */
function session(lastId: number | null, onId: (id: number) => void, onEnd: () => void): http.ClientRequest {
  const req = http.get(
    {
      host: url.hostname,
      port: url.port,
      path: `/api/stream?topics=${TOPICS}`,
      headers: lastId === null ? {} : { 'last-event-id': String(lastId) },
    },
    (res) => {
      res.setEncoding('utf8')
      res.on(
        'data',
        frameSplitter((frame) => {
          const id = /^id: (\d+)$/m.exec(frame)
          if (id && /^event: /m.test(frame)) onId(Number(id[1]))
        }),
      )
      res.on('close', onEnd)
    },
  )
  req.on('error', onEnd)
  return req
}

let running = true
let referenceLost = false

// The reference: every id, in order, as a client that never leaves sees them
const reference: number[] = []
const position = new Map<number, number>()
session(
  null,
  (id) => {
    position.set(id, reference.length)
    reference.push(id)
  },
  () => {
    if (running) referenceLost = true
  },
)

let delivered = 0
let resumes = 0
let gaps = 0
/** A churning client: sessions of 5–30 s, each resumed from the last id of the one before. */
async function churn(): Promise<void> {
  let last: number | null = null
  while (running) {
    let prev: number | null = last
    let first = true
    const ended = new Promise<void>((resolve) => {
      const req = session(
        last,
        (id) => {
          delivered++
          if (first && last !== null) {
            resumes++
            // After a resume the first id must be the reference's next one after the last id seen
            const at = position.get(last)
            if (at !== undefined && reference[at + 1] !== undefined && reference[at + 1] !== id) gaps++
          } else if (prev !== null) {
            const at = position.get(prev)
            if (at !== undefined && reference[at + 1] !== undefined && reference[at + 1] !== id) gaps++
          }
          first = false
          prev = id
          last = id
        },
        resolve,
      )
      setTimeout(() => req.destroy(), 5000 + Math.random() * 25_000)
    })
    await ended
  }
}

// Operators: 20 sockets, each a command every 2 s, so 10/s in all
let sent = 0
let acked = 0
const sockets: WebSocket[] = []
for (let i = 0; i < OPERATORS; i++) {
  const ws = new WebSocket(`ws://${url.host}/api/control`, { headers: { authorization: `Bearer ${operatorToken}` } })
  ws.on('message', (d) => {
    const reply = JSON.parse(d.toString()) as { ok?: boolean }
    if (reply.ok === true) acked++
  })
  sockets.push(ws)
}
const commands = setInterval(() => {
  for (const ws of sockets) {
    if (ws.readyState !== ws.OPEN) continue
    sent++
    ws.send(JSON.stringify({ id: sent, type: 'sampling.set', group: 'slow', intervalMs: 5000 + (sent % 2) * 5000 }))
  }
}, 2000)

// Jobs printing logs
const jobs: ChildProcess[] = []
for (let i = 0; i < JOBS; i++) {
  jobs.push(
    spawn(
      process.execPath,
      [
        join(ROOT, 'dist/server/main.js'),
        'run',
        '--url',
        server.url,
        '--name',
        `soak ${i}`,
        '--',
        'bash',
        '-c',
        'i=0; while true; do echo "line $i"; i=$((i+1)); sleep 0.01; done',
      ],
      // The token in the environment, not on the command line where `ps` shows it
      { stdio: 'ignore', env: { ...process.env, VIGIL_TOKEN: reporterToken } },
    ),
  )
}

/** The jobs' log topics, once all of them run: the stalled reader takes them too, so its queue fills in minutes. */
async function jobTopics(): Promise<string[]> {
  for (let i = 0; i < 150; i++) {
    const { jobs: running } = (await (await fetch(`${server.url}/api/jobs?state=running`)).json()) as {
      jobs: { id: string }[]
    }
    if (running.length >= JOBS) return running.map((j) => `job:${j.id}`)
    await sleep(200)
  }
  throw new Error(`the ${JOBS} soak jobs did not start within 30 s`)
}
const stalledTopics = [TOPICS, ...(await jobTopics())].join(',')

// One reader that never reads: once the hub cuts it off, another takes its place
let stalled: Socket | null = null
let stalledCut = 0
const stall = () => {
  if (!running) return
  const socket = connect(Number(url.port), url.hostname)
  socket.pause()
  socket.on('error', () => {})
  socket.write(`GET /api/stream?topics=${stalledTopics} HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`)
  stalled = socket
}
stall()
// The hub cuts the stalled reader off by closing its end, which a reader that never reads never sees: the hub's
// count of dropped clients says when, and the soak then replaces it 5 s later
let droppedSeen = 0
const stallTimer = setInterval(async () => {
  try {
    const s = (await (await fetch(`${server.url}/api/stats`)).json()) as StatsResponse
    if (s.droppedClients <= droppedSeen) return
    droppedSeen = s.droppedClients
    stalledCut++
    stalled?.destroy()
    setTimeout(stall, 5000)
  } catch {
    // the hub is going away at the end
  }
}, 5000)

// The heap after a full collection, once a minute: the trend, printed at the end
const heapTrend: number[] = []
const heapTimer = setInterval(async () => {
  try {
    heapTrend.push(await inspector.liveHeapBytes())
  } catch {
    // the hub is going away at the end
  }
}, 60_000)

async function snapshot(label: string): Promise<{ heap: number; fds: number }> {
  const s = (await (await fetch(`${server.url}/api/stats`)).json()) as StatsResponse
  const fds = readdirSync(`/proc/${pid}/fd`).length
  const heap = await inspector.liveHeapBytes()
  console.log(
    `${label} (${((Date.now() - startedAt) / 60_000).toFixed(1)} min): rss ${mib(s.process.rssBytes)}, heap ${mib(heap)} (after a full collection), fds ${fds}, event-loop lag p99 ${s.process.eventLoopLagP99Ms} ms, streams ${s.clients}, dropped ${s.droppedClients} (stalled readers cut off ${stalledCut}); events delivered ${delivered}, resumes ${resumes}, gaps ${gaps}; commands sent ${sent}, acknowledged ${acked}`,
  )
  return { heap, fds }
}

// Ctrl-C or a kill still stops the hub and the jobs
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const j of jobs) j.kill('SIGTERM')
    server.child.kill('SIGTERM')
    rmSync(dir, { recursive: true, force: true })
    process.exit(130)
  })
}

const startedAt = Date.now()
console.log(
  `soak ${new Date().toISOString()} node ${process.version}, ${cpus().length} cores, ${minutes} min: ${CLIENTS} churning SSE clients, ${OPERATORS} operators at 10 commands/s, ${JOBS} jobs at 100 lines/s, 1 stalled reader`,
)
const churners = Array.from({ length: CLIENTS }, async (_, i) => {
  await sleep((i * 2000) / CLIENTS) // ramp up over 2 s
  await churn()
})
try {
  await sleep(warmupMs)
  const start = await snapshot('after warm-up')
  while (Date.now() < endAt) await sleep(Math.min(60_000, endAt - Date.now()))
  clearInterval(commands)
  await sleep(2000) // replies in flight
  const end = await snapshot('end')
  const lost = sent - acked
  const heapGrowth = (end.heap - start.heap) / start.heap
  const fdGrowth = (end.fds - start.fds) / start.fds
  console.log(
    `verdict: gaps ${gaps} (must be 0), commands lost ${lost} (must be 0), heap ${(heapGrowth * 100).toFixed(1)} % and fds ${(fdGrowth * 100).toFixed(1)} % from warm-up to end (within ±10 % is flat)`,
  )
  console.log(
    `heap after a full collection, minute by minute (MiB): ${heapTrend.map((b) => (b / 1_048_576).toFixed(1)).join(' ')}`,
  )
  if (referenceLost) console.log('the reference client was cut off: gaps after that point are not measured')
  if (gaps > 0 || lost > 0 || referenceLost) process.exitCode = 1
} finally {
  running = false
  clearInterval(heapTimer)
  clearInterval(stallTimer)
  inspector.close()
  ;(stalled as Socket | null)?.destroy()
  for (const ws of sockets) ws.close(1000)
  for (const j of jobs) j.kill('SIGTERM')
  server.child.kill('SIGTERM')
  await server.exited
  await Promise.race([Promise.all(churners), sleep(1000)])
  rmSync(dir, { recursive: true, force: true })
  process.exit()
}
