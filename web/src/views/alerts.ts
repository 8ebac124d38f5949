import type { AlertView } from '../../../server/protocol/index.ts'
import { $, esc } from '../dom.ts'
import { getJson } from '../http.ts'

const RANK = { critical: 0, warning: 1 } as const
/** Alerts named in the banner; the rest are counted. */
const BANNER_MAX = 5

/** Where an alert's page is. */
export const alertUrl = (id: string) => `/alerts/${encodeURIComponent(id)}`

/** One line for a person: `critical disk-full on db-1 · fs.data.used_pct = 95`. */
export function alertLine(a: AlertView): string {
  const series = a.series ? ` · ${a.series}` : ''
  const value = a.value === null ? '' : ` = ${Number(a.value.toFixed(2))}`
  return `${a.severity} ${a.rule} on ${a.host}${series}${value}`
}

/** Most severe first, then the longest firing. */
export function bySeverity(a: AlertView, b: AlertView): number {
  return RANK[a.severity] - RANK[b.severity] || (a.startsAt ?? 0) - (b.startsAt ?? 0)
}

/**
 * The firing alerts, kept from `GET /api/alerts?state=firing` and the `alerts` topic's `alert` events: every
 * page shows them in the banner, the fleet overview counts them per host, a host's charts mark them.
 */
export class AlertFeed {
  readonly #firing = new Map<string, AlertView>()
  readonly #listeners = new Set<(a: AlertView | null) => void>()

  /** Reads the firing alerts; call once the stream is open, so no change falls between the two. */
  async load(): Promise<void> {
    // The hub being away leaves them as they were: the stream's next open reads them again
    const res = await getJson<{ alerts: AlertView[] }>('/api/alerts?state=firing').catch(() => null)
    if (!res) return
    this.#firing.clear()
    for (const a of res.alerts) this.#firing.set(a.id, a)
    this.#changed(null)
  }

  /** An `alert` event. */
  on(a: AlertView): void {
    if (a.state === 'firing') this.#firing.set(a.id, a)
    else this.#firing.delete(a.id)
    this.#changed(a)
  }

  /** Told of every change: the alert that changed, or null after a full load. */
  listen(fn: (a: AlertView | null) => void): void {
    this.#listeners.add(fn)
  }

  firing(): AlertView[] {
    return [...this.#firing.values()].sort(bySeverity)
  }

  forHost(host: string): AlertView[] {
    return this.firing().filter((a) => a.host === host)
  }

  #changed(a: AlertView | null): void {
    renderBanner(this.firing())
    for (const fn of this.#listeners) fn(a)
  }
}

/** The banner under the header: the firing alerts, most severe first, each a link to its page. */
function renderBanner(firing: readonly AlertView[]): void {
  const el = $<HTMLElement>('#alert-banner')
  if (!el) return
  el.hidden = firing.length === 0
  el.dataset.severity = firing[0]?.severity ?? ''
  const items = firing
    .slice(0, BANNER_MAX)
    .map(
      (a) =>
        `<li data-alert="${esc(a.id)}" data-severity="${a.severity}"${a.silenced ? ' data-silenced' : ''}><a href="${alertUrl(a.id)}">${esc(alertLine(a))}</a>${a.silenced ? ' <span class="tag">silenced</span>' : ''}</li>`,
    )
    .join('')
  const more = firing.length > BANNER_MAX ? `<li><a href="/alerts">and ${firing.length - BANNER_MAX} more</a></li>` : ''
  el.innerHTML = `<strong>${firing.length} firing</strong><ul>${items}${more}</ul>`
}

/** The dashboard's one feed of firing alerts. */
export const alertFeed = new AlertFeed()
