import { cpus, loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import si from 'systeminformation'
import type { CpuTimes, FastReading, FsUsage, NetCounters, Probe, SlowReading } from './probe.ts'
import { onePerDevice, PSEUDO_FS, topBy } from './probe.ts'

/** Mounted filesystems, one per device, through systeminformation (`df` underneath). */
async function fsUsage(): Promise<FsUsage[]> {
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
async function temperatures(): Promise<SlowReading['temps']> {
  const t = await si.cpuTemperature()
  const cpu = typeof t.main === 'number' && Number.isFinite(t.main) ? t.main : null
  const cores = (t.cores ?? []).filter((c) => Number.isFinite(c))
  return cpu === null && cores.length === 0 ? null : { cpu, cores }
}

function times(t: { user: number; nice: number; sys: number; idle: number; irq: number }): CpuTimes {
  const busy = t.user + t.nice + t.sys + t.irq
  return { busy, total: busy + t.idle }
}

/** The portable probe: systeminformation and node:os, for platforms without /proc. */
export function siProbe(): Probe {
  return {
    name: 'systeminformation',
    async fast(): Promise<FastReading> {
      const mono = performance.now()
      const cores = cpus().map((c) => times(c.times))
      const cpu = cores.reduce((a, c) => ({ busy: a.busy + c.busy, total: a.total + c.total }), { busy: 0, total: 0 })
      const [mem, nets, io, fsStats] = await Promise.all([
        si.mem(),
        si.networkStats('*'),
        si.disksIO().catch(() => null),
        si.fsStats().catch(() => null),
      ])
      const net = new Map<string, NetCounters>()
      for (const n of nets) if (n.iface !== 'lo') net.set(n.iface, { rxBytes: n.rx_bytes, txBytes: n.tx_bytes })
      const [l1 = 0, l5 = 0, l15 = 0] = loadavg()
      return {
        mono,
        cpu,
        cores,
        mem: {
          totalBytes: mem.total,
          availableBytes: mem.available,
          usedBytes: mem.total - mem.available,
          swapUsedBytes: mem.swapused,
        },
        load: [l1, l5, l15],
        net,
        disk:
          io && fsStats ? { readBytes: fsStats.rx, writeBytes: fsStats.wx, readOps: io.rIO, writeOps: io.wIO } : null,
      }
    },
    async slow(): Promise<SlowReading> {
      const [fs, temps, procs] = await Promise.all([fsUsage(), temperatures(), si.processes()])
      const list = procs.list.map((p) => ({ pid: p.pid, name: p.name, cpuPct: p.cpu, memBytes: p.memRss * 1024 }))
      return {
        fs,
        temps,
        processes: { count: procs.all, topCpu: topBy(list, (p) => p.cpuPct), topMem: topBy(list, (p) => p.memBytes) },
      }
    },
  }
}
