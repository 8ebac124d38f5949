import { ExportResultCode } from '@opentelemetry/core'
import { AggregationTemporality, AggregationType, DataPointType } from '@opentelemetry/sdk-metrics'
import { describe, expect, it } from 'vitest'
import { otelSdk, postOtlp, useOtlpHubs } from '../testing/otel.ts'
import { pb } from '../testing/protobuf.ts'

const otlp = useOtlpHubs()

/** One summary point for `host`, in OTLP/JSON and in protobuf: the same request both ways. */
function summaryRequest(host: string, timeMs: number) {
  const quantiles = [
    { quantile: 0.5, value: 12 },
    { quantile: 0.99, value: 480 },
  ]
  const json = {
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'host.name', value: { stringValue: host } }] },
        scopeMetrics: [
          {
            metrics: [
              {
                name: 'rpc.latency',
                unit: 'ms',
                summary: {
                  dataPoints: [{ timeUnixNano: `${timeMs}000000`, count: '40', sum: 2000, quantileValues: quantiles }],
                },
              },
            ],
          },
        ],
      },
    ],
  }
  const point = [
    ...pb.fixed64(3, BigInt(timeMs) * 1_000_000n),
    ...pb.fixed64(4, 40n),
    ...pb.double(5, 2000),
    ...quantiles.flatMap((q) => pb.len(6, [...pb.double(1, q.quantile), ...pb.double(2, q.value)])),
  ]
  const metric = [...pb.string(1, 'rpc.latency'), ...pb.string(3, 'ms'), ...pb.len(11, pb.len(1, point))]
  const protobuf = new Uint8Array(pb.request(host, [metric]))
  return { json: JSON.stringify(json), protobuf }
}

describe('OpenTelemetry histograms and summaries', () => {
  it('keeps a cumulative histogram’s count and sum from the SDK over protobuf, beside a gauge of the same request', async () => {
    const { url, reporter } = await otlp.start()
    const sdk = otelSdk(url, reporter, 'protobuf', AggregationTemporality.CUMULATIVE)
    const checkout = sdk.meter.createHistogram('shop.checkout.duration', { unit: 's' })
    const depth = sdk.meter.createGauge('shop.queue.depth')
    checkout.record(0.25, { method: 'card' })
    checkout.record(0.75, { method: 'card' })
    depth.record(7)
    expect((await sdk.export()).result).toEqual({ code: ExportResultCode.SUCCESS })
    checkout.record(1.5, { method: 'card' })
    expect((await sdk.export()).result).toEqual({ code: ExportResultCode.SUCCESS })
    await sdk.shutdown()

    expect(await otlp.series(url, 'shop.checkout.method_card.duration_seconds_count')).toEqual([2, 3])
    expect(await otlp.series(url, 'shop.checkout.method_card.duration_seconds_sum')).toEqual([1, 2.5])
    expect(await otlp.series(url, 'shop.queue.depth')).toEqual([7, 7])
    // Prometheus sees the pair as one summary without quantiles
    const text = await (await fetch(`${url}/metrics`)).text()
    const family = 'vigil_shop_checkout_method_card_duration_seconds'
    expect(text).toContain(
      `# TYPE ${family} summary\n${family}_count{host="otel-host"} 3\n${family}_sum{host="otel-host"} 2.5\n`,
    )
  })

  it('adds a delta exponential histogram sent as JSON up to the same count and sum, and takes a retry once', async () => {
    const { url, reporter } = await otlp.start()
    const sdk = otelSdk(url, reporter, 'json', AggregationTemporality.DELTA, [
      { instrumentName: 'shop.checkout.duration', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } },
    ])
    const checkout = sdk.meter.createHistogram('shop.checkout.duration', { unit: 's' })
    checkout.record(0.25, { method: 'card' })
    checkout.record(0.75, { method: 'card' })
    const first = await sdk.export()
    expect(first.result).toEqual({ code: ExportResultCode.SUCCESS })
    expect(first.metrics.scopeMetrics[0]?.metrics[0]?.dataPointType).toBe(DataPointType.EXPONENTIAL_HISTOGRAM)
    checkout.record(1.5, { method: 'card' })
    const second = await sdk.export()
    expect(second.result).toEqual({ code: ExportResultCode.SUCCESS })
    expect(await sdk.send(second.metrics)).toEqual({ code: ExportResultCode.SUCCESS })
    await sdk.shutdown()

    expect(await otlp.series(url, 'shop.checkout.method_card.duration_seconds_count')).toEqual([2, 3])
    expect(await otlp.series(url, 'shop.checkout.method_card.duration_seconds_sum')).toEqual([1, 2.5])
  })

  it('keeps a summary’s count, sum and quantiles, alike from protobuf and from JSON', async () => {
    const { url, reporter } = await otlp.start()
    const at = Date.now() - 1000
    const a = summaryRequest('pb-host', at)
    const b = summaryRequest('json-host', at)
    const fromProtobuf = await postOtlp(url, reporter, a.protobuf, 'application/x-protobuf')
    expect([fromProtobuf.status, fromProtobuf.headers.get('content-type')]).toEqual([200, 'application/x-protobuf'])
    const fromJson = await postOtlp(url, reporter, b.json, 'application/json')
    expect([fromJson.status, await fromJson.json()]).toEqual([200, {}])
    for (const host of ['pb-host', 'json-host']) {
      expect(await otlp.series(url, 'rpc.latency_ms_count', host)).toEqual([40])
      expect(await otlp.series(url, 'rpc.latency_ms_sum', host)).toEqual([2000])
      expect(await otlp.series(url, 'rpc.quantile_0_5.latency_ms', host)).toEqual([12])
      expect(await otlp.series(url, 'rpc.quantile_0_99.latency_ms', host)).toEqual([480])
    }
    // In Prometheus' base unit: the sum in seconds, the count as it is
    const text = await (await fetch(`${url}/metrics`)).text()
    expect(text).toContain('vigil_rpc_latency_seconds_count{host="pb-host"} 40\n')
    expect(text).toContain('vigil_rpc_latency_seconds_sum{host="pb-host"} 2\n')
  })

  it('refuses a histogram without a temporality, or with a negative count, with 400 invalid and stores nothing', async () => {
    const { url, reporter, hub } = await otlp.start()
    const request = (histogram: object) =>
      JSON.stringify({
        resourceMetrics: [
          {
            scopeMetrics: [
              {
                metrics: [
                  { name: 'shop.depth', gauge: { dataPoints: [{ asDouble: 1 }] } },
                  { name: 'shop.h', histogram },
                ],
              },
            ],
          },
        ],
      })
    const refusal = async (histogram: object) => {
      const res = await postOtlp(url, reporter, request(histogram), 'application/json')
      return [res.status, await res.json()]
    }
    expect(await refusal({ dataPoints: [{ count: '1', sum: 1 }] })).toEqual([
      400,
      {
        error: {
          code: 'invalid',
          message: 'resourceMetrics.0.scopeMetrics.0.metrics.1: shop.h has no aggregation temporality',
        },
      },
    ])
    expect(await refusal({ aggregationTemporality: 2, dataPoints: [{ count: '-1', sum: 1 }] })).toEqual([
      400,
      {
        error: {
          code: 'invalid',
          message: 'resourceMetrics.0.scopeMetrics.0.metrics.1.dataPoints.0: count must not be negative',
        },
      },
    ])
    expect(await otlp.series(url, 'shop.depth', hub.host)).toEqual([])
    expect(await otlp.series(url, 'shop.h_count', hub.host)).toEqual([])
  })
})
