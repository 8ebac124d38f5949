import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Spool } from './spool.ts'

const dirs: string[] = []
const open: Spool[] = []
function spool(
  opts = { maxBytes: 64 * 2 ** 20, maxAgeMs: 86_400_000 },
  dir = mkdtempSync(join(tmpdir(), 'vigil-spool-')),
) {
  if (!dirs.includes(dir)) dirs.push(dir)
  const s = new Spool(dir, opts)
  open.push(s)
  return { s, dir }
}
afterEach(() => {
  for (const s of open.splice(0)) {
    try {
      s.close()
    } catch {
      // closed by the test already
    }
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** A fast-group tick of a 16-core host with 4 interfaces, as the sampler takes it. */
function hostTick(i: number): Record<string, number> {
  const v: Record<string, number> = { 'cpu.usage_pct': (i % 1000) / 10, 'mem.used_bytes': 8_589_934_592 + i * 4096 }
  for (let c = 0; c < 16; c++) v[`cpu.core.${c}.usage_pct`] = ((i * (c + 3)) % 10_000) / 100
  for (const n of ['eth0', 'eth1', 'bond0', 'docker0']) {
    v[`net.${n}.rx_bytes_per_s`] = (i * 977) % 1_000_000
    v[`net.${n}.tx_bytes_per_s`] = (i * 331) % 1_000_000
  }
  for (const k of ['load.1m', 'load.5m', 'load.15m']) v[k] = ((i % 400) + 1) / 100
  for (const k of ['disk.read_bytes_per_s', 'disk.write_bytes_per_s', 'disk.read_ops_per_s', 'disk.write_ops_per_s'])
    v[k] = (i * 13) % 50_000
  v['vigil.sampler_ms'] = 1.23
  return v
}

describe('the agent spool', () => {
  it('holds a 1-hour outage of 1 s ticks of a 16-core host at the defaults, dropping nothing', () => {
    const { s } = spool()
    const t0 = Date.UTC(2026, 11, 1)
    for (let i = 0; i < 3600; i++) s.append({ ts: t0 + i * 1000, intervalMs: 1000, values: hostTick(i) }, t0 + i * 1000)
    const st = s.status()
    expect([st.ticks, st.droppedTicks, st.oldestTs]).toEqual([3600, 0, t0])
    expect(st.bytes).toBeLessThan((64 * 2 ** 20) / 4)
    expect(s.gaps()).toEqual([])
  })

  it('numbers ticks one by one for the life of the spool, across a reopen and after everything was acknowledged', () => {
    const { s, dir } = spool()
    expect(s.append({ ts: 1000, intervalMs: 1000, values: { a: 1 } }, 1000).seq).toBe(1)
    expect(s.append({ ts: 2000, intervalMs: 1000, values: { a: 2 } }, 2000).seq).toBe(2)
    s.forgetThrough(2)
    expect(s.status().ticks).toBe(0)
    const id = s.id
    s.close()
    const { s: again } = spool(undefined, dir)
    expect(again.id).toBe(id)
    const t = again.append({ ts: 3000, intervalMs: 1000, values: { a: 3 } }, 3000)
    expect([t.seq, JSON.parse(t.data)]).toEqual([3, { seq: 3, ts: 3000, intervalMs: 1000, values: { a: 3 } }])
  })

  it('drops the oldest ticks past its bytes, and keeps their span as one gap however many drops it takes', () => {
    const { s } = spool({ maxBytes: 1000, maxAgeMs: 86_400_000 })
    for (let i = 1; i <= 40; i++) s.append({ ts: i * 1000, intervalMs: 1000, values: { 'cpu.usage_pct': i } }, i * 1000)
    const st = s.status()
    expect(st.bytes).toBeLessThanOrEqual(1000)
    const kept = st.ticks
    expect(st.droppedTicks).toBe(40 - kept)
    expect(s.gaps()).toEqual([{ fromSeq: 1, toSeq: 40 - kept, from: 1000, to: (40 - kept) * 1000, ticks: 40 - kept }])
    expect(s.after(0, 100, 100, 1e9)[0]?.seq).toBe(40 - kept + 1)
    s.gapRecorded(1)
    expect(s.gaps()).toEqual([])
  })

  it('drops ticks older than its age, however few bytes they take', () => {
    const { s } = spool({ maxBytes: 64 * 2 ** 20, maxAgeMs: 10_000 })
    for (let i = 1; i <= 5; i++) s.append({ ts: i * 1000, intervalMs: 1000, values: { a: i } }, i * 1000)
    s.append({ ts: 20_000, intervalMs: 1000, values: { a: 6 } }, 20_000)
    expect(s.status()).toMatchObject({ ticks: 1, droppedTicks: 5, oldestTs: 20_000 })
    expect(s.gaps()).toEqual([{ fromSeq: 1, toSeq: 5, from: 1000, to: 5000, ticks: 5 }])
  })

  it('keeps what it committed when the process dies without closing it (the connection dropped as kill -9 would)', () => {
    const { s, dir } = spool()
    const now = Date.now()
    for (let i = 1; i <= 3; i++) s.append({ ts: now + i * 1000, intervalMs: 1000, values: { a: i } })
    // No close, no checkpoint: a second process opens the same file, as after a kill -9
    const { s: after } = spool(undefined, dir)
    expect(after.after(0, 10, 10, 1e9).map((t) => t.seq)).toEqual([1, 2, 3])
  })
})
