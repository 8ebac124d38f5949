import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { statfs } from 'node:fs/promises'
import { performance } from 'node:perf_hooks'
import type { ProcessInfo } from '../protocol/index.ts'
import type { CpuTimes, DiskCounters, FastReading, FsUsage, NetCounters, Probe, SlowReading } from './probe.ts'
import { onePerDevice, PSEUDO_FS, topBy } from './probe.ts'
import { withTimeout } from './timeout.ts'

// Reading /proc and /sys directly keeps sampling free of child processes: systeminformation's network, disk,
// filesystem and sensor calls spawn shells (lsblk, cat, awk, df) on every call, which alone costs more than
// our 1 % budget at 1 Hz. systeminformation remains the probe on other platforms (si-probe.ts).

export const CLK_TCK = 100
const SECTOR_BYTES = 512
const SKIP_IFACE = /^(lo|veth)/
const SKIP_DISK = /^(loop|ram|zram|fd|sr|nbd|dm-)/

function read(path: string): string {
  return readFileSync(path, 'latin1')
}

/** `/proc/stat` cpu lines → busy and total jiffies; iowait counts as idle, as `top` shows it. */
export function parseProcStat(text: string): { cpu: CpuTimes; cores: CpuTimes[] } {
  let cpu: CpuTimes = { busy: 0, total: 0 }
  const cores: CpuTimes[] = []
  for (const line of text.split('\n')) {
    if (!line.startsWith('cpu')) break
    const f = line.split(/\s+/)
    const n = f.slice(1, 9).map(Number)
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = n
    const idleAll = idle + iowait
    const busy = user + nice + system + irq + softirq + steal
    const times = { busy, total: busy + idleAll }
    if (f[0] === 'cpu') cpu = times
    else cores[Number(f[0]?.slice(3))] = times
  }
  return { cpu, cores }
}

/** `/proc/meminfo` → bytes; used is total minus available, as `free` reports it. */
export function parseMeminfo(text: string): FastReading['mem'] {
  const kb = new Map<string, number>()
  for (const line of text.split('\n')) {
    const m = /^(\w+(?:\(\w+\))?):\s+(\d+)/.exec(line)
    if (m?.[1] && m[2]) kb.set(m[1], Number(m[2]) * 1024)
  }
  const total = kb.get('MemTotal') ?? 0
  const available = kb.get('MemAvailable') ?? (kb.get('MemFree') ?? 0) + (kb.get('Cached') ?? 0)
  return {
    totalBytes: total,
    availableBytes: available,
    usedBytes: Math.max(0, total - available),
    swapUsedBytes: Math.max(0, (kb.get('SwapTotal') ?? 0) - (kb.get('SwapFree') ?? 0)),
  }
}

/** `/proc/net/dev` → byte counters per interface, loopback and veth pairs left out. */
export function parseNetDev(text: string): Map<string, NetCounters> {
  const out = new Map<string, NetCounters>()
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':')
    if (colon < 0) continue
    const iface = line.slice(0, colon).trim()
    if (SKIP_IFACE.test(iface)) continue
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number)
    out.set(iface, { rxBytes: f[0] ?? 0, txBytes: f[8] ?? 0 })
  }
  return out
}

/** `/proc/diskstats` → totals over whole disks (`disks`), so partitions are not counted twice. */
export function parseDiskstats(text: string, disks: ReadonlySet<string>): DiskCounters {
  const out = { readBytes: 0, writeBytes: 0, readOps: 0, writeOps: 0 }
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/)
    if (f.length < 10 || !disks.has(f[2] ?? '')) continue
    out.readOps += Number(f[3])
    out.readBytes += Number(f[5]) * SECTOR_BYTES
    out.writeOps += Number(f[7])
    out.writeBytes += Number(f[9]) * SECTOR_BYTES
  }
  return out
}

function wholeDisks(): Set<string> {
  try {
    return new Set(readdirSync('/sys/block').filter((d) => !SKIP_DISK.test(d)))
  } catch {
    return new Set()
  }
}

/** The kernel page size, from comparing our own RSS in pages and in kB. */
export function pageSize(): number {
  const pages = Number(read('/proc/self/statm').split(' ')[1])
  const kb = Number(/VmRSS:\s+(\d+)/.exec(read('/proc/self/status'))?.[1])
  if (!(pages > 0 && kb > 0)) return 4096
  return 2 ** Math.round(Math.log2((kb * 1024) / pages))
}

export interface ProcSample {
  name: string
  /** Process group, so a job's whole tree can be summed. */
  pgrp: number
  ticks: number
  rssBytes: number
}

/** Scans `/proc/<pid>/stat` for CPU ticks and RSS: one read per process, no child process. */
export function scanProcesses(page: number): Map<number, ProcSample> {
  const out = new Map<number, ProcSample>()
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry)
    if (!Number.isInteger(pid)) continue
    let stat: string
    try {
      stat = read(`/proc/${pid}/stat`)
    } catch {
      continue // exited between readdir and read
    }
    const open = stat.indexOf('(')
    const close = stat.lastIndexOf(')')
    const f = stat.slice(close + 2).split(' ')
    out.set(pid, {
      name: stat.slice(open + 1, close),
      pgrp: Number(f[2]),
      ticks: Number(f[11]) + Number(f[12]),
      rssBytes: Number(f[21]) * page,
    })
  }
  return out
}

/** `/proc/mounts` → one mount per device (its shortest path, so bind mounts are not listed twice), pseudo filesystems left out. */
export function parseMounts(text: string): { device: string; mount: string }[] {
  const mounts: { device: string; mount: string }[] = []
  for (const line of text.split('\n')) {
    const [device, rawMount, type] = line.split(' ')
    if (!device || !rawMount || !type || PSEUDO_FS.has(type)) continue
    const mount = rawMount.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)))
    mounts.push({ device, mount })
  }
  return onePerDevice(mounts)
}

/** statfs as the probe calls it; tests pass one that hangs. */
export type Statfs = (path: string) => Promise<{ blocks: number; bfree: number; bavail: number; bsize: number }>

/**
 * Filesystem usage as `df` computes it, through statfs: no child process. Each mount has its own timeout, so a
 * hung network mount leaves only itself out; while its call is still stuck it is not asked again (each stuck
 * call holds one of libuv's few pool threads).
 */
async function fsUsage(statfs: Statfs, timeoutMs: number, stuck: Set<string>, faults: string[]): Promise<FsUsage[]> {
  const mounts = parseMounts(read('/proc/self/mounts')).map(({ mount }) => mount)
  const rows = await Promise.all(
    mounts.map(async (mount): Promise<FsUsage | null> => {
      if (stuck.has(mount)) {
        faults.push(`statfs ${mount}: still waiting on an earlier call`)
        return null
      }
      const call = statfs(mount)
      try {
        const st = await withTimeout(call, timeoutMs)
        if (st.blocks === 0) return null
        const used = (st.blocks - st.bfree) * st.bsize
        return { mount, usedBytes: used, availableBytes: st.bavail * st.bsize, sizeBytes: st.blocks * st.bsize }
      } catch (err) {
        const message = (err as Error).message
        if (message.startsWith('timed out')) {
          stuck.add(mount)
          call.then(
            () => stuck.delete(mount),
            () => stuck.delete(mount),
          )
          faults.push(`statfs ${mount}: ${message}`)
        }
        // an unreadable or vanished mount is simply left out of this tick
        return null
      }
    }),
  )
  return rows.filter((r): r is FsUsage => r !== null)
}

const CPU_SENSORS = /^(coretemp|k10temp|zenpower|cpu_thermal|soc_thermal|x86_pkg_temp|acpitz)$/

/** CPU temperatures from /sys/class/hwmon (package first, then cores), or thermal zones; null without sensors. */
function temperatures(): SlowReading['temps'] {
  const milli = (path: string) => {
    const v = Number(read(path).trim())
    return Number.isFinite(v) ? v / 1000 : null
  }
  try {
    for (const hw of existsSync('/sys/class/hwmon') ? readdirSync('/sys/class/hwmon') : []) {
      const dir = `/sys/class/hwmon/${hw}`
      if (!CPU_SENSORS.test(read(`${dir}/name`).trim())) continue
      const inputs = readdirSync(dir)
        .filter((f) => /^temp\d+_input$/.test(f))
        .sort((a, b) => Number.parseInt(a.slice(4), 10) - Number.parseInt(b.slice(4), 10))
      const values = inputs.map((f) => milli(`${dir}/${f}`)).filter((v): v is number => v !== null)
      if (values.length > 0) return { cpu: values[0] ?? null, cores: values.slice(1) }
    }
    for (const zone of existsSync('/sys/class/thermal') ? readdirSync('/sys/class/thermal') : []) {
      const dir = `/sys/class/thermal/${zone}`
      if (!zone.startsWith('thermal_zone') || !CPU_SENSORS.test(read(`${dir}/type`).trim())) continue
      const cpu = milli(`${dir}/temp`)
      if (cpu !== null) return { cpu, cores: [] }
    }
  } catch {
    // a sensor that vanishes mid-read: no temperatures this tick
  }
  return null
}

/** Reads Linux's /proc and /sys for every group: no child processes. */
export function linuxProbe(opts: { statfs?: Statfs; statfsTimeoutMs?: number } = {}): Probe {
  const statfsCall = opts.statfs ?? statfs
  const statfsTimeoutMs = opts.statfsTimeoutMs ?? 2000
  const stuck = new Set<string>()
  const page = pageSize()
  let disks = wholeDisks()
  let prevProcs: { at: number; procs: Map<number, ProcSample> } = { at: performance.now(), procs: scanProcesses(page) }

  return {
    name: 'linux',
    async fast(): Promise<FastReading> {
      const mono = performance.now()
      const { cpu, cores } = parseProcStat(read('/proc/stat'))
      const loadavg = read('/proc/loadavg').split(' ').map(Number)
      return {
        mono,
        cpuUnitS: 1 / CLK_TCK,
        cpu,
        cores,
        mem: parseMeminfo(read('/proc/meminfo')),
        load: [loadavg[0] ?? 0, loadavg[1] ?? 0, loadavg[2] ?? 0],
        net: parseNetDev(read('/proc/net/dev')),
        disk: existsSync('/proc/diskstats') ? parseDiskstats(read('/proc/diskstats'), disks) : null,
      }
    },
    async slow(): Promise<SlowReading> {
      disks = wholeDisks()
      const now = performance.now()
      const procs = scanProcesses(page)
      const dtS = (now - prevProcs.at) / 1000
      const list: ProcessInfo[] = []
      for (const [pid, p] of procs) {
        const before = prevProcs.procs.get(pid)
        const ticks = before && before.name === p.name ? p.ticks - before.ticks : 0
        const cpuPct = dtS > 0 ? (ticks / CLK_TCK / dtS) * 100 : 0
        list.push({ pid, name: p.name, cpuPct: Math.round(cpuPct * 10) / 10, memBytes: p.rssBytes })
      }
      prevProcs = { at: now, procs }
      const faults: string[] = []
      const fs = await fsUsage(statfsCall, statfsTimeoutMs, stuck, faults)
      return {
        fs,
        faults: faults.sort(),
        temps: temperatures(),
        processes: {
          count: procs.size,
          topCpu: topBy(list, (p) => p.cpuPct),
          topMem: topBy(list, (p) => p.memBytes),
        },
      }
    },
  }
}
