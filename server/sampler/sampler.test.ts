import { describe, expect, it } from 'vitest'
import { sleep } from '../testing/hub.ts'
import { Group } from './group.ts'
import { linuxProbe } from './linux.ts'
import { gridTime } from './sampler.ts'
import { siProbe } from './si-probe.ts'

describe('sampling groups', () => {
  it('skips and counts a tick that falls due while the previous one still runs (faked slow reading)', async () => {
    let running = 0
    let maxRunning = 0
    const g = new Group(
      20,
      async () => {
        running++
        maxRunning = Math.max(maxRunning, running)
        await sleep(70)
        running--
      },
      () => {},
    )
    g.start()
    await sleep(400)
    g.stop()
    await g.idle()
    const s = g.stats()
    expect(maxRunning).toBe(1)
    expect(s.skipped).toBeGreaterThan(0)
    expect(s.ticks).toBeGreaterThan(0)
    expect(s.errors).toBe(0)
  })

  it('counts a failing tick as an error and keeps ticking', async () => {
    let calls = 0
    const errors: unknown[] = []
    const g = new Group(
      10,
      async () => {
        calls++
        throw new Error('probe failed')
      },
      (e) => errors.push(e),
    )
    g.start()
    await sleep(100)
    g.stop()
    await g.idle()
    expect(calls).toBeGreaterThan(1)
    expect(g.stats().errors).toBe(calls)
    expect((errors[0] as Error).message).toBe('probe failed')
  })
})

describe.runIf(process.platform === 'linux')('probes on this machine', () => {
  it('reads CPU, memory and network counters from /proc that grow between readings', async () => {
    const p = linuxProbe()
    const a = await p.fast()
    await sleep(50)
    const b = await p.fast()
    expect(b.cpu.total).toBeGreaterThan(a.cpu.total)
    expect(b.cores.length).toBeGreaterThan(0)
    expect(b.mem?.totalBytes).toBeGreaterThan(b.mem?.usedBytes ?? Number.POSITIVE_INFINITY)
    const slow = await p.slow()
    expect(slow.processes.count).toBeGreaterThan(0)
    expect(slow.processes.topMem[0]?.memBytes).toBeGreaterThan(0)
    expect(slow.fs.length).toBeGreaterThan(0)
  })

  it('reads the same shape through systeminformation, the probe for other platforms', async () => {
    const p = siProbe()
    const a = await p.fast()
    const linux = await linuxProbe().fast()
    expect(a.cores.length).toBe(linux.cores.length)
    expect(a.faults).toEqual([])
    expect(a.mem?.totalBytes).toBe(linux.mem?.totalBytes)
    const slow = await p.slow()
    expect(slow.processes.count).toBeGreaterThan(0)
  })
})

describe('gridTime', () => {
  it('puts a tick on its interval grid, never in the future and never at or before the previous tick', () => {
    expect(gridTime(1_700_000_001_004, 1000, 0)).toBe(1_700_000_001_000)
    expect(gridTime(1_700_000_000_996, 1000, 0)).toBe(1_700_000_000_996)
    expect(gridTime(1_700_000_001_400, 1000, 0)).toBe(1_700_000_001_400)
    expect(gridTime(1_700_000_001_004, 1000, 1_700_000_001_000)).toBe(1_700_000_001_004)
    expect(gridTime(1_700_000_000_900, 1000, 1_700_000_001_000)).toBe(1_700_000_001_001)
    expect(gridTime(1_700_000_005_000, 10_000, 0)).toBe(1_700_000_005_000)
    // Always whole milliseconds: the store refuses fractional times
    expect(gridTime(1_700_000_000_996.4, 1000, 0)).toBe(1_700_000_000_996)
  })
})
