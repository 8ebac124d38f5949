import { cpus, loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import type si from 'systeminformation'
import type { CpuTimes, FastReading, FsUsage, NetCounters, Probe, SlowReading } from './probe.ts'
import { onePerDevice, PSEUDO_FS, topBy } from './probe.ts'
import { withTimeout } from './timeout.ts'

/** The calls the probe makes; tests pass a stub that throws or hangs. */
export type SiCalls = Pick<
  typeof si,
  'mem' | 'networkStats' | 'disksIO' | 'fsStats' | 'fsSize' | 'cpuTemperature' | 'processes'
>

/** Mounted filesystems, one per device, through systeminformation (`df` underneath). */
async function fsUsage(si: SiCalls): Promise<FsUsage[]> {
  const list = await si.fsSize()
  return onePerDevice(
    list
      .filter((f) => !PSEUDO_FS.has(f.type) && f.size > 0 && f.mount)
      .map((f) => ({
        device: f.fs,
        mount: f.mount,
        sizeBytes: f.size,
        usedBytes: f.used,
        availableBytes: f.available,
      })),
  ).map(({ device: _device, ...usage }) => usage)
}

/** CPU package and core temperatures, or null where the machine has no sensors. */
async function temperatures(si: SiCalls): Promise<SlowReading['temps']> {
  const t = await si.cpuTemperature()
  const cpu = typeof t.main === 'number' && Number.isFinite(t.main) ? t.main : null
  const cores = (t.cores ?? []).filter((c) => Number.isFinite(c))
  return cpu === null && cores.length === 0 ? null : { cpu, cores }
}

function times(t: { user: number; nice: number; sys: number; idle: number; irq: number }): CpuTimes {
  const busy = t.user + t.nice + t.sys + t.irq
  return { busy, total: busy + t.idle }
}

/**
 * The portable probe: systeminformation and node:os, for platforms without /proc. Each call has its own timeout
 * (default 2 s): one that throws or hangs leaves its metrics out of that tick, named in the reading's `faults`,
 * and the rest of the tick goes on.
 */
export function siProbe(opts: { si?: SiCalls; callTimeoutMs?: number } = {}): Probe {
  // Loaded on the first reading, so a process that never uses this probe (Linux) never pays for the library
  let loaded: Promise<SiCalls> | null = opts.si ? Promise.resolve(opts.si) : null
  const library = () => {
    loaded ??= import('systeminformation').then((m) => m.default)
    return loaded
  }
  const timeoutMs = opts.callTimeoutMs ?? 2000
  const guarded = async <T>(faults: string[], name: string, run: () => Promise<T>, fallback: T): Promise<T> => {
    try {
      return await withTimeout(run(), timeoutMs)
    } catch (err) {
      faults.push(`${name}: ${(err as Error).message}`)
      return fallback
    }
  }
  return {
    name: 'systeminformation',
    async fast(): Promise<FastReading> {
      const mono = performance.now()
      const faults: string[] = []
      const cores = cpus().map((c) => times(c.times))
      const cpu = cores.reduce((a, c) => ({ busy: a.busy + c.busy, total: a.total + c.total }), { busy: 0, total: 0 })
      const lib = await library()
      const [mem, nets, io, fsStats] = await Promise.all([
        guarded(faults, 'mem', () => lib.mem(), null),
        guarded(faults, 'networkStats', () => lib.networkStats('*'), []),
        guarded(faults, 'disksIO', () => lib.disksIO(), null),
        guarded(faults, 'fsStats', () => lib.fsStats(), null),
      ])
      const net = new Map<string, NetCounters>()
      for (const n of nets) if (n.iface !== 'lo') net.set(n.iface, { rxBytes: n.rx_bytes, txBytes: n.tx_bytes })
      const [l1 = 0, l5 = 0, l15 = 0] = loadavg()
      return {
        mono,
        // os.cpus() counts milliseconds
        cpuUnitS: 0.001,
        cpu,
        cores,
        mem: mem && {
          totalBytes: mem.total,
          availableBytes: mem.available,
          usedBytes: mem.total - mem.available,
          swapUsedBytes: mem.swapused,
        },
        load: [l1, l5, l15],
        net,
        disk:
          io && fsStats ? { readBytes: fsStats.rx, writeBytes: fsStats.wx, readOps: io.rIO, writeOps: io.wIO } : null,
        faults: faults.sort(),
      }
    },
    async slow(): Promise<SlowReading> {
      const faults: string[] = []
      const lib = await library()
      const [fs, temps, procs] = await Promise.all([
        guarded(faults, 'fsSize', () => fsUsage(lib), []),
        guarded(faults, 'cpuTemperature', () => temperatures(lib), null),
        guarded(faults, 'processes', () => lib.processes(), null),
      ])
      const list = (procs?.list ?? []).map((p) => ({
        pid: p.pid,
        name: p.name,
        cpuPct: p.cpu,
        memBytes: p.memRss * 1024,
      }))
      return {
        fs,
        temps,
        processes: {
          count: procs?.all ?? Number.NaN,
          topCpu: topBy(list, (p) => p.cpuPct),
          topMem: topBy(list, (p) => p.memBytes),
        },
        faults: faults.sort(),
      }
    },
  }
}
