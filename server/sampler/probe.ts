import type { ProcessInfo } from '../protocol/index.ts'

/** Cumulative CPU time, in any fixed unit: only deltas are used. */
export interface CpuTimes {
  busy: number
  total: number
}

export interface NetCounters {
  rxBytes: number
  txBytes: number
}

export interface DiskCounters {
  readBytes: number
  writeBytes: number
  readOps: number
  writeOps: number
}

/** One fast-group reading: gauges as they are, counters as cumulative totals. */
export interface FastReading {
  /** Monotonic milliseconds, for rate deltas that a wall-clock jump cannot break. */
  mono: number
  /** Seconds in one unit of `cpu` and `cores` (1/100 for Linux's jiffies), for the cumulative CPU-seconds counters. */
  cpuUnitS: number
  cpu: CpuTimes
  cores: CpuTimes[]
  /** Null when the call that reads it failed this tick. */
  mem: { usedBytes: number; availableBytes: number; totalBytes: number; swapUsedBytes: number } | null
  load: [number, number, number]
  net: Map<string, NetCounters>
  disk: DiskCounters | null
  /** Calls that failed or timed out this tick, as "call: reason"; their metrics are missing from it. */
  faults?: string[]
}

export interface FsUsage {
  mount: string
  sizeBytes: number
  usedBytes: number
  /** Free to unprivileged users; excludes blocks reserved for root. */
  availableBytes: number
}

export interface SlowReading {
  fs: FsUsage[]
  /** Celsius; null where the machine exposes no sensors. */
  temps: { cpu: number | null; cores: number[] } | null
  processes: { count: number; topCpu: ProcessInfo[]; topMem: ProcessInfo[] }
  faults?: string[]
}

/** Where readings come from: /proc on Linux, systeminformation elsewhere. Tests may pass their own. */
export interface Probe {
  readonly name: string
  fast(): Promise<FastReading>
  slow(): Promise<SlowReading>
}

export const TOP_N = 5

/** The top `n` of `list` by `key`, highest first. */
export function topBy<T>(list: readonly T[], key: (item: T) => number, n = TOP_N): T[] {
  return [...list].sort((a, b) => key(b) - key(a)).slice(0, n)
}

/** Filesystem types that hold no user data: left out of filesystem usage on every platform. */
export const PSEUDO_FS: ReadonlySet<string> = new Set([
  'proc',
  'sysfs',
  'tmpfs',
  'devtmpfs',
  'devpts',
  'cgroup',
  'cgroup2',
  'mqueue',
  'securityfs',
  'debugfs',
  'tracefs',
  'configfs',
  'fusectl',
  'pstore',
  'bpf',
  'autofs',
  'hugetlbfs',
  'binfmt_misc',
  'nsfs',
  'squashfs',
  'rpc_pipefs',
  'efivarfs',
  'ramfs',
  'selinuxfs',
  'fuse.gvfsd-fuse',
  'fuse.portal',
  'nfsd',
])

/** One entry per device, its shortest mount path (bind mounts of the same device are not listed twice), by path. */
export function onePerDevice<T extends { device: string; mount: string }>(list: readonly T[]): T[] {
  const byDevice = new Map<string, T>()
  for (const m of list) {
    const seen = byDevice.get(m.device)
    if (seen === undefined || m.mount.length < seen.mount.length) byDevice.set(m.device, m)
  }
  return [...byDevice.values()].sort((a, b) => a.mount.localeCompare(b.mount))
}
