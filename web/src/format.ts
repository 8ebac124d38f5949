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
  if (windowMs > 2 * 86_400_000)
    return `${d.getMonth() + 1}/${d.getDate()}${windowMs > 60 * 86_400_000 ? '' : ` ${hh}:${mm}`}`
  if (windowMs > 3 * 3_600_000) return `${hh}:${mm}`
  return `${hh}:${mm}:${String(d.getSeconds()).padStart(2, '0')}`
}

/** 90_061_000 → "1 d 1 h": a duration in its two largest units. */
export function formatDuration(ms: number): string {
  const units: [string, number][] = [
    ['y', 365 * 86_400_000],
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['min', 60_000],
    ['s', 1000],
  ]
  const parts: string[] = []
  let rest = ms
  for (const [name, size] of units) {
    if (rest >= size && parts.length < 2) {
      parts.push(`${Math.floor(rest / size)} ${name}`)
      rest %= size
    }
  }
  return parts.join(' ') || `${ms} ms`
}
