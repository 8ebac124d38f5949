/**
 * `npm run bench:bus [-- --rate 1000 --seconds 20 --bytes 4000]`: the cluster's event stream on Redis, between
 * two hub processes on one private Redis. Hub A (a child process) appends events at a steady rate through the
 * real `RedisEventStream` (Lua: id from the cluster counter, `<ms>-<id>` entry, trim by time); hub B (this
 * process) follows with `XREAD BLOCK` and measures each event's latency from its `ts` at A to its receipt at B.
 * Then the most appends a second one hub gets with 64 in flight. The baseline is the same load through a bare
 * `XADD key *` (no counter, no trim, no script) and the same follower, in the same run. Prints latency p50/p99,
 * Redis CPU and ops per event, and the ratios.
 */
import { spawn } from 'node:child_process'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { createClient, type RedisClientType } from 'redis'
import { RedisEventStream } from '../server/bus/redis.ts'
import { ROOT } from '../server/paths.ts'
import { startRedis } from '../server/testing/services.ts'
import { cpuSeconds, numberFlag, percentile, sleep } from './lib/proc.ts'

const RATE = numberFlag('rate', 1000)
const SECONDS = numberFlag('seconds', 20)
const BYTES = numberFlag('bytes', 4000)

interface Run {
  latencies: number[]
  received: number
  appended: number
  redisCpuS: number
  ops: number
  appendsPerS: number
}

async function commands(c: RedisClientType): Promise<number> {
  const info = await c.info('stats')
  return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? 0)
}

/** One run: a publisher child (`mode` real or bare) at RATE for SECONDS, this process following. */
async function run(mode: 'vigil' | 'bare', url: string, redisPid: number, key: string): Promise<Run> {
  const stats: RedisClientType = createClient({ url })
  stats.on('error', () => {})
  await stats.connect()
  const latencies: number[] = []
  let received = 0
  let stopFollow = () => {}
  if (mode === 'vigil') {
    const s = await RedisEventStream.open({
      url,
      key,
      origin: 'bench-follower',
      windowMs: 900_000,
      onEvent: (e) => {
        received++
        if (e.topic === 'steady') latencies.push(Date.now() - e.ts)
      },
    })
    stopFollow = () => void s.close()
  } else {
    const reader: RedisClientType = createClient({ url })
    reader.on('error', () => {})
    await reader.connect()
    let cursor = '$'
    let on = true
    void (async () => {
      while (on) {
        const reply = (await reader
          .sendCommand(['XREAD', 'COUNT', '1000', 'BLOCK', '1000', 'STREAMS', key, cursor])
          .catch(() => null)) as Record<string, [string, string[]][]> | null
        for (const [id, fields] of reply?.[key] ?? []) {
          cursor = id
          received++
          if (fields[3] === 'steady') latencies.push(Date.now() - Number(fields[1]))
        }
      }
    })()
    stopFollow = () => {
      on = false
      reader.destroy()
    }
  }
  await sleep(200)
  const cpu0 = cpuSeconds(redisPid)
  const ops0 = await commands(stats)
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'scripts/lib/bus-publisher.ts'),
      mode,
      url,
      key,
      String(RATE),
      String(SECONDS),
      String(BYTES),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  let out = ''
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString()
  })
  await new Promise((r) => child.once('exit', r))
  const appended = Number(/appended (\d+)/.exec(out)?.[1] ?? Number.NaN)
  for (let waited = 0; received < appended && waited < 10_000; waited += 50) await sleep(50)
  const redisCpuS = cpuSeconds(redisPid) - cpu0
  const ops = (await commands(stats)) - ops0
  stopFollow()
  stats.destroy()
  const appendsPerS = Number(/burst (\d+)/.exec(out)?.[1] ?? Number.NaN)
  return { latencies: latencies.sort((a, b) => a - b), received, appended, redisCpuS, ops, appendsPerS }
}

/** Redis CPU per appended event, both followers' reads included. */
const usPerEvent = (r: Run) => (r.redisCpuS * 1e6) / r.appended

const redis = await startRedis()
try {
  const pid = redis.pid as number
  process.stdout.write(
    `bench:bus ${new Date().toISOString()} node ${process.version}, ${cpus().length} cores; one private Redis, hub A appending ${RATE}/s × ${BYTES} B for ${SECONDS} s, hub B following\n`,
  )
  const results: Record<string, Run> = {}
  for (const mode of ['vigil', 'bare'] as const) {
    const r = await run(mode, redis.url, pid, `bench:${mode}`)
    results[mode] = r
    // Latency is the steady phase's: the burst queues on purpose
    const steadyLat = r.latencies
    process.stdout.write(
      `${mode === 'vigil' ? 'vigil' : 'bare '} A → B latency p50 ${percentile(steadyLat, 50)} ms p99 ${percentile(steadyLat, 99)} ms max ${steadyLat.at(-1)} ms (${steadyLat.length} steady events); ${r.received} of ${r.appended} appended received at B; redis ${usPerEvent(r).toFixed(1)} µs cpu and ${(r.ops / r.appended).toFixed(2)} commands per event; burst ${r.appendsPerS.toLocaleString('en-US')} appends/s from one hub\n`,
    )
  }
  const v = results.vigil as Run
  const b = results.bare as Run
  process.stdout.write(
    `ratio (bare ÷ vigil): latency p99 ${(percentile(b.latencies, 99) / percentile(v.latencies, 99)).toFixed(2)}, redis cpu per event ${(usPerEvent(b) / usPerEvent(v)).toFixed(2)}, burst appends/s ${(v.appendsPerS / b.appendsPerS).toFixed(2)} (vigil ÷ bare)\n`,
  )
} finally {
  await redis.stop()
}
