const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']

/** 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  let v = Math.abs(n)
  let i = 0
  while (v >= 1024 && i < BYTE_UNITS.length - 1) {
    v /= 1024
    i++
  }
  const s = v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)
  return `${n < 0 ? '-' : ''}${s} ${BYTE_UNITS[i]}`
}

/** A value in a metric's unit, short enough for an axis tick. */
export function formatValue(unit: string, v: number): string {
  switch (unit) {
    case 'bytes':
      return formatBytes(v)
    case 'bytes/s':
      return `${formatBytes(v)}/s`
    case '%':
      return `${v.toFixed(v < 10 ? 1 : 0)}%`
    case '°C':
      return `${v.toFixed(0)} °C`
    default:
      return Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2)
  }
}

/** An axis time label: seconds for short windows, minutes for long ones. */
export function formatTime(ts: number, windowMs: number): string {
  const d = new Date(ts)
  const hh = String(d.getHours()).padStart(2, '0')
  const mm = String(d.getMinutes()).padStart(2, '0')
  if (windowMs > 3 * 3_600_000) return `${hh}:${mm}`
  return `${hh}:${mm}:${String(d.getSeconds()).padStart(2, '0')}`
}
