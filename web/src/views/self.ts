import type { StatsResponse } from '../../../server/protocol/index.ts'
import { $ } from '../dom.ts'
import { formatBytes, formatDuration } from '../format.ts'

const REFRESH_MS = 10_000

/**
 * The panel of Vigil's own cost, from `GET /api/stats`: figures, not a chart, refreshed every 10 s while the
 * page is visible. The first `refresh` starts the cycle.
 */
export class SelfCostView {
  #timer: ReturnType<typeof setTimeout> | null = null

  async refresh(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = setTimeout(() => void this.refresh(), REFRESH_MS)
    if (document.hidden) return
    try {
      const res = await fetch('/api/stats')
      if (res.ok) this.show((await res.json()) as StatsResponse)
    } catch {
      // the hub is away; the connection indicator says so, the next refresh tries again
    }
  }

  show(s: StatsResponse): void {
    const st = s.storage
    const rows: [string, string][] = [
      ['Database', `${formatBytes(st.dbBytes)} + ${formatBytes(st.walBytes)} write-ahead log`],
      [
        'Series',
        `${st.series} (${st.openSamples.toLocaleString()} samples in the open hour${st.openEncoded > 0 ? `, ${st.openEncoded.toLocaleString()} of them encoded` : ''})`,
      ],
      ['Sampler', `${s.sampler.fast.avgMs.toFixed(2)} ms per tick every ${s.sampler.fast.intervalMs} ms`],
      ['Clients', `${s.clients} streams, ${s.controlSockets} control sockets, ${s.droppedClients} cut off`],
      ['Events', `${s.eventsPerS.toFixed(1)}/s`],
      ['Memory', `${formatBytes(s.process.rssBytes)} resident, up ${formatDuration(s.process.uptimeS * 1000)}`],
    ]
    $<HTMLElement>('#self-table tbody').replaceChildren(...rows.map(([k, v]) => row('th', k, 'td', v)))
    $<HTMLElement>('#tier-table tbody').replaceChildren(
      ...st.tiers.map((t) => {
        // Samples of the open hour sit in the head, not yet in the tier's table: bytes per sample counts closed ones
        const closed = t.tier === 'raw' ? t.samples - st.openSamples : t.samples
        const tr = document.createElement('tr')
        tr.dataset.tier = t.tier
        for (const text of [
          t.tier,
          t.samples.toLocaleString(),
          formatBytes(t.bytes),
          closed > 0 ? (t.bytes / closed).toFixed(2) : '–',
          formatDuration(t.retentionMs),
        ]) {
          const td = document.createElement('td')
          td.textContent = text
          tr.append(td)
        }
        return tr
      }),
    )
    $<HTMLElement>('#self-updated').textContent = new Date().toLocaleTimeString()
  }
}

function row(headTag: 'th', head: string, cellTag: 'td', cell: string): HTMLTableRowElement {
  const tr = document.createElement('tr')
  const th = document.createElement(headTag)
  th.textContent = head
  const td = document.createElement(cellTag)
  td.textContent = cell
  tr.append(th, td)
  return tr
}
