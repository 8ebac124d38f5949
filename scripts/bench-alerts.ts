/**
 * `npm run bench:alerts [-- --agents 100 --metrics 200 --rules 1000 --seconds 30]`: one built hub (SQLite), fed by
 * simulated agents (the real agent link and spool, in a process of its own) at 1 Hz. The hub's CPU is measured
 * over the same span with no rules, then with `--rules` metric rules that every sample is evaluated against (each
 * on one metric name of every host; none of them crosses), so the difference is the cost of evaluation. Under
 * that load a probe posts a sample that crosses a threshold every 500 ms (`POST /api/metrics`, through the one
 * ingest path), and an HTTP receiver records when each firing notice arrives: the latency from the crossing
 * sample to the webhook.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { type Change, Evaluator } from '../server/alerts/index.ts'
import { sqliteTokenAdmin } from '../server/auth/index.ts'
import type { HostEntry } from '../server/protocol/index.ts'
import { openDb } from '../server/store/index.ts'
import { spawnServe } from '../server/testing/process.ts'
import { Receiver } from '../server/testing/receiver.ts'
import { cpuSeconds, numberFlag, percentile, sleep, until } from './lib/proc.ts'
import { spawnSimFleet } from './lib/sim-fleet-process.ts'
import { simMetricNames } from './lib/sim-names.ts'

const AGENTS = numberFlag('agents', 100)
const METRICS = numberFlag('metrics', 200)
const RULES = numberFlag('rules', 1000)
const SECONDS = numberFlag('seconds', 30)
const PROBES_EVERY_MS = 500

const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-alerts-'))
const say = (s: string) => console.log(s)
const pct = (cpu: number, s: number) => `${((cpu / s) * 100).toFixed(1)} %`
const fmt = (xs: number[], p: number) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    p,
  ).toFixed(1)

/** Sends commands on the control channel one after another; resolves with each answer. */
async function control(url: string, token: string, commands: object[]): Promise<void> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/api/control`, {
    headers: { authorization: `Bearer ${token}` },
  })
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
  let answered = 0
  const done = new Promise<void>((resolve, reject) =>
    ws.on('message', (d) => {
      const reply = JSON.parse(d.toString()) as { ok: boolean; error?: { message: string } }
      if (!reply.ok) reject(new Error(`a command was refused: ${reply.error?.message}`))
      if (++answered === commands.length) resolve()
    }),
  )
  for (const [i, c] of commands.entries()) ws.send(JSON.stringify({ id: i, ...c }))
  await done
  ws.close()
}

/**
 * The evaluator without the hub: the same rules over a second of the same samples (each host's values as one
 * parsed event), after a warm-up. Its share of one core.
 */
function evaluatorAlone(names: string[]): string {
  const ev = new Evaluator()
  const rules = Array.from({ length: RULES - 1 }, (_, i) => ({
    kind: 'metric' as const,
    name: `r${i + 1}`,
    metric: names[(i + 1) % names.length] as string,
    op: '>' as const,
    threshold: 1e15,
    severity: 'warning' as const,
  }))
  ev.setRules(rules, Date.now())
  const hosts = Array.from({ length: AGENTS }, (_, h) => {
    const values: Record<string, number> = {}
    names.forEach((n, i) => {
      values[n] = Math.round((40 + 30 * Math.sin((h + i) / 17)) * 100) / 100
    })
    return { host: `sim-${h}`, values }
  })
  const out: Change[] = []
  const second = () => {
    const t0 = performance.now()
    for (const h of hosts) ev.metrics(h.host, h.values, Date.now(), out)
    return performance.now() - t0
  }
  for (let i = 0; i < 20; i++) second()
  const runs = Array.from({ length: 50 }, second)
  const ms = percentile(
    runs.sort((a, b) => a - b),
    50,
  )
  return `${ms.toFixed(2)} ms per second of load, ${(ms / 10).toFixed(2)} % of one core (${(AGENTS * METRICS).toLocaleString('en')} samples × ${Math.round((RULES - 1) / names.length)} rules each)`
}

let sim: ReturnType<typeof spawnSimFleet> | null = null
let hub: Awaited<ReturnType<typeof spawnServe>> | null = null
const receiver = await Receiver.start()
try {
  say(
    `bench:alerts ${new Date().toISOString()} node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model}); ` +
      `${AGENTS} simulated hosts × ${METRICS} metrics at 1 Hz, ${RULES} rules, ${SECONDS} s per phase`,
  )
  const hubDir = join(dir, 'hub')
  const admin = sqliteTokenAdmin(openDb(hubDir))
  const tokens: string[] = []
  for (let i = 0; i < AGENTS; i++) tokens.push((await admin.create('agent', `sim-${i}`)).token)
  const root = (await admin.create('admin', 'bench')).token
  await admin.close()
  const env = {
    VIGIL_SAMPLE_MS: '1000',
    VIGIL_AGENT_HEARTBEAT_MS: '1000',
    VIGIL_WS_RATE: '100000',
    VIGIL_WS_BURST: '100000',
    VIGIL_MAX_SERIES: '10000',
  }
  hub = await spawnServe(['--port', '0', '--data-dir', hubDir, '--hostname', 'bench-hub'], env, true)
  const url = hub.url
  const tokensFile = join(dir, 'tokens')
  writeFileSync(tokensFile, tokens.join('\n'))
  sim = spawnSimFleet({ urls: [url], tokensFile, agents: AGENTS, metrics: METRICS, dir: join(dir, 'sim') }, () => {})
  await until(
    async () => {
      const hosts = (await (await fetch(`${url}/api/hosts`)).json()) as HostEntry[]
      return hosts.filter((h) => h.state === 'online' && h.host.startsWith('sim-')).length === AGENTS
    },
    120_000,
    'the simulated agents',
  )
  const pid = hub.child.pid as number
  const measure = async () => {
    const cpu0 = cpuSeconds(pid)
    const t0 = performance.now()
    await sleep(SECONDS * 1000)
    return { cpu: cpuSeconds(pid) - cpu0, s: (performance.now() - t0) / 1000 }
  }
  /**
   * Runs `work` while a probe posts a sample of `bench.probe` every 500 ms, 100 and 0 in turn: each 100 crosses the
   * probe rule's threshold (once there is one) and its time goes into `sentAt` by the key its notice will carry.
   */
  async function probing<T>(work: () => Promise<T>, sentAt: Map<string, number>): Promise<T> {
    let on = true
    const probe = (async () => {
      for (let n = 0; on; n++) {
        const ts = Date.now()
        const value = n % 2 === 0 ? 100 : 0
        const res = await fetch(`${url}/api/metrics`, {
          method: 'POST',
          headers: { authorization: `Bearer ${root}`, 'content-type': 'application/json' },
          body: JSON.stringify({ host: 'probe', samples: [{ name: 'bench.probe', value, ts }] }),
        })
        await res.body?.cancel()
        if (value === 100) sentAt.set(`:firing:${n / 2 + 1}`, ts)
        await sleep(PROBES_EVERY_MS)
      }
    })()
    try {
      return await work()
    } finally {
      on = false
      await probe
    }
  }
  await sleep(5000)
  // The baseline: the same load and the same probe samples, no rules
  const base = await probing(() => measure(), new Map())
  say(
    `no rules: hub cpu ${pct(base.cpu, base.s)} of one core (${(AGENTS * METRICS).toLocaleString('en')} samples/s and the probe)`,
  )

  // Rules that evaluate every sample of their metric on every host, and never cross; one probe rule that does
  const names = simMetricNames(METRICS)
  const rules: object[] = [
    { type: 'alert.channel.set', name: 'hook', kind: 'webhook', url: receiver.url('/hook') },
    {
      type: 'alert.rule.set',
      rule: { name: 'probe', metric: 'bench.probe', hosts: 'probe', op: '>', threshold: 50, severity: 'critical' },
    },
  ]
  for (let i = 1; i < RULES; i++) {
    const metric = names[i % names.length] as string
    rules.push({
      type: 'alert.rule.set',
      rule: { name: `r${i}`, metric, op: '>', threshold: 1e15, severity: 'warning', channels: ['hook'] },
    })
  }
  await control(url, root, rules)
  await sleep(5000)
  const sentAt = new Map<string, number>()
  const ruled = await probing(() => measure(), sentAt)
  await sleep(2000)
  const latency: number[] = []
  const arrived = receiver.requests.filter((r) => String(r.headers['idempotency-key']).includes(':firing:'))
  for (const r of arrived) {
    const key = String(r.headers['idempotency-key'])
    const sent = sentAt.get(key.slice(key.indexOf(':firing:')))
    if (sent !== undefined) latency.push(r.at - sent)
  }
  const evalCpu = ruled.cpu / ruled.s - base.cpu / base.s
  say(
    `${RULES} rules: hub cpu ${pct(ruled.cpu, ruled.s)} of one core; evaluation ${(evalCpu * 100).toFixed(1)} % of one core (target ≤ 5 %)`,
  )
  say(`the evaluator alone, in this process over the same samples: ${evaluatorAlone(names)}`)
  say(
    `sample → webhook (firing notices of the probe, ${latency.length} of ${sentAt.size} crossings): p50 ${fmt(latency, 50)} ms, p99 ${fmt(latency, 99)} ms (target ≤ 200 ms)`,
  )
} finally {
  sim?.kill('SIGKILL')
  hub?.child.kill('SIGKILL')
  await receiver.close()
  rmSync(dir, { recursive: true, force: true })
}
