/**
 * `npm run bench:agents [-- --agents 100 --metrics 200 --seconds 60 --outage 60]`: simulated agents (the real agent
 * link and spool, synthetic readings) in a process of their own report to a real `vigil serve` at 1 Hz. Measures
 * the hub's CPU, RSS and samples stored per second, and the latency from a sample's `ts` to an SSE subscriber on
 * `fleet` and on `metrics:<host>`; then kills the hub (-9) for the outage and restarts it, and measures the time
 * until every agent has caught up, the live latency meanwhile, and missing or doubled ticks in history. Last, a
 * real `vigil agent`'s own CPU and RSS at 1 Hz.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { EventSource } from 'eventsource'
import { sqliteTokenAdmin } from '../server/auth/index.ts'
import { ROOT } from '../server/paths.ts'
import type { FleetEvent, HostEntry, MetricsEvent, SeriesResponse, StatsResponse } from '../server/protocol/index.ts'
import { openDb } from '../server/store/index.ts'
import { type ServeProcess, spawnServe } from '../server/testing/process.ts'
import { cpuSeconds, memoryParts, mib, numberFlag, percentile, rss, sleep, until } from './lib/proc.ts'
import { spawnSimFleet } from './lib/sim-fleet-process.ts'

const AGENTS = numberFlag('agents', 100)
const METRICS = numberFlag('metrics', 200)
const SECONDS = numberFlag('seconds', 60)
const OUTAGE = numberFlag('outage', 60)
/** Netdata sizes a parent at about 2 cores per million samples/s (its docs' planning figure). */
const NETDATA_CORES_PER_MSPS = 2
const WATCHED = 5

const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-agents-'))
const tokens = sqliteTokenAdmin(openDb(join(dir, 'hub')))
const agentTokens: string[] = []
for (let i = 0; i <= AGENTS; i++) agentTokens.push((await tokens.create('agent', `bench-${i}`)).token)
await tokens.close()
const tokensFile = join(dir, 'tokens')
writeFileSync(tokensFile, agentTokens.slice(0, AGENTS).join('\n'))

const serveArgs = ['--data-dir', join(dir, 'hub'), '--sample-ms', '1000', '--hostname', 'bench-hub']
let hub: ServeProcess = await spawnServe([...serveArgs, '--port', '0'], {}, true)
const url = hub.url
const port = new URL(url).port

const replayed: { host: number; at: number; ticks: number }[] = []
const welcomes: { host: number; at: number }[] = []
let sent: number[][] = []
const sim = spawnSimFleet(
  { urls: [url], tokensFile, agents: AGENTS, metrics: METRICS, dir: join(dir, 'sim') },
  (msg) => {
    if (msg.type === 'replayed') replayed.push(msg)
    if (msg.type === 'welcome') welcomes.push(msg)
    if (msg.type === 'ticks') sent = msg.sent
  },
)
const simDone = new Promise<void>((resolve) => sim.once('exit', () => resolve()))

async function json<T>(path: string): Promise<T> {
  return (await (await fetch(`${url}${path}`)).json()) as T
}
async function online(): Promise<number> {
  try {
    return (await json<HostEntry[]>('/api/hosts')).filter((h) => h.state === 'online' && !h.local).length
  } catch {
    return 0
  }
}

/** Latency from a sample's ts to its receipt, per phase, and ticks a subscriber got twice. */
const latency = { fleet: [] as number[], host: [] as number[] }
let phase: 'warmup' | 'steady' | 'outage' | 'catchup' | 'done' = 'warmup'
const catchupLatency: number[] = []
let delivered = 0
let doubled = 0
const seenTs = new Map<string, Set<number>>()
const fleetNewest = new Map<string, number>()
const fleetEs = new EventSource(`${url}/api/stream?topics=fleet`)
fleetEs.addEventListener('fleet', (e) => {
  const now = Date.now()
  if (!e.lastEventId) return // the snapshot a fresh stream opens with
  for (const h of (JSON.parse(e.data) as FleetEvent).hosts) {
    if (h.ts === null || h.local || h.ts <= (fleetNewest.get(h.host) ?? 0)) continue
    fleetNewest.set(h.host, h.ts)
    if (phase === 'steady') latency.fleet.push(now - h.ts)
  }
})
const watched = Array.from({ length: WATCHED }, (_, i) => `sim-${i}`)
const hostEs = new EventSource(`${url}/api/stream?topics=${watched.map((h) => `metrics:${h}`).join(',')}`)
hostEs.addEventListener('metrics', (e) => {
  const now = Date.now()
  const ev = JSON.parse(e.data) as MetricsEvent
  const seen = seenTs.get(ev.host) ?? new Set()
  seenTs.set(ev.host, seen)
  if (seen.has(ev.ts)) doubled++
  seen.add(ev.ts)
  delivered++
  if (phase === 'steady') latency.host.push(now - ev.ts)
  if (phase === 'catchup') catchupLatency.push(now - ev.ts)
})

const p = (xs: number[], q: number) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    q,
  ).toFixed(1)
const lines: string[] = []
const say = (s: string) => {
  lines.push(s)
  console.log(s)
}
try {
  await until(async () => (await online()) === AGENTS, 120_000)
  await sleep(5000)
  phase = 'steady'
  const pid = hub.child.pid as number
  const cpu0 = cpuSeconds(pid)
  const stats0 = await json<StatsResponse>('/api/stats')
  const t0 = performance.now()
  await sleep(SECONDS * 1000)
  const elapsed = (performance.now() - t0) / 1000
  const cpuPct = ((cpuSeconds(pid) - cpu0) / elapsed) * 100
  const stats1 = await json<StatsResponse>('/api/stats')
  const raw = (s: StatsResponse) => s.storage.tiers.find((t) => t.tier === 'raw')?.samples ?? 0
  const perS = (raw(stats1) - raw(stats0)) / elapsed
  const mem = rss(pid)
  phase = 'outage'
  const netdataPct = (perS / 1_000_000) * NETDATA_CORES_PER_MSPS * 100

  say(
    `bench:agents ${new Date().toISOString()} node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model}); ${AGENTS} simulated agents × ${METRICS} metrics at 1 Hz in a separate process, ${SECONDS} s`,
  )
  say(
    `hub: cpu ${cpuPct.toFixed(2)} % of one core, rss ${mib(mem.rss)} (peak ${mib(mem.peak)}), ${Math.round(perS).toLocaleString('en')} samples stored/s; ` +
      `Netdata's sizing for this load is ${netdataPct.toFixed(1)} % of a core, ratio vigil ÷ netdata ${(cpuPct / netdataPct).toFixed(2)}`,
  )
  say(
    `ingest → SSE latency: fleet p50 ${p(latency.fleet, 50)} ms p99 ${p(latency.fleet, 99)} ms (${latency.fleet.length} host updates, one event a second); ` +
      `metrics:<host> p50 ${p(latency.host, 50)} ms p99 ${p(latency.host, 99)} ms (${latency.host.length} events on ${WATCHED} hosts)`,
  )

  // The outage: the hub is killed, agents spool, then it comes back on its port and they replay
  hub.child.kill('SIGKILL')
  await hub.exited
  const downAt = Date.now()
  await sleep(OUTAGE * 1000)
  hub = await spawnServe([...serveArgs, '--port', port], {}, true)
  const backAt = Date.now()
  phase = 'catchup'
  const replayedBefore = replayed.length
  const welcomesBefore = welcomes.length
  await until(async () => (await online()) === AGENTS, 120_000)
  const allOnline = Date.now()
  await until(async () => new Set(replayed.slice(replayedBefore).map((r) => r.host)).size === AGENTS, 180_000)
  const after = replayed.slice(replayedBefore)
  const caughtUp = Math.max(...after.map((r) => r.at))
  // Each agent's own catch-up: from the hub's welcome to its replay acknowledged, the reconnect wait left out
  const welcomedAt = new Map(welcomes.slice(welcomesBefore).map((w) => [w.host, w.at]))
  const own = after.map((r) => r.at - (welcomedAt.get(r.host) ?? r.at)).sort((a, b) => a - b)
  phase = 'done'
  const ticksReplayed = after.reduce((n, r) => n + r.ticks, 0)
  say(
    `outage ${OUTAGE} s (hub killed -9, restarted on its port): every agent reconnected within ${((allOnline - backAt) / 1000).toFixed(1)} s ` +
      `(reconnect backoff 1 s base, 30 s cap, full jitter), and all had caught up ${((caughtUp - backAt) / 1000).toFixed(1)} s after the restart ` +
      `(${ticksReplayed.toLocaleString('en')} ticks replayed); each agent's catch-up from its reconnect: p50 ${(percentile(own, 50) / 1000).toFixed(2)} s, max ${((own.at(-1) ?? 0) / 1000).toFixed(2)} s; ` +
      `live latency meanwhile on metrics:<host> p50 ${p(catchupLatency, 50)} ms p99 ${p(catchupLatency, 99)} ms (${catchupLatency.length} events)`,
  )

  sim.kill('SIGTERM')
  await simDone
  await sleep(500)
  let missing = 0
  let duplicate = 0
  let checked = 0
  for (let i = 0; i < AGENTS; i++) {
    const ticks = sent[i] ?? []
    const first = ticks[0] as number
    const last = (ticks.at(-1) as number) - 2000 // the last ticks may still be on the wire
    const r = await json<SeriesResponse>(
      `/api/series?metric=cpu.usage_pct&host=sim-${i}&from=${first}&to=${last}&points=10000`,
    )
    const stored = r.points.map((pt) => pt[0])
    const storedSet = new Set(stored)
    duplicate += stored.length - storedSet.size
    for (const ts of ticks) {
      if (ts > last) continue
      checked++
      if (!storedSet.has(ts)) missing++
    }
  }
  say(
    `history after the outage: ${checked.toLocaleString('en')} ticks checked over ${AGENTS} hosts (${Math.round((Date.now() - downAt) / 1000)} s incl. the outage): missing ${missing}, duplicate ${duplicate} (both must be 0); ` +
      `SSE: ${delivered} events on the watched hosts, ${doubled} delivered twice`,
  )

  // A real vigil agent, measured on its own
  const spool = join(dir, 'real-agent')
  const agent = spawn(
    process.execPath,
    [join(ROOT, 'dist/server/main.js'), 'agent', '--hub', url, '--hostname', 'real-agent', '--spool-dir', spool],
    { env: { ...process.env, VIGIL_TOKEN: agentTokens[AGENTS] as string }, stdio: 'ignore' },
  )
  await sleep(10_000)
  const apid = agent.pid as number
  const a0 = cpuSeconds(apid)
  const ta = performance.now()
  await sleep(SECONDS * 1000)
  const aElapsed = (performance.now() - ta) / 1000
  const aCpu = ((cpuSeconds(apid) - a0) / aElapsed) * 100
  const aMem = rss(apid)
  const parts = memoryParts(apid)
  agent.kill('SIGTERM')
  say(
    `vigil agent at 1 Hz: cpu ${aCpu.toFixed(2)} % of one core (children included), rss ${mib(aMem.rss)} (peak ${mib(aMem.peak)}) over ${aElapsed.toFixed(0)} s ` +
      `= ${mib(parts.anon)} anonymous + ${mib(parts.file)} file-backed (the node binary's pages, shared with every node process), pss ${mib(parts.pss)} ` +
      '(targets: ≤ 0.5 % and ≤ 60 MiB)',
  )
} finally {
  fleetEs.close()
  hostEs.close()
  sim.kill('SIGKILL')
  hub.child.kill('SIGTERM')
  await hub.exited
  rmSync(dir, { recursive: true, force: true })
}
