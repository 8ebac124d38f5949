/**
 * `npm run bench:otlp`: OpenTelemetry metrics pushed to a real `vigil serve` over OTLP/HTTP, protobuf and JSON,
 * against the baseline of the same samples through Vigil's own `POST /api/metrics`, in the same run. Each
 * request is one host's `--metrics` gauges (the OpenTelemetry SDK's serializers make the bodies, once), sent by
 * `--concurrency` senders for `--seconds` a phase; the figures are samples stored a second and the hub's CPU a
 * sample.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { JsonMetricsSerializer, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { MeterProvider } from '@opentelemetry/sdk-metrics'
import { OnDemandReader } from '../server/testing/otel.ts'
import { createToken, spawnServe } from '../server/testing/process.ts'
import { cpuSeconds, numberFlag } from './lib/proc.ts'

const metrics = numberFlag('metrics', 200)
const seconds = numberFlag('seconds', 15)
const concurrency = numberFlag('concurrency', 4)
const HOSTS = 20

/** One host's request in both encodings, with every point's time 0 (the hub stamps it on arrival). */
async function bodies(host: string): Promise<{ protobuf: Uint8Array; json: Uint8Array; vigil: string }> {
  const reader = new OnDemandReader()
  const provider = new MeterProvider({ resource: resourceFromAttributes({ 'host.name': host }), readers: [reader] })
  const meter = provider.getMeter('bench')
  const gauges = Array.from({ length: metrics / 10 }, (_, i) => meter.createGauge(`bench.group${i}.value`))
  for (const [i, g] of gauges.entries()) for (let k = 0; k < 10; k++) g.record(i * 10 + k + 0.5, { shard: `s${k}` })
  const { resourceMetrics } = await reader.collect()
  for (const sm of resourceMetrics.scopeMetrics) {
    for (const m of sm.metrics) for (const p of m.dataPoints) Object.assign(p, { startTime: [0, 0], endTime: [0, 0] })
  }
  await provider.shutdown()
  const samples = Array.from({ length: metrics }, (_, n) => ({
    name: `bench.group${Math.floor(n / 10)}.shard_s${n % 10}.value`,
    value: n + 0.5,
  }))
  return {
    protobuf: ProtobufMetricsSerializer.serializeRequest(resourceMetrics) as Uint8Array,
    json: JsonMetricsSerializer.serializeRequest(resourceMetrics) as Uint8Array,
    vigil: JSON.stringify({ host, samples }),
  }
}

const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-otlp-'))
const server = await spawnServe(['--port', '0', '--data-dir', dir, '--sample-ms', '1000'], {}, true)
const token = createToken(dir, 'reporter', 'bench')
const pid = server.child.pid as number

async function phase(name: string, path: string, type: string, body: (host: number) => Uint8Array | string) {
  let requests = 0
  const end = performance.now() + seconds * 1000
  const cpu0 = cpuSeconds(pid)
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (let i = w; performance.now() < end; i += concurrency) {
        const res = await fetch(`${server.url}${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': type },
          body: body(i % HOSTS),
        })
        if (res.status !== 200) throw new Error(`${name}: ${res.status} ${await res.text()}`)
        await res.arrayBuffer()
        requests++
      }
    }),
  )
  const wall = (performance.now() - t0) / 1000
  const cpu = cpuSeconds(pid) - cpu0
  const samples = requests * metrics
  const perSample = (cpu / samples) * 1e6
  console.log(
    `${name.padEnd(16)} ${requests} requests, ${Math.round(samples / wall).toLocaleString('en')} samples/s, hub cpu ${((cpu / wall) * 100).toFixed(1)} % of one core, ${perSample.toFixed(2)} µs of hub cpu a sample`,
  )
  return perSample
}

try {
  const all = await Promise.all(Array.from({ length: HOSTS }, (_, h) => bodies(`otlp-${h}`)))
  console.log(
    `bench:otlp ${new Date().toISOString()} node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model}); ${HOSTS} hosts × ${metrics} gauges a request, ${concurrency} senders, ${seconds} s a phase; bodies: protobuf ${all[0]?.protobuf.length} B, JSON ${all[0]?.json.length} B, /api/metrics ${all[0]?.vigil.length} B`,
  )
  const base = await phase('POST /api/metrics', '/api/metrics', 'application/json', (h) => all[h]?.vigil ?? '')
  const proto = await phase('OTLP protobuf', '/v1/metrics', 'application/x-protobuf', (h) => all[h]?.protobuf ?? '')
  const json = await phase('OTLP JSON', '/v1/metrics', 'application/json', (h) => all[h]?.json ?? '')
  console.log(
    `ratio (hub cpu a sample ÷ POST /api/metrics): OTLP protobuf ${(proto / base).toFixed(2)}, OTLP JSON ${(json / base).toFixed(2)}`,
  )
} finally {
  server.child.kill('SIGTERM')
  await server.exited
  rmSync(dir, { recursive: true, force: true })
}
