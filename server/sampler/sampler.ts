import { performance } from 'node:perf_hooks'
import type { HostSnapshot } from '../protocol/index.ts'
import { Group, type GroupStats } from './group.ts'
import type { FastReading, Probe } from './probe.ts'
import { fastValues, slowValues } from './rates.ts'
import { withTimeout } from './timeout.ts'

/** Where a tick's results go: the hub stores and publishes them. */
export interface SamplerSink {
  /** One tick's values; a slow-group tick carries the process table and the device names too. */
  metrics(ts: number, intervalMs: number, values: Record<string, number>, snapshot?: HostSnapshot): void
  /** After each reading: the probe calls that failed in it (empty when all worked). */
  faults(group: 'fast' | 'slow', faults: readonly string[]): void
  /** Each fast tick: how far the wall clock is behind the time ticks go on with (0 when it is not). */
  clock(behindMs: number): void
}

/** A reading that takes longer than this is abandoned as failed, so one hung call can't stop the group. */
export function readTimeoutMs(intervalMs: number): number {
  return Math.max(3000, 2 * intervalMs)
}

export interface SamplerOptions {
  sampleMs: number
  slowSampleMs: number
  /** The wall clock; tests fake a jump. */
  now?: () => number
}

/** How far the wall clock may fall behind the monotonic estimate before ticks stop following it. */
const CLOCK_TOLERANCE_MS = 1000

function round2(n: number): number {
  return Math.round(n * 100) / 100
}

/**
 * A tick's timestamp on its interval's grid (10:00:01.000, not 10:00:01.004): ticks fire just after multiples
 * of the interval, so a steady cadence has equal deltas, which the store keeps in a few bytes an hour. A tick
 * that ran late (more than a quarter second, or half an interval) keeps its own time. Never in the future, never
 * at or before the previous tick's.
 */
export function gridTime(now: number, intervalMs: number, last: number): number {
  const t = Math.floor(now / intervalMs) * intervalMs
  const slack = Math.min(250, intervalMs / 2)
  if (now - t <= slack && t > last) return t
  return Math.max(Math.round(now), last + 1)
}

/**
 * Samples the machine once per tick, whatever the number of viewers: a fast group (CPU, memory, load, network,
 * disk IO) and a slow group (filesystems, temperatures, processes), each reporting its own cost.
 */
export class Sampler {
  readonly #fast: Group
  readonly #slow: Group
  #prev: FastReading | null = null

  constructor(probe: Probe, opts: SamplerOptions, sink: SamplerSink, onError: (group: string, err: unknown) => void) {
    /**
     * One group's tick: read, turn into values, add the tick's own cost under `costMetric`, hand on. The interval
     * is read when the tick runs, since operators change it while the hub runs.
     */
    const tick = <R extends { faults?: string[] }>(
      group: 'fast' | 'slow',
      interval: () => number,
      costMetric: string,
      read: () => Promise<R>,
      values: (r: R) => Record<string, number>,
      snapshot?: (r: R) => HostSnapshot,
    ) => {
      let last = Number.NEGATIVE_INFINITY
      // The time the previous tick went by, before gridTime rounded it: the monotonic estimate goes on from it,
      // so rounding down to the grid at every tick does not add up to drift while the wall clock is behind
      let lastTime = Number.NEGATIVE_INFINITY
      let lastMono = 0
      const wallClock = opts.now ?? Date.now
      return async () => {
        const t0 = performance.now()
        const wall = wallClock()
        // A wall clock that went back is not followed: time goes on from the last tick by the monotonic clock
        // until the wall clock catches up, so timestamps keep their spacing and never repeat
        const expected = lastTime === Number.NEGATIVE_INFINITY ? wall : lastTime + (t0 - lastMono)
        const behind = expected - wall > CLOCK_TOLERANCE_MS ? expected - wall : 0
        if (group === 'fast') sink.clock(behind)
        lastTime = behind > 0 ? expected : wall
        const ts = gridTime(lastTime, interval(), last)
        last = ts
        lastMono = t0
        const reading = await withTimeout(read(), readTimeoutMs(interval()))
        sink.faults(group, reading.faults ?? [])
        const out = values(reading)
        out[costMetric] = round2(performance.now() - t0)
        sink.metrics(ts, interval(), out, snapshot?.(reading))
      }
    }
    this.#fast = new Group(
      opts.sampleMs,
      tick(
        'fast',
        () => this.#fast.intervalMs,
        'vigil.sampler_ms',
        () => probe.fast(),
        (reading) => {
          const values = fastValues(this.#prev, reading)
          this.#prev = reading
          return values
        },
      ),
      (err) => onError('fast', err),
    )
    this.#slow = new Group(
      opts.slowSampleMs,
      tick(
        'slow',
        () => this.#slow.intervalMs,
        'vigil.sampler_slow_ms',
        () => probe.slow(),
        slowValues,
        (r) => ({
          processes: r.processes,
          // Interfaces as the latest fast reading found them, mounts as this reading did
          devices: { interfaces: [...(this.#prev?.net.keys() ?? [])], mounts: r.fs.map((f) => f.mount) },
        }),
      ),
      (err) => onError('slow', err),
    )
  }

  start(): void {
    this.#fast.start(0)
    // Process CPU shares need a span to measure over: the first slow tick waits one fast interval
    this.#slow.start(Math.min(this.#fast.intervalMs, this.#slow.intervalMs))
  }

  /** Applies operator settings: intervals from the next tick on, and pause or resume. */
  configure(s: { fastMs: number; slowMs: number; paused: boolean }): void {
    this.#fast.setInterval(s.fastMs)
    this.#slow.setInterval(s.slowMs)
    if (s.paused && this.#fast.started) {
      this.#fast.stop()
      this.#slow.stop()
    } else if (!s.paused && !this.#fast.started) {
      this.start()
    }
  }

  /** Stops both groups and waits for ticks in flight, so their writes land before the store closes. */
  async stop(): Promise<void> {
    this.#fast.stop()
    this.#slow.stop()
    await Promise.all([this.#fast.idle(), this.#slow.idle()])
  }

  stats(): { fast: GroupStats; slow: GroupStats } {
    return { fast: this.#fast.stats(), slow: this.#slow.stats() }
  }
}
