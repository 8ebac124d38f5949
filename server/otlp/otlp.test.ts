import { gzipSync } from 'node:zlib'
import type { Attributes } from '@opentelemetry/api'
import { ExportResultCode } from '@opentelemetry/core'
import { AggregationTemporality } from '@opentelemetry/sdk-metrics'
import { describe, expect, it } from 'vitest'
import { otelSdk, postOtlp, useOtlpHubs } from '../testing/otel.ts'
import { decodeStatus, pb } from '../testing/protobuf.ts'
import { SimAgent } from '../testing/sim-agent.ts'

const PROTOBUF = 'application/x-protobuf'

const otlp = useOtlpHubs()

describe('OTLP/HTTP metrics from the OpenTelemetry SDK', () => {
  it('takes gauges, cumulative counters and up-down counters over protobuf, for the host its resource names', async () => {
    const { url, reporter } = await otlp.start()
    const sdk = otelSdk(url, reporter, 'protobuf', AggregationTemporality.CUMULATIVE)
    const orders = sdk.meter.createCounter('shop.orders', { unit: '{order}' })
    const depth = sdk.meter.createGauge('shop.queue.depth')
    const carts = sdk.meter.createUpDownCounter('shop.carts.open')
    const sent = sdk.meter.createCounter('shop.sent', { unit: 'By' })
    const eu: Attributes = { region: 'eu' }
    orders.add(5, eu)
    depth.record(7)
    carts.add(4)
    sent.add(1000)
    expect((await sdk.export()).result).toEqual({ code: ExportResultCode.SUCCESS })
    orders.add(3, eu)
    depth.record(2)
    carts.add(-1)
    sent.add(24)
    expect((await sdk.export()).result).toEqual({ code: ExportResultCode.SUCCESS })
    await sdk.shutdown()

    expect(await otlp.series(url, 'shop.region_eu.orders_total')).toEqual([5, 8])
    expect(await otlp.series(url, 'shop.queue.depth')).toEqual([7, 2])
    expect(await otlp.series(url, 'shop.carts.open')).toEqual([4, 3])
    expect(await otlp.series(url, 'shop.sent_bytes_total')).toEqual([1000, 1024])
    const catalog = (await (await fetch(`${url}/api/metrics/catalog?host=otel-host`)).json()) as { name: string }[]
    expect(catalog.map((c) => c.name).sort()).toEqual([
      'shop.carts.open',
      'shop.queue.depth',
      'shop.region_eu.orders_total',
      'shop.sent_bytes_total',
    ])
  })

  it('adds delta sums sent as JSON onto their running total, and takes an exporter’s retry only once', async () => {
    const { url, reporter } = await otlp.start()
    const sdk = otelSdk(url, reporter, 'json', AggregationTemporality.DELTA)
    const orders = sdk.meter.createCounter('shop.orders', { unit: '{order}' })
    const carts = sdk.meter.createUpDownCounter('shop.carts.open')
    orders.add(5, { region: 'eu' })
    carts.add(4)
    expect((await sdk.export()).result).toEqual({ code: ExportResultCode.SUCCESS })
    orders.add(3, { region: 'eu' })
    carts.add(-1)
    const second = await sdk.export()
    expect(second.result).toEqual({ code: ExportResultCode.SUCCESS })
    // The same request again, as an exporter retries one whose answer it lost
    expect(await sdk.send(second.metrics)).toEqual({ code: ExportResultCode.SUCCESS })
    await sdk.shutdown()

    // The same totals a cumulative exporter gives
    expect(await otlp.series(url, 'shop.region_eu.orders_total')).toEqual([5, 8])
    expect(await otlp.series(url, 'shop.carts.open')).toEqual([4, 3])
  })
})

describe('OTLP/HTTP across a hub restart', () => {
  it('goes on adding a delta sum onto the running total the hub stored before it restarted', async () => {
    const { url, reporter, restart } = await otlp.start()
    const sdk = otelSdk(url, reporter, 'protobuf', AggregationTemporality.DELTA)
    const orders = sdk.meter.createCounter('shop.orders', { unit: '{order}' })
    orders.add(5)
    expect((await sdk.export()).result).toEqual({ code: ExportResultCode.SUCCESS })
    await restart()
    orders.add(3)
    expect((await sdk.export()).result).toEqual({ code: ExportResultCode.SUCCESS })
    await sdk.shutdown()
    expect(await otlp.series(url, 'shop.orders_total')).toEqual([5, 8])
  })
})

describe('OTLP/HTTP input rules', () => {
  const gauge = (name: string, value: number, host = 'otel-host') => ({
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'host.name', value: { stringValue: host } }] },
        scopeMetrics: [{ metrics: [{ name, gauge: { dataPoints: [{ asDouble: value }] } }] }],
      },
    ],
  })

  /** `gauge` in protobuf. */
  const gaugeProtobuf = (name: string, value: number, host = 'otel-host') => {
    const metric = [...pb.string(1, name), ...pb.len(5, pb.len(1, pb.double(4, value)))]
    return new Uint8Array(pb.request(host, [metric]))
  }
  const answer = async (res: Response) => [res.status, ((await res.json()) as { error?: { code: string } }).error?.code]

  it('answers bad JSON, a wrong shape and an unknown content type with 400 invalid', async () => {
    const { url, reporter } = await otlp.start()
    expect(await answer(await postOtlp(url, reporter, '{"resourceMetrics": [', 'application/json'))).toEqual([
      400,
      'invalid',
    ])
    expect(await answer(await postOtlp(url, reporter, '{"resourceMetrics": "all"}', 'application/json'))).toEqual([
      400,
      'invalid',
    ])
    expect(await answer(await postOtlp(url, reporter, JSON.stringify(gauge('shop.depth', 1)), 'text/plain'))).toEqual([
      400,
      'invalid',
    ])
    const nan = JSON.stringify(gauge('shop.depth', 0)).replace('"asDouble":0', '"asDouble":"NaN"')
    expect(await answer(await postOtlp(url, reporter, nan, 'application/json'))).toEqual([400, 'invalid'])
    // A reporter may not write Vigil's own names
    const reserved = await postOtlp(url, reporter, JSON.stringify(gauge('cpu.usage_pct', 1)), 'application/json')
    expect([reserved.status, await reserved.json()]).toEqual([
      400,
      {
        error: {
          code: 'invalid',
          message:
            "resourceMetrics.0.scopeMetrics.0.metrics.0.dataPoints.0.name: cpu.usage_pct is reserved for Vigil's own metrics",
        },
      },
    ])
    expect(await otlp.series(url, 'shop.depth')).toEqual([])
    // gzip, as exporters send with compression on, is taken
    const gz = gzipSync(JSON.stringify(gauge('shop.depth', 3)))
    const ok = await postOtlp(url, reporter, gz, 'application/json', { 'content-encoding': 'gzip' })
    expect([ok.status, await ok.json()]).toEqual([200, {}])
    expect(await otlp.series(url, 'shop.depth')).toEqual([3])
  })

  it('answers a protobuf request’s refusals with a protobuf google.rpc.Status, as OTLP asks: the gRPC code, the message and the error code', async () => {
    const { url, reporter, hub } = await otlp.start({ VIGIL_MAX_SERIES: '1' })
    const viewer = (await hub.tokens.create('viewer', 'looks')).token
    const status = async (res: Response) => ({
      status: res.status,
      type: res.headers.get('content-type'),
      body: decodeStatus(new Uint8Array(await res.arrayBuffer())),
    })
    const info = (reason: string) => [{ typeUrl: 'type.googleapis.com/google.rpc.ErrorInfo', reason, domain: 'vigil' }]
    const malformed = await postOtlp(url, reporter, new Uint8Array([0x0a, 0xff, 0x01]), PROTOBUF)
    const message = 'The protobuf body is malformed: length past the end of its message'
    const bytes = new Uint8Array(await malformed.clone().arrayBuffer())
    // Byte for byte what another writer makes of Status{code: 3, message, details: [Any{ErrorInfo}]}
    const errorInfo = [...pb.string(1, 'invalid'), ...pb.string(2, 'vigil')]
    const any = [...pb.string(1, 'type.googleapis.com/google.rpc.ErrorInfo'), ...pb.len(2, errorInfo)]
    expect([...bytes]).toEqual([...pb.varint(8), ...pb.varint(3), ...pb.string(2, message), ...pb.len(3, any)])
    expect(await status(malformed)).toEqual({
      status: 400,
      type: PROTOBUF,
      body: { code: 3, message, details: info('invalid') },
    })
    // Each refusal carries what the same request as JSON gets: its status, message and code
    expect((await postOtlp(url, reporter, gaugeProtobuf('shop.a', 1), PROTOBUF)).status).toBe(200)
    for (const [token, body, json, grpc] of [
      ['vgl_not-a-token', gaugeProtobuf('shop.a', 1), JSON.stringify(gauge('shop.a', 1)), 16],
      [viewer, gaugeProtobuf('shop.a', 1), JSON.stringify(gauge('shop.a', 1)), 7],
      [reporter, gaugeProtobuf('shop.b', 1), JSON.stringify(gauge('shop.b', 1)), 8],
    ] as const) {
      const asJson = await postOtlp(url, token, json, 'application/json')
      const { error } = (await asJson.json()) as { error: { code: string; message: string } }
      expect(await status(await postOtlp(url, token, body, PROTOBUF))).toEqual({
        status: asJson.status,
        type: PROTOBUF,
        body: { code: grpc, message: error.message, details: info(error.code) },
      })
    }
    expect(await otlp.series(url, 'shop.b')).toEqual([])
    // The body cap, which answers before the body is read
    expect(await status(await postOtlp(url, reporter, new Uint8Array(1024 * 1024 + 1), PROTOBUF))).toEqual({
      status: 413,
      type: PROTOBUF,
      body: { code: 8, message: 'Body over 1048576 bytes', details: info('payload_too_large') },
    })
  })

  it('refuses a viewer with 403, and past VIGIL_MAX_SERIES answers 429 cardinality_limit', async () => {
    const { url, reporter, hub } = await otlp.start({ VIGIL_MAX_SERIES: '2' })
    const viewer = (await hub.tokens.create('viewer', 'looks')).token
    expect(
      await answer(await postOtlp(url, viewer, JSON.stringify(gauge('shop.depth', 1)), 'application/json')),
    ).toEqual([403, 'forbidden'])
    expect((await postOtlp(url, reporter, JSON.stringify(gauge('shop.a', 1)), 'application/json')).status).toBe(200)
    expect((await postOtlp(url, reporter, JSON.stringify(gauge('shop.b', 1)), 'application/json')).status).toBe(200)
    expect(await answer(await postOtlp(url, reporter, JSON.stringify(gauge('shop.c', 1)), 'application/json'))).toEqual(
      [429, 'cardinality_limit'],
    )
  })

  it('lets an agent token push only for the host it is bound to', async () => {
    const { url, hub } = await otlp.start()
    const agent = (await hub.tokens.create('agent', 'edge')).token
    // The token is bound to edge-1 when its agent first connects
    const sim = new SimAgent({ url, token: agent, host: 'edge-1' })
    await sim.hello()
    sim.close()
    expect((await postOtlp(url, agent, JSON.stringify(gauge('shop.a', 1, 'edge-1')), 'application/json')).status).toBe(
      200,
    )
    expect(
      await answer(await postOtlp(url, agent, JSON.stringify(gauge('shop.a', 1, 'edge-2')), 'application/json')),
    ).toEqual([403, 'forbidden'])
  })
})
