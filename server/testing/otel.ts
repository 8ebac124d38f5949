import type { ExportResult } from '@opentelemetry/core'
import { OTLPMetricExporter as JsonExporter } from '@opentelemetry/exporter-metrics-otlp-http'
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto'
import { resourceFromAttributes } from '@opentelemetry/resources'
import {
  type AggregationTemporality,
  MeterProvider,
  MetricReader,
  type PushMetricExporter,
  type ResourceMetrics,
  type ViewOptions,
} from '@opentelemetry/sdk-metrics'
import { beforeEach } from 'vitest'
import type { SeriesResponse } from '../protocol/index.ts'
import { sleep, useTestHubs } from './hub.ts'

/**
 * An OpenTelemetry SDK reader that collects only when asked (`collect()`), so each export is one the caller made:
 * the OTLP tests and `bench:otlp` drive the real SDK with it.
 */
export class OnDemandReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/**
 * The real OpenTelemetry SDK with its real OTLP/HTTP exporter (protobuf or JSON) pointed at a hub, for the host
 * `otel-host`; `views` pick an instrument's aggregation (an exponential histogram, say).
 */
export function otelSdk(
  url: string,
  token: string,
  encoding: 'protobuf' | 'json',
  temporality: AggregationTemporality,
  views: ViewOptions[] = [],
) {
  const options = { url: `${url}/v1/metrics`, headers: { authorization: `Bearer ${token}` } }
  const exporter: PushMetricExporter = encoding === 'protobuf' ? new ProtoExporter(options) : new JsonExporter(options)
  const reader = new OnDemandReader({ aggregationTemporalitySelector: () => temporality })
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'host.name': 'otel-host', 'service.name': 'shop' }),
    readers: [reader],
    views,
  })
  const meter = provider.getMeter('shop')
  const send = (metrics: ResourceMetrics) => new Promise<ExportResult>((resolve) => exporter.export(metrics, resolve))
  return {
    meter,
    /** Collects what the instruments hold and exports it; resolves with the export and what it sent. */
    async export(): Promise<{ result: ExportResult; metrics: ResourceMetrics }> {
      const { resourceMetrics } = await reader.collect()
      // Each export's points a millisecond apart at least: a second sample at one millisecond replaces the first
      await sleep(5)
      return { result: await send(resourceMetrics), metrics: resourceMetrics }
    },
    send,
    shutdown: () => provider.shutdown(),
  }
}

/** `POST /v1/metrics` with a bearer token and a content type. */
export function postOtlp(
  url: string,
  token: string,
  body: string | Uint8Array,
  type: string,
  extra: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${url}/v1/metrics`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': type, ...extra },
    body,
  })
}

/**
 * For an OTLP test file: a hub (sampling once a minute, so its own series stay quiet) with a reporter token, stopped
 * after the test, and a series' raw values since the test began: a span short enough that no bucket holds two.
 */
export function useOtlpHubs() {
  const hubs = useTestHubs()
  let began = 0
  beforeEach(() => {
    began = Date.now()
  })
  return {
    async start(env: Record<string, string> = {}) {
      const t = await hubs.start({ VIGIL_SAMPLE_MS: '60000', ...env })
      const { hub } = t
      return {
        url: hub.url,
        reporter: (await hub.tokens.create('reporter', 'otel')).token,
        hub,
        /** Stops the hub and starts it again on the same port and data. */
        restart: () => t.restart({ VIGIL_PORT: String(hub.port) }),
      }
    },
    async series(url: string, metric: string, host = 'otel-host'): Promise<number[]> {
      const res = await fetch(`${url}/api/series?metric=${metric}&host=${host}&from=${began - 1000}&points=10000`)
      if (res.status === 404) return []
      return ((await res.json()) as SeriesResponse).points.map((p) => p[1] as number)
    },
  }
}
