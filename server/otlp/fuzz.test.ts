import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestHub, type TestHub } from '../testing/hub.ts'
import { postOtlp } from '../testing/otel.ts'
import { decodeStatus, pb } from '../testing/protobuf.ts'

let t: TestHub
let reporter: string
beforeAll(async () => {
  t = await startTestHub({ VIGIL_SAMPLE_MS: '60000' })
  reporter = (await t.hub.tokens.create('reporter', 'fuzz')).token
})
afterAll(() => t.stop())

const KNOWN = new Set(['invalid', 'forbidden', 'cardinality_limit', 'payload_too_large'])

/** A request with every kind the reader reads: a gauge, a delta sum, a histogram and a summary, with attributes. */
function request(): number[] {
  const ns = BigInt(Date.now()) * 1_000_000n
  const kv = (key: string, value: number[]) => pb.len(7, [...pb.string(1, key), ...pb.len(2, value)])
  const attributes = [...kv('region', pb.string(1, 'eu')), ...kv('shard', [...pb.varint(3 * 8), ...pb.varint(7)])]
  const number = [...pb.fixed64(3, ns), ...pb.double(4, 2.5), ...attributes]
  const gauge = [...pb.string(1, 'shop.depth'), ...pb.len(5, pb.len(1, number))]
  const sum = [...pb.string(1, 'shop.orders'), ...pb.len(7, [...pb.len(1, number), 16, 1, 24, 1])]
  const bucket = [...pb.fixed64(3, ns), ...pb.fixed64(4, 3n), ...pb.double(5, 1.5), ...pb.len(6, [...Buffer.alloc(16)])]
  const histogram = [...pb.string(1, 'shop.wait'), ...pb.string(3, 's'), ...pb.len(9, [...pb.len(1, bucket), 16, 2])]
  const quantile = pb.len(6, [...pb.double(1, 0.5), ...pb.double(2, 4)])
  const summary = [...pb.string(1, 'rpc.latency'), ...pb.len(11, pb.len(1, [...pb.fixed64(4, 2n), ...quantile]))]
  return pb.request('fuzz-host', [gauge, sum, histogram, summary])
}

/** Posts the bytes; a refusal must be a 4xx protobuf Status of a known code. Resolves true when taken. */
async function taken(bytes: number[]): Promise<boolean> {
  const res = await post(new Uint8Array(bytes))
  const body = new Uint8Array(await res.arrayBuffer())
  expect(res.status, Buffer.from(body).toString()).toBeLessThan(500)
  if (res.status === 200) return true
  expect(res.headers.get('content-type')).toBe('application/x-protobuf')
  const status = decodeStatus(body)
  expect(status.message.length).toBeGreaterThan(0)
  expect(KNOWN.has(status.details[0]?.reason ?? ''), status.message).toBe(true)
  return false
}

/** A metric of any kind with arbitrary names, units, values, times, temporalities and attributes. */
const metric = fc
  .record({
    kind: fc.constantFrom(5, 7, 9, 10, 11),
    name: fc.oneof(fc.constantFrom('shop.depth', 'a', 'http.server.request.duration'), fc.string({ maxLength: 40 })),
    unit: fc.oneof(fc.constantFrom('s', 'ms', 'By', '%', '{request}', ''), fc.string({ maxLength: 6 })),
    value: fc.double(),
    count: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    time: fc.oneof(fc.constant(BigInt(Date.now()) * 1_000_000n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
    temporality: fc.integer({ min: 0, max: 4 }),
    attributes: fc.array(fc.tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 })), { maxLength: 3 }),
  })
  .map((m) => {
    const attributes = (field: number) =>
      m.attributes.flatMap(([k, v]) => pb.len(field, [...pb.string(1, k), ...pb.len(2, pb.string(1, v))]))
    const times = pb.fixed64(3, m.time)
    const number = [...times, ...pb.double(4, m.value), ...attributes(7)]
    const distribution = (attrs: number) => [
      ...times,
      ...pb.fixed64(4, m.count),
      ...pb.double(5, m.value),
      ...attributes(attrs),
    ]
    const temporality = [16, m.temporality]
    const data: Record<number, number[]> = {
      5: pb.len(1, number),
      7: [...pb.len(1, number), ...temporality, 24, 1],
      9: [...pb.len(1, distribution(9)), ...temporality],
      10: [...pb.len(1, distribution(1)), ...temporality],
      11: pb.len(1, [...distribution(7), ...pb.len(6, [...pb.double(1, 0.9), ...pb.double(2, m.value)])]),
    }
    return [...pb.string(1, m.name), ...pb.string(3, m.unit), ...pb.len(m.kind, data[m.kind] as number[])]
  })

describe('fuzzing the OTLP protobuf reader', () => {
  it('answers arbitrary well-framed requests of every metric kind with 200 or a 4xx Status of a known code, never a 5xx', async () => {
    const requests = fc.record({
      host: fc.oneof(fc.constantFrom('fuzz-host', 'web-1'), fc.string({ maxLength: 20 })),
      metrics: fc.array(metric, { minLength: 1, maxLength: 4 }),
    })
    const seen = { ok: 0, refused: 0 }
    await fc.assert(
      fc.asyncProperty(requests, async (r) => {
        seen[(await taken(pb.request(r.host, r.metrics))) ? 'ok' : 'refused']++
      }),
      { numRuns: 400 },
    )
    console.log(`fuzz: 400 arbitrary OTLP protobuf requests: ${seen.ok} taken, ${seen.refused} refused with a Status`)
    expect(seen.ok).toBeGreaterThan(0)
    expect(seen.refused).toBeGreaterThan(0)
  })

  it('answers every mutation of a valid protobuf request with 200 or a 4xx Status of a known code, never a 5xx', async () => {
    const valid = request()
    const first = await post(new Uint8Array(valid))
    expect(first.status).toBe(200)
    const mutation = fc.record({
      flips: fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      cut: fc.option(fc.nat(valid.length)),
      insert: fc.option(fc.tuple(fc.nat(valid.length), fc.uint8Array({ minLength: 1, maxLength: 12 }))),
    })
    const seen = { ok: 0, refused: 0 }
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        let bytes = [...valid]
        for (const [at, value] of m.flips) bytes[at] = value
        if (m.insert) bytes.splice(m.insert[0], 0, ...m.insert[1])
        if (m.cut !== null) bytes = bytes.slice(0, m.cut)
        seen[(await taken(bytes)) ? 'ok' : 'refused']++
      }),
      { numRuns: 500 },
    )
    console.log(`fuzz: 500 mutated OTLP protobuf requests: ${seen.ok} taken, ${seen.refused} refused with a Status`)
    expect(seen.refused).toBeGreaterThan(0)
  })
})

function post(body: Uint8Array): Promise<Response> {
  return postOtlp(t.hub.url, reporter, body, 'application/x-protobuf')
}
