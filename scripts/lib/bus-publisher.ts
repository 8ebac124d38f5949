/**
 * Hub A of `bench:bus`, a process of its own: `bus-publisher.ts <vigil|bare> <url> <key> <rate> <seconds> <bytes>`.
 * Appends `steady` events at the rate for the given seconds, then `burst` events with 64 in flight for 5 s, and
 * prints `burst <appends per second> appended <total>`.
 */
import { createClient, type RedisClientType } from 'redis'
import { RedisEventStream } from '../../server/bus/redis.ts'

const [mode, url, key, rateArg, secondsArg, bytesArg] = process.argv.slice(2) as string[]
const rate = Number(rateArg)
const seconds = Number(secondsArg)
const data = JSON.stringify({ host: 'edge-1', pad: 'x'.repeat(Math.max(0, Number(bytesArg) - 30)) })
const BURST_MS = 5000
const IN_FLIGHT = 64

let append: (topic: string) => Promise<unknown>
let close: () => Promise<void>
if (mode === 'vigil') {
  const s = await RedisEventStream.open({
    url: url as string,
    key,
    origin: `publisher-${process.pid}`,
    windowMs: 900_000,
    onEvent: () => {},
  })
  append = (topic) => s.append({ ts: Date.now(), topic, event: 'metrics', data }, 0)
  close = () => s.close()
} else {
  const c: RedisClientType = createClient({ url })
  c.on('error', () => {})
  await c.connect()
  append = (topic) =>
    c.sendCommand(['XADD', key as string, '*', 'ts', String(Date.now()), 't', topic, 'e', 'metrics', 'd', data])
  close = async () => c.destroy()
}

// Steady: a share of the rate every 10 ms, against the clock so a slow tick does not lower the rate
const start = Date.now()
let sent = 0
while (Date.now() - start < seconds * 1000) {
  const due = Math.floor(((Date.now() - start) / 1000) * rate)
  const batch: Promise<unknown>[] = []
  for (; sent < due; sent++) batch.push(append('steady'))
  await Promise.all(batch)
  await new Promise((r) => setTimeout(r, 10))
}

// Burst: as many as one hub gets through with a bounded number in flight
let done = 0
const burstEnd = Date.now() + BURST_MS
await Promise.all(
  Array.from({ length: IN_FLIGHT }, async () => {
    while (Date.now() < burstEnd) {
      await append('burst')
      done++
    }
  }),
)
process.stdout.write(`burst ${Math.round(done / (BURST_MS / 1000))} appended ${sent + done}\n`)
await close()
