/**
 * Simulated agents for `bench:agents`, run as a process of their own: each is the real agent link (`HubLink`) with
 * its real disk spool, fed synthetic ticks at 1 Hz instead of the sampler's readings. Reports on stdout, one JSON
 * line per event: `ready`, `welcome` (an agent connected), `replayed` (it caught up after a reconnect), `ticks`
 * (what each host sent).
 *
 * argv: --url U[,U2…] --tokens FILE --agents N --metrics M --dir D [--first K]: hosts `sim-K` to `sim-(K+N-1)`,
 * each trying the URLs in turn, as `vigil agent --hub a,b` does.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { HubLink, Spool } from '../../server/agent/index.ts'
import { silentLogger } from '../../server/log.ts'
import { simMetricNames } from './sim-names.ts'

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i < 0 ? undefined : process.argv[i + 1]
}
const urls = (arg('url') as string).split(',').map((u) => `${u.replace(/^http/, 'ws')}/api/agent`)
const tokens = readFileSync(arg('tokens') as string, 'utf8')
  .trim()
  .split('\n')
const agents = Number(arg('agents'))
const metrics = Number(arg('metrics'))
const dir = arg('dir') as string
const first = Number(arg('first') ?? 0)

const NAMES = simMetricNames(metrics)

/** A tick's values: the seq in cpu.usage_pct (the bench checks history by it), the rest wobbling with few decimals. */
function values(seq: number, host: number): Record<string, number> {
  const out: Record<string, number> = {}
  NAMES.forEach((name, i) => {
    if (i === 0) out[name] = seq
    else if (name.endsWith('_pct')) out[name] = Math.round((40 + 30 * Math.sin((seq + i + host) / 17)) * 100) / 100
    else if (name === 'mem.total_bytes') out[name] = 16 * 2 ** 30
    else if (name.endsWith('_bytes')) out[name] = (2 ** 30 + ((seq * 4096 + i) % 2 ** 20)) * 4
    else out[name] = Math.round(Math.abs(Math.sin(seq / 7 + i)) * 100_000)
  })
  return out
}

const emit = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`)
const links = Array.from({ length: agents }, (_, i) => {
  const spool = new Spool(join(dir, `spool-${i}`), { maxBytes: 64 * 2 ** 20, maxAgeMs: 86_400_000 })
  const link = new HubLink({
    urls,
    token: tokens[i] as string,
    host: `sim-${first + i}`,
    machineId: `sim-machine-${first + i}`,
    ca: null,
    agentVersion: 'sim',
    info: { platform: 'linux', release: 'sim', arch: 'x64', cores: 8, memTotalBytes: 16 * 2 ** 30, bootTime: 0 },
    spool,
    sampling: () => ({ fastMs: 1000, slowMs: 10_000, paused: false }),
    configure() {},
    log: silentLogger,
    onWelcome: () => emit({ type: 'welcome', host: first + i, at: Date.now() }),
    onReplayed: (r) => emit({ type: 'replayed', host: first + i, at: Date.now(), ...r }),
  })
  link.start()
  return { spool, link, seq: 0, sent: [] as number[] }
})

// Ticks on the second, as the sampler stamps them
let lastTs = 0
function tick(): void {
  const ts = Math.floor(Date.now() / 1000) * 1000
  // A timer that fired twice in one second would give two ticks one time: the sampler skips it too
  if (ts === lastTs) {
    setTimeout(tick, 1000 - (Date.now() % 1000) + 2)
    return
  }
  lastTs = ts
  links.forEach((a, i) => {
    a.seq++
    const t = a.spool.append({ ts, intervalMs: 1000, values: values(a.seq, first + i) })
    a.sent.push(ts)
    a.link.live(t)
  })
  setTimeout(tick, 1000 - (Date.now() % 1000) + 2)
}
setTimeout(tick, 1000 - (Date.now() % 1000) + 2)
emit({ type: 'ready', agents, metrics: NAMES.length })

process.on('SIGTERM', () => {
  emit({ type: 'ticks', sent: links.map((a) => a.sent) })
  for (const a of links) a.link.stop()
  setTimeout(() => process.exit(0), 200)
})
