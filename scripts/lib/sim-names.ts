/** The metric names a simulated host reports, shaped like a host's: host-wide ones, then per core, interface and mount. */
export function simMetricNames(n: number): string[] {
  const out = ['cpu.usage_pct', 'mem.used_bytes', 'mem.total_bytes', 'load.1m', 'disk.read_bytes_per_s']
  for (let i = 0; out.length < n; i++) {
    out.push(
      `cpu.core.${i}.usage_pct`,
      `net.eth${i}.rx_bytes_per_s`,
      `fs.mount${i}.used_pct`,
      `fs.mount${i}.used_bytes`,
    )
  }
  return out.slice(0, n)
}
