/** The dashboard's pages and their URLs: real paths, so a link or a reload shows the same view. */
export type Range = 'live' | '1h' | '6h' | '24h' | '7d' | '30d' | '1y'
export const RANGES: readonly Range[] = ['live', '1h', '6h', '24h', '7d', '30d', '1y']

export type Route =
  | { page: 'overview' }
  /** A host's charts, over a picked range or a zoomed span. */
  | { page: 'host'; host: string; range: Range; zoom: { from: number; to: number } | null }
  | { page: 'job'; id: string }
  /** Current and past alerts, silences, rules and channels; one alert's history and notifications when `id`. */
  | { page: 'alerts'; id: string | null }

/** The route a location names; anything unknown is the overview. */
export function parseRoute(loc: { pathname: string; search: string }): Route {
  const q = new URLSearchParams(loc.search)
  const host = /^\/hosts\/([^/]+)\/?$/.exec(loc.pathname)
  if (host?.[1]) {
    const range = RANGES.find((r) => r === q.get('range')) ?? 'live'
    const from = Number(q.get('from'))
    const to = Number(q.get('to'))
    const zoom = Number.isFinite(from) && Number.isFinite(to) && from > 0 && to > from ? { from, to } : null
    return { page: 'host', host: decodeURIComponent(host[1]), range, zoom }
  }
  const job = /^\/jobs\/([A-Za-z0-9_-]+)\/?$/.exec(loc.pathname)
  if (job?.[1]) return { page: 'job', id: job[1] }
  const alert = /^\/alerts(?:\/([0-9a-f]{16}))?\/?$/.exec(loc.pathname)
  if (alert) return { page: 'alerts', id: alert[1] ?? null }
  return { page: 'overview' }
}

/** The URL of a host's page, with its range or zoom when they are not the default. */
export function hostUrl(host: string, range: Range = 'live', zoom: { from: number; to: number } | null = null): string {
  const q = new URLSearchParams()
  if (range !== 'live') q.set('range', range)
  if (zoom) {
    q.set('from', String(Math.floor(zoom.from)))
    q.set('to', String(Math.ceil(zoom.to)))
  }
  const search = q.toString()
  return `/hosts/${encodeURIComponent(host)}${search ? `?${search}` : ''}`
}

export const jobUrl = (id: string) => `/jobs/${encodeURIComponent(id)}`
