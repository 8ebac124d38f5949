import { MetricReader } from '@opentelemetry/sdk-metrics'

/**
 * An OpenTelemetry SDK reader that collects only when asked (`collect()`), so each export is one the caller made:
 * the OTLP tests and `bench:otlp` drive the real SDK with it.
 */
export class OnDemandReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}
