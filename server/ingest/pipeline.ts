import type { Bus } from '../bus/index.ts'
import { AppError } from '../errors.ts'
import type { MetricsEvent } from '../protocol/index.ts'
import type { NamedSample, RetryingWriter, Store } from '../store/index.ts'

export interface PipelineDeps {
  store: Store
  bus: Bus
  /** Ticks go through it, so live data keeps flowing while storage fails. */
  writer: RetryingWriter
}

/**
 * The one ingest path: samples → store → bus. The hub's own sampler, remote agents and `POST /api/metrics` all
 * come in here, so what is stored and what is streamed can never disagree on how it got there.
 */
export class Pipeline {
  readonly #deps: PipelineDeps

  constructor(deps: PipelineDeps) {
    this.#deps = deps
  }

  /** One tick of one host, every value at `ts`: stored (or queued while storage fails), then streamed. */
  tick(host: string, ts: number, intervalMs: number, values: Record<string, number>): void {
    const { bus, writer } = this.#deps
    const payload: MetricsEvent = { host, ts, intervalMs, values }
    const ev = bus.create('metrics', 'metrics', payload, ts)
    writer.write(host, ts, values, ev)
    bus.emit(ev)
  }

  /**
   * A batch of samples with their own times, all or nothing; the newest value of each series is streamed as one
   * `metrics` event. Throws `unavailable` when storage fails: nothing is acknowledged that is not committed.
   */
  samples(host: string, samples: readonly NamedSample[]): void {
    try {
      this.#deps.store.writeSamples(host, samples)
    } catch (err) {
      throw new AppError('unavailable', `Could not store the samples: ${(err as Error).message}`)
    }
    const newest = new Map<string, { ts: number; value: number }>()
    let ts = 0
    for (const s of samples) {
      const prev = newest.get(s.name)
      if (!prev || s.ts >= prev.ts) newest.set(s.name, { ts: s.ts, value: s.value })
      if (s.ts > ts) ts = s.ts
    }
    const values: Record<string, number> = {}
    for (const [name, v] of newest) values[name] = v.value
    this.#deps.bus.publish('metrics', 'metrics', { host, ts, intervalMs: 0, values } satisfies MetricsEvent)
  }
}
