import type { CpuTimes, FastReading, FsUsage, SlowReading } from './probe.ts'

/** Busy share of the CPU time between two readings, in percent; null when no time passed or a counter went back. */
export function cpuPct(prev: CpuTimes, cur: CpuTimes): number | null {
  const total = cur.total - prev.total
  const busy = cur.busy - prev.busy
  if (total <= 0 || busy < 0) return null
  return Math.min(100, Math.max(0, (busy / total) * 100))
}

/** Per-second rate of a cumulative counter; null on the first reading, a zero interval or a counter reset. */
export function ratePerS(prev: number | undefined, cur: number, dtMs: number): number | null {
  if (prev === undefined || dtMs <= 0 || cur < prev) return null
  return ((cur - prev) * 1000) / dtMs
}

/** `eth0` → `eth0`, `br-1a2b` → `br_1a2b`: a name segment that fits the metric naming rule. */
export function segment(raw: string): string {
  const s = raw
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '')
  return s === '' ? '_' : s
}

/** `/` → `root`, `/var/lib` → `var_lib`. */
export function mountSegment(mount: string): string {
  return mount === '/' ? 'root' : segment(mount)
}

/**
 * Sets a value rounded to `decimals`: finer digits of a rate or a percentage are noise, and a value with few
 * decimals stores in a byte or two instead of eight (see server/store/codec.ts).
 */
function put(out: Record<string, number>, name: string, value: number | null, decimals = 0): void {
  if (value === null || !Number.isFinite(value)) return
  const p = 10 ** decimals
  out[name] = Math.round(value * p) / p
}

/**
 * Turns a fast reading into metric values. Gauges always; rates only when a previous reading exists,
 * so the first tick emits no rates rather than garbage.
 */
export function fastValues(prev: FastReading | null, cur: FastReading): Record<string, number> {
  const out: Record<string, number> = {}
  if (cur.mem) {
    put(out, 'mem.used_bytes', cur.mem.usedBytes)
    put(out, 'mem.available_bytes', cur.mem.availableBytes)
    put(out, 'mem.total_bytes', cur.mem.totalBytes)
    put(out, 'mem.swap_used_bytes', cur.mem.swapUsedBytes)
  }
  put(out, 'load.1m', cur.load[0], 2)
  put(out, 'load.5m', cur.load[1], 2)
  put(out, 'load.15m', cur.load[2], 2)
  counterValues(out, cur)
  if (!prev) return out

  const dt = cur.mono - prev.mono
  put(out, 'cpu.usage_pct', cpuPct(prev.cpu, cur.cpu), 2)
  cur.cores.forEach((core, i) => {
    const before = prev.cores[i]
    if (before) put(out, `cpu.core.${i}.usage_pct`, cpuPct(before, core), 2)
  })
  for (const [iface, c] of cur.net) {
    const p = prev.net.get(iface)
    const seg = segment(iface)
    put(out, `net.${seg}.rx_bytes_per_s`, ratePerS(p?.rxBytes, c.rxBytes, dt))
    put(out, `net.${seg}.tx_bytes_per_s`, ratePerS(p?.txBytes, c.txBytes, dt))
  }
  if (cur.disk && prev.disk) {
    put(out, 'disk.read_bytes_per_s', ratePerS(prev.disk.readBytes, cur.disk.readBytes, dt))
    put(out, 'disk.write_bytes_per_s', ratePerS(prev.disk.writeBytes, cur.disk.writeBytes, dt))
    put(out, 'disk.read_ops_per_s', ratePerS(prev.disk.readOps, cur.disk.readOps, dt), 2)
    put(out, 'disk.write_ops_per_s', ratePerS(prev.disk.writeOps, cur.disk.writeOps, dt), 2)
  }
  return out
}

/**
 * The cumulative counters themselves, in base units (`_total`): what Prometheus' `rate()` wants, exact over any
 * scrape interval, where the per-second gauges above are the dashboard's. Since boot, as the kernel counts them.
 */
function counterValues(out: Record<string, number>, cur: FastReading): void {
  put(out, 'cpu.busy_seconds_total', cur.cpu.busy * cur.cpuUnitS, 2)
  put(out, 'cpu.idle_seconds_total', (cur.cpu.total - cur.cpu.busy) * cur.cpuUnitS, 2)
  for (const [iface, c] of cur.net) {
    const seg = segment(iface)
    put(out, `net.${seg}.rx_bytes_total`, c.rxBytes)
    put(out, `net.${seg}.tx_bytes_total`, c.txBytes)
  }
  if (cur.disk) {
    put(out, 'disk.read_bytes_total', cur.disk.readBytes)
    put(out, 'disk.write_bytes_total', cur.disk.writeBytes)
    put(out, 'disk.read_ops_total', cur.disk.readOps)
    put(out, 'disk.write_ops_total', cur.disk.writeOps)
  }
}

function fsValues(out: Record<string, number>, fs: readonly FsUsage[]): void {
  for (const f of fs) {
    const seg = mountSegment(f.mount)
    put(out, `fs.${seg}.used_bytes`, f.usedBytes)
    put(out, `fs.${seg}.size_bytes`, f.sizeBytes)
    // As df computes Use%: against what users can fill (used + available), so a full disk reads 100 %
    const usable = f.usedBytes + f.availableBytes
    put(out, `fs.${seg}.used_pct`, usable > 0 ? (f.usedBytes / usable) * 100 : null, 2)
  }
}

/** Turns a slow reading into metric values: filesystems, temperatures and the process count. */
export function slowValues(cur: SlowReading): Record<string, number> {
  const out: Record<string, number> = {}
  fsValues(out, cur.fs)
  if (cur.temps) {
    put(out, 'temp.cpu_celsius', cur.temps.cpu, 1)
    cur.temps.cores.forEach((t, i) => {
      put(out, `temp.core.${i}_celsius`, t, 1)
    })
  }
  put(out, 'proc.count', cur.processes.count)
  return out
}
