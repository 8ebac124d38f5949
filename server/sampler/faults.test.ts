import { statfs as realStatfs } from 'node:fs/promises'
import si from 'systeminformation'
import { describe, expect, it } from 'vitest'
import type { MetricsEvent } from '../protocol/index.ts'
import { healthOf } from '../testing/child.ts'
import { type Collector, useTestHubs } from '../testing/hub.ts'
import { linuxProbe, type Statfs } from './linux.ts'
import type { Probe } from './probe.ts'
import { type SiCalls, siProbe } from './si-probe.ts'

const hubs = useTestHubs()

const valuesOf = (c: Collector) => c.events.map((e) => (e.data as MetricsEvent).values)

describe('sampler faults', () => {
  it('leaves out the metrics of a call that hangs or throws and keeps the rest (stubbed systeminformation)', async () => {
    const stub: SiCalls = {
      ...si,
      mem: () => new Promise(() => {}),
      networkStats: () => Promise.reject(new Error('netlink is gone')),
    }
    const t = await hubs.start({ VIGIL_SAMPLE_MS: '300' }, { probe: siProbe({ si: stub, callTimeoutMs: 100 }) })
    const url = t.hub.url
    const live = hubs.metrics(url)
    await live.waitFor(() => valuesOf(live).filter((v) => 'cpu.usage_pct' in v).length >= 3)
    for (const v of valuesOf(live).filter((x) => 'vigil.sampler_ms' in x)) {
      expect(Object.keys(v).filter((k) => k.startsWith('mem.') || k.startsWith('net.'))).toEqual([])
      expect(v['load.1m']).toBeTypeOf('number')
    }
    const h = await healthOf(url)
    expect(h.status).toBe('degraded')
    expect(h.reasons.find((r) => r.component === 'sampler.fast')?.message).toBe(
      'metrics missing this tick: mem: timed out after 100 ms; networkStats: netlink is gone',
    )
  })

  it('abandons a reading that hangs past its timeout, says so in /api/health, and samples again (faked hung probe)', async () => {
    const real = linuxProbe()
    let hang = true
    const probe: Probe = {
      name: 'hangs until told',
      fast: () => (hang ? new Promise(() => {}) : real.fast()),
      slow: () => real.slow(),
    }
    const t = await hubs.start({ VIGIL_SAMPLE_MS: '100' }, { probe })
    const url = t.hub.url
    await expect
      .poll(async () => (await healthOf(url)).reasons.find((r) => r.component === 'sampler.fast')?.message, {
        timeout: 10_000,
      })
      .toBe('the fast reading failed: timed out after 3000 ms')
    hang = false
    const live = hubs.metrics(url)
    await live.waitFor(() => valuesOf(live).filter((v) => 'vigil.sampler_ms' in v).length >= 3)
    await expect.poll(async () => (await healthOf(url)).status, { timeout: 10_000 }).toBe('ok')
  })
})

describe('clock jumps', () => {
  it('keeps event ids and sample times rising at their cadence when the wall clock jumps back an hour, and says so in /api/health (faked clock)', async () => {
    let offset = 0
    const t = await hubs.start({ VIGIL_SAMPLE_MS: '100' }, { clock: () => Date.now() + offset })
    const url = t.hub.url
    const live = hubs.metrics(url)
    const fastTicks = () => live.events.filter((e) => 'vigil.sampler_ms' in (e.data as MetricsEvent).values)
    await live.waitFor(() => fastTicks().length >= 5)
    const before = fastTicks().length
    offset = -3_600_000
    await live.waitFor(() => fastTicks().length >= before + 15)
    expect((await healthOf(url)).reasons.find((r) => r.component === 'clock')?.message).toMatch(
      /^the wall clock went back 360\d s; sample times go on from the monotonic clock until it catches up$/,
    )
    const ticks = fastTicks()
    const ids = ticks.map((e) => Number(e.id))
    const times = ticks.map((e) => (e.data as MetricsEvent).ts)
    expect(ids.every((id, i) => i === 0 || id > (ids[i - 1] as number))).toBe(true)
    const gaps = times.slice(1).map((ts, i) => ts - (times[i] as number))
    expect(Math.min(...gaps)).toBeGreaterThan(0)
    const sorted = [...gaps].sort((a, b) => a - b)
    expect(sorted[Math.floor(sorted.length / 2)]).toBe(100)
    // The history takes the ticks at their times, not an hour back
    const last = times.at(-1) as number
    const res = await fetch(`${url}/api/series?metric=vigil.sampler_ms&from=${last - 1000}&to=${last}&points=1000`)
    const body = (await res.json()) as { points: number[][] }
    expect(
      body.points?.map((p) => p[0]),
      JSON.stringify(body),
    ).toContain(last)

    offset = 0
    await expect.poll(async () => (await healthOf(url)).status, { timeout: 10_000 }).toBe('ok')
  })
})

describe('a hung filesystem', () => {
  it('leaves a mount whose statfs hangs out of the reading, does not ask it again while stuck, and takes it back after (faked statfs)', async () => {
    let release: () => void = () => {}
    let rootCalls = 0
    const statfs: Statfs = (path) => {
      if (path !== '/') return realStatfs(path)
      rootCalls++
      if (rootCalls > 1) return realStatfs(path)
      return new Promise((resolve) => {
        release = () => void realStatfs(path).then(resolve)
      })
    }
    const probe = linuxProbe({ statfs, statfsTimeoutMs: 50 })
    const first = await probe.slow()
    expect(first.faults).toEqual(['statfs /: timed out after 50 ms'])
    expect(first.fs.map((f) => f.mount)).not.toContain('/')
    expect(first.processes.count).toBeGreaterThan(0)

    const second = await probe.slow()
    expect(second.faults).toEqual(['statfs /: still waiting on an earlier call'])
    expect(rootCalls).toBe(1)

    release()
    await new Promise((resolve) => setTimeout(resolve, 50))
    const third = await probe.slow()
    expect(third.faults).toEqual([])
    expect(third.fs.map((f) => f.mount)).toContain('/')
  })
})
