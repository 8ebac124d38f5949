import type { HubBus } from '../bus/index.ts'
import { AppError } from '../errors.ts'
import type { Fleet, Hosts } from '../hosts/index.ts'
import { type AgentTick, type MetricsEvent, metricsTopic } from '../protocol/index.ts'
import type { Cursor, NamedSample, RetryingWriter, Store, TickIn } from '../store/index.ts'

export interface PipelineDeps {
  store: Store
  bus: HubBus
  /** The hub's own ticks go through it, so its live data keeps flowing while storage fails. */
  writer: RetryingWriter
  hosts: Hosts
  fleet: Fleet
}

/**
 * The one ingest path: samples → store (committed) → bus. The hub's own sampler, remote agents and
 * `POST /api/metrics` all come in here, so what is stored and what is streamed can never disagree on how it got
 * there; each live tick also feeds the fleet overview and the host's last-seen time.
 */
export class Pipeline {
  readonly #deps: PipelineDeps

  constructor(deps: PipelineDeps) {
    this.#deps = deps
  }

  /**
   * One tick of the hub's own host, every value at `ts`: stored, or queued while storage fails (the agent that
   * lives in the hub's process has no spool of its own), then streamed.
   */
  tick(host: string, ts: number, intervalMs: number, values: Record<string, number>): void {
    const payload: MetricsEvent = { host, ts, intervalMs, values }
    this.#deps.bus.withSamples(metricsTopic(host), 'metrics', payload, ts, (ev) =>
      this.#deps.writer.write(host, ts, values, ev),
    )
    this.#live(host, ts, values)
  }

  /**
   * Samples that go into history only, not the live stream: a job's process-tree figures, which its own `job`
   * events carry live. Queued like the hub's own ticks while storage fails.
   */
  history(host: string, ts: number, values: Record<string, number>): void {
    this.#deps.writer.write(host, ts, values, null)
  }

  /**
   * An agent's ticks, stored with its spool's new high-water mark in one transaction. Live ticks are then streamed
   * (their events logged after the commit, so one goes out only once its samples are stored); replayed ones are
   * history only (the charts re-read their span once the replay is done). Rejects with `unavailable` when storage
   * fails: the agent keeps the ticks in its spool and sends them again.
   */
  async agentTicks(host: string, ticks: readonly AgentTick[], live: boolean, cursor: Cursor): Promise<void> {
    const batch: TickIn[] = ticks.map((t) => ({ ts: t.ts, values: t.values }))
    try {
      await this.#deps.store.writeTicks(host, batch, cursor)
    } catch (err) {
      throw new AppError('unavailable', `Could not store the ticks: ${(err as Error).message}`)
    }
    if (!live) return
    for (const t of ticks) {
      const payload: MetricsEvent = { host, ts: t.ts, intervalMs: t.intervalMs, values: t.values }
      this.#deps.bus.publish(metricsTopic(host), 'metrics', payload, t.ts)
      this.#live(host, t.ts, t.values)
      if (t.processes) this.#deps.hosts.processes(host, t.ts, t.processes)
    }
  }

  /**
   * A batch of samples with their own times, all or nothing; the newest value of each series is streamed as one
   * `metrics` event. Rejects with `unavailable` when storage fails: nothing is acknowledged that is not committed.
   */
  async samples(host: string, samples: readonly NamedSample[]): Promise<void> {
    try {
      await this.#deps.store.writeSamples(host, samples)
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
    const payload: MetricsEvent = { host, ts, intervalMs: 0, values }
    this.#deps.bus.publish(metricsTopic(host), 'metrics', payload)
  }

  #live(host: string, ts: number, values: Readonly<Record<string, number>>): void {
    this.#deps.hosts.seen(host)
    this.#deps.fleet.tick(host, ts, values)
  }
}
