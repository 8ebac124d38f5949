import { CLOCK_SKEW_WARN_MS } from '../../../server/protocol/fleet.ts'
import type {
  AlertView,
  AuditEntry,
  CatalogEntry,
  ConfigEvent,
  HostEntry,
  Identity,
  MetricsEvent,
  ProcessInfo,
  SeriesResponse,
} from '../../../server/protocol/index.ts'
import { type AlertMark, type ChartOptions, createChart, type Gap, type StreamingChart } from '../charts/chart.ts'
import { CHARTS, type ChartDef, chartFor } from '../charts/defs.ts'
import { SeriesBuffer } from '../charts/series.ts'
import { canDrawInWorker, createWorkerChart, type DrawnReport } from '../charts/worker-chart.ts'
import { $, debounced, esc, onScreen } from '../dom.ts'
import { formatBytes, formatValue } from '../format.ts'
import { UpdateCost } from '../perf.ts'
import { hostUrl, RANGES, type Range } from '../route.ts'
import { getJson, showState, startStream } from '../session.ts'
import type { Stream } from '../stream.ts'
import { alertFeed } from '../views/alerts.ts'
import { AuditView, ControlPanel } from '../views/control.ts'
import { SelfCostView } from '../views/self.ts'

const DAY = 86_400_000
const RANGE_MS: Record<Range, number> = {
  live: 300_000,
  '1h': 3_600_000,
  '6h': 21_600_000,
  '24h': DAY,
  '7d': 7 * DAY,
  '30d': 30 * DAY,
  '1y': 365 * DAY,
}
/** Buckets asked of /api/series: fine enough for raw 1 s samples over the live window. */
const HISTORY_POINTS = 1200

interface Card {
  def: ChartDef
  el: HTMLElement
  now: HTMLElement
  chart: StreamingChart
  first: string | null
  /** Whether the card is in (or near) the viewport: only those are drawn. */
  seen: boolean
  /** Draws so far, for tests and the benchmark. */
  draws: number
  /** The newest time drawn. */
  drawnTo: number
  /** The window last drawn, and whether a line of it got points since: unchanged, it is not drawn again. */
  drawnW: number
  fresh: boolean
}

/**
 * One host's page: its live charts (from the `metrics:<host>` topic) over a range or a zoomed span that the URL
 * keeps, its top processes, and its sampling panel; the hub's own host adds Vigil's own cost. When a replay of
 * the host's agent lands, the charts re-read the span it filled.
 */
export function hostPage(
  me: Identity,
  start: { host: string; range: Range; zoom: { from: number; to: number } | null },
) {
  const host = start.host
  const grid = $<HTMLElement>('#grid')
  const buffers = new Map<string, SeriesBuffer>()
  const cards = new Map<string, Card>()
  let range: Range = start.range
  /** A span picked by dragging across a chart: every chart shows it, live points keep arriving but don't scroll it. */
  let zoom = start.zoom
  let newestTs = 0
  /** Set when every chart on screen must be drawn (history, range, zoom, scrolled or shown again). */
  let dirty = false
  /** Set when lines got new points: the charts they are on are drawn, and those whose window moved a pixel. */
  let dirtyLines = false
  /** The card each metric's line is on. */
  const cardOf = new Map<string, Card>()
  let historyLoad = 0
  /** Set when a history load failed (the hub went away mid-load): the next open loads it again. */
  let historyMissing = false
  let lastBackfill = Number.POSITIVE_INFINITY
  /** Spans the host's agent dropped from a full spool: shaded on every chart. */
  let gaps: readonly Gap[] = []
  /** Where this host's metric alerts fired and resolved, from their histories. */
  let marks: readonly AlertMark[] = []
  const cost = new UpdateCost()
  /**
   * Charts are drawn in the render worker where the browser can (`?render=main` draws them on the main thread, to
   * compare); the worker's own time per update is reported apart from the main thread's.
   */
  const inWorker = canDrawInWorker() && new URLSearchParams(location.search).get('render') !== 'main'
  const workerCost = new UpdateCost()
  /**
   * The frame sent to the worker and not yet drawn: how many charts it has, and when it went. One at a time: while
   * the worker draws, new samples wait in the buffers and go with the next frame, so a busy worker is never
   * queued frames it would draw late.
   */
  let inFlight: { charts: number; at: number } | null = null
  let reported = { charts: 0, ms: 0 }
  const onDrawn = (r: DrawnReport) => {
    reported = { charts: reported.charts + 1, ms: reported.ms + r.ms }
    if (reported.charts < (inFlight?.charts ?? 1)) return
    inFlight = null
    workerCost.frame(reported.ms)
    reported = { charts: 0, ms: 0 }
    if (!zoom) cost.drew(r.newest, r.at)
  }
  const newChart = (canvas: HTMLCanvasElement, legend: HTMLElement, unit: string, opts: ChartOptions) =>
    inWorker ? createWorkerChart(canvas, legend, unit, { ...opts, onDrawn }) : createChart(canvas, legend, unit, opts)
  const q = (metric: string) => `metric=${encodeURIComponent(metric)}&host=${encodeURIComponent(host)}`

  $<HTMLElement>('#host').textContent = host
  document.title = `${host} · Vigil`

  // A chart off screen is not drawn at all: its buffer keeps filling, and it catches up in one draw when it
  // scrolls into view (a hidden tab draws nothing either, and catches up when shown)
  const watch = onScreen<Card>(100, (c, seen) => {
    c.seen = seen
    if (seen) dirty = true
  })
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) dirty = true
  })

  function card(def: ChartDef): Card {
    let c = cards.get(def.id)
    if (c) return c
    const el = document.createElement('section')
    el.className = 'card hidden'
    el.dataset.chart = def.id
    el.innerHTML = `<h2><span></span><span class="now"></span><details class="csv"><summary title="Download as CSV">CSV</summary><div class="menu"></div></details></h2><div class="chart-box"><canvas></canvas></div><div class="legend" hidden></div>`
    ;(el.querySelector('h2 span') as HTMLElement).textContent = def.title
    grid.append(el)
    const chart = newChart(
      el.querySelector('canvas') as HTMLCanvasElement,
      el.querySelector('.legend') as HTMLElement,
      def.unit,
      { ...(def.max === undefined ? {} : { max: def.max }), onZoom: setZoom, gaps: () => gaps, marks: () => marks },
    )
    const csv = el.querySelector('details.csv') as HTMLDetailsElement
    csv.addEventListener('toggle', () => {
      if (csv.open) (csv.querySelector('.menu') as HTMLElement).replaceChildren(...csvLinks(chart.metrics()))
    })
    c = {
      def,
      el,
      now: el.querySelector('.now') as HTMLElement,
      chart,
      first: def.primary ?? null,
      seen: false,
      draws: 0,
      drawnTo: 0,
      drawnW: 0,
      fresh: false,
    }
    cards.set(def.id, c)
    watch(el, c)
    return c
  }

  // Cards in a fixed order, shown once they have data
  for (const def of CHARTS) card(def)

  function buffer(metric: string): SeriesBuffer | null {
    let b = buffers.get(metric)
    if (b) return b
    const def = chartFor(metric)
    if (!def) return null
    b = new SeriesBuffer()
    buffers.set(metric, b)
    const c = card(def)
    c.chart.addSeries(metric, def.label(metric), b, def.rank?.(metric))
    cardOf.set(metric, c)
    c.first ??= metric
    c.el.classList.remove('hidden')
    return b
  }

  function onMetrics(ev: MetricsEvent): void {
    if (ev.host !== host) return
    const t0 = performance.now()
    for (const name in ev.values) {
      const v = ev.values[name]
      if (v !== undefined && buffer(name)?.push(ev.ts, v)) {
        const c = cardOf.get(name)
        if (c) c.fresh = true
      }
    }
    if (ev.ts > newestTs) newestTs = ev.ts
    dirtyLines = true
    cost.add(performance.now() - t0)
  }

  function render(): void {
    requestAnimationFrame(render)
    if (!(dirty || dirtyLines) || document.hidden) return
    // A frame the worker has not answered within a second (a chart destroyed meanwhile) no longer holds the next
    if (inFlight && performance.now() - inFlight.at < 1000) return
    inFlight = null
    const all = dirty
    dirty = false
    dirtyLines = false
    const t0 = performance.now()
    let drawn = 0
    const { from, to } = visibleWindow()
    const w = to - from
    if (!zoom) for (const b of buffers.values()) b.trim(from)
    for (const c of cards.values()) {
      if (!c.seen || c.el.classList.contains('hidden')) continue
      // Nothing new on it and its window moved by less than a pixel (the plot is about the card's width): as drawn
      if (!all && !c.fresh && c.drawnW === w && ((to - c.drawnTo) / w) * c.el.clientWidth < 1) continue
      c.fresh = false
      c.drawnW = w
      c.chart.render(to, w)
      c.draws++
      c.drawnTo = to
      drawn++
    }
    // DOM writes after all canvas work: interleaved, each one would force a layout in the next chart's update
    for (const c of cards.values()) {
      const last = c.first ? buffers.get(c.first)?.points.at(-1) : undefined
      const text = last ? formatValue(c.def.unit, last.y) : ''
      if (c.now.textContent !== text) c.now.textContent = text
    }
    if (drawn > 0) {
      cost.firstChartMs ??= Math.round(performance.now())
      // Live only: a zoomed span is not where new samples are drawn. A worker's charts are timed when it drew them
      if (inWorker) {
        inFlight = { charts: drawn, at: performance.now() }
        reported = { charts: 0, ms: 0 }
      } else if (!zoom) cost.drew(newestTs)
    }
    cost.frame(performance.now() - t0)
  }

  /** The time span the charts show: the zoomed span, else the picked range up to the newest sample. */
  function visibleWindow(): { from: number; to: number } {
    if (zoom) return zoom
    const to = Math.max(newestTs, Date.now() - 5000)
    return { from: to - RANGE_MS[range], to }
  }

  /** The range and zoom go into the address, so a link or a reload shows the same view. */
  function keepInUrl(): void {
    history.replaceState(null, '', hostUrl(host, range, zoom))
  }

  function setZoom(from: number, to: number): void {
    zoom = { from, to }
    $<HTMLButtonElement>('#zoom-reset').hidden = false
    keepInUrl()
    void loadHistory()
  }

  function resetZoom(reload: boolean): void {
    if (!zoom) return
    zoom = null
    $<HTMLButtonElement>('#zoom-reset').hidden = true
    keepInUrl()
    if (reload) void loadHistory()
  }

  /** One download link per metric of a chart: its CSV over the span on screen. */
  function csvLinks(metrics: readonly string[]): HTMLAnchorElement[] {
    const { from, to } = visibleWindow()
    return metrics.map((m) => {
      const a = document.createElement('a')
      a.href = `/api/series?${q(m)}&from=${Math.max(0, Math.floor(from))}&to=${Math.floor(to)}&points=${HISTORY_POINTS}&format=csv`
      a.download = `${m}.csv`
      a.textContent = m
      return a
    })
  }

  /** The host's charted metrics, by the catalog of what it has stored. */
  async function chartedMetrics(): Promise<string[]> {
    const catalog = (await getJson<CatalogEntry[]>(`/api/metrics/catalog?host=${encodeURIComponent(host)}`)) ?? []
    return catalog.map((m) => m.name).filter((n) => chartFor(n) !== null)
  }

  /** Loads history for every charted metric over the visible span and merges it under the live points. */
  async function loadHistory(): Promise<void> {
    const load = ++historyLoad
    const span = visibleWindow()
    const from = Math.max(0, Math.floor(span.from))
    const until = zoom ? `&to=${Math.floor(zoom.to)}` : ''
    let results: (SeriesResponse | null)[]
    try {
      const wanted = await chartedMetrics()
      results = await Promise.all(
        wanted.map((m) => getJson<SeriesResponse>(`/api/series?${q(m)}&from=${from}${until}&points=${HISTORY_POINTS}`)),
      )
    } catch {
      historyMissing = true
      return
    }
    if (load !== historyLoad) return // a newer range was picked meanwhile
    historyMissing = false
    for (const r of results) {
      if (!r) continue
      buffer(r.metric)?.setHistory(r.points, r.to)
      const last = r.points.at(-1)
      if (last && last[0] > newestTs) newestTs = last[0]
    }
    dirty = true
  }

  /** A replay of the host's agent filled `[from, to]`: the charts read that span again, in place. */
  async function refill(from: number, to: number): Promise<void> {
    // Up to the end of the replay, even past the window's edge: the window moves on to it with the next frame
    const span = visibleWindow()
    const a = Math.max(from, Math.floor(span.from))
    const b = to
    if (a > b) return
    const points = Math.max(10, Math.round((HISTORY_POINTS * (b - a)) / (span.to - span.from)))
    const wanted = await chartedMetrics()
    const results = await Promise.all(
      wanted.map((m) => getJson<SeriesResponse>(`/api/series?${q(m)}&from=${a}&to=${b}&points=${points}`)),
    )
    for (const r of results) {
      if (!r) continue
      buffer(r.metric)?.fillSpan(r.points, a, b)
      const last = r.points.at(-1)
      if (last && last[0] > newestTs) newestTs = last[0]
    }
    dirty = true
  }

  function procRows(list: readonly ProcessInfo[]): string {
    return list
      .map(
        (p) =>
          `<tr><td>${p.pid}</td><td title="${esc(p.name)}">${esc(p.name)}</td><td>${p.cpuPct.toFixed(1)}</td><td>${formatBytes(p.memBytes)}</td></tr>`,
      )
      .join('')
  }

  /** The host's clock skew and lost spans, in words, under the header. */
  function showWarnings(entry: HostEntry): void {
    const out: string[] = []
    if (entry.state === 'offline')
      out.push(`offline since ${entry.lastSeenAt ? new Date(entry.lastSeenAt).toLocaleString() : 'ever'}`)
    if (entry.clockSkewMs !== null && Math.abs(entry.clockSkewMs) > CLOCK_SKEW_WARN_MS) {
      out.push(
        `its clock is ${Math.abs(entry.clockSkewMs / 1000).toFixed(1)} s ${entry.clockSkewMs > 0 ? 'ahead of' : 'behind'} the hub's`,
      )
    }
    for (const g of entry.gaps) {
      out.push(
        `${g.ticks} ticks lost ${new Date(g.from).toLocaleString()}–${new Date(g.to).toLocaleTimeString()} (its spool was full)`,
      )
    }
    const el = $<HTMLElement>('#host-warnings')
    el.hidden = out.length === 0
    el.textContent = out.join(' · ')
  }

  const selfCost = new SelfCostView()
  function onHost(entry: HostEntry): void {
    if (entry.host !== host) return
    gaps = entry.gaps
    showWarnings(entry)
    dirty = true
    const b = entry.backfill
    if (b && b.at > lastBackfill) {
      lastBackfill = b.at
      const el = $<HTMLElement>('#backfill')
      el.hidden = false
      el.textContent = `back-filled ${new Date(b.from).toLocaleTimeString()}–${new Date(b.to).toLocaleTimeString()} (${b.ticks} ticks)`
      void refill(b.from, b.to)
    }
    if (entry.local) $('#self-cost').hidden = false
    if (!entry.processes || !entry.info) return
    $<HTMLElement>('#top-cpu tbody').innerHTML = procRows(entry.processes.topCpu)
    $<HTMLElement>('#top-mem tbody').innerHTML = procRows(entry.processes.topMem)
    $<HTMLElement>('#proc-count').textContent =
      `${entry.processes.count} processes · ${entry.info.cores} cores · ${formatBytes(entry.info.memTotalBytes)} memory · updated ${new Date(entry.ts).toLocaleTimeString()}`
  }

  /** The host picker lists every host; picking one opens its page with the same range. */
  async function fillPicker(): Promise<void> {
    const hosts = (await getJson<HostEntry[]>('/api/hosts')) ?? []
    const picker = $<HTMLSelectElement>('#host-picker')
    picker.replaceChildren(
      ...hosts.map((h) => {
        const o = document.createElement('option')
        o.value = h.host
        o.textContent = `${h.host}${h.state === 'offline' ? ' (offline)' : ''}`
        o.selected = h.host === host
        return o
      }),
    )
    picker.addEventListener('change', () => location.assign(hostUrl(picker.value, range)))
    const mine = hosts.find((h) => h.host === host)
    if (mine) {
      lastBackfill = mine.backfill?.at ?? 0
      onHost(mine)
    } else lastBackfill = 0
  }

  for (const btn of document.querySelectorAll<HTMLButtonElement>('#ranges button[data-range]')) {
    const r = RANGES.find((x) => x === btn.dataset.range)
    btn.setAttribute('aria-pressed', String(r === range))
    btn.addEventListener('click', () => {
      range = r ?? 'live'
      resetZoom(false)
      keepInUrl()
      for (const b of document.querySelectorAll('#ranges button[data-range]'))
        b.setAttribute('aria-pressed', String(b === btn))
      void loadHistory()
    })
  }
  if (zoom) $<HTMLButtonElement>('#zoom-reset').hidden = false
  $<HTMLButtonElement>('#zoom-reset').addEventListener('click', () => resetZoom(true))
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    for (const c of cards.values()) c.chart.applyTheme()
  })

  async function loadMarks(): Promise<void> {
    // The hub being away leaves the marks as they were: the next alert event reads them again
    const res = await getJson<{ alerts: AlertView[] }>(`/api/alerts?host=${encodeURIComponent(host)}&limit=1000`).catch(
      () => null,
    )
    if (!res) return
    marks = res.alerts.flatMap((a) =>
      a.kind !== 'metric'
        ? []
        : a.history.flatMap((h) => (h.state === 'pending' ? [] : [{ at: h.at, state: h.state, metric: a.series }])),
    )
  }
  const reloadMarks = debounced(() => void loadMarks(), 200)
  alertFeed.listen((a) => {
    if (!a || a.host === host) reloadMarks()
  })
  void loadMarks()

  const panel = new ControlPanel(me, host)
  const audit = me.role === 'operator' || me.role === 'admin' ? new AuditView() : null
  let stream: Stream | null = null
  void fillPicker().then(() => {
    stream = startStream({
      topics: [`metrics:${host}`, 'hosts', 'config', ...(audit ? ['audit'] : [])],
      on: {
        metrics: (d) => onMetrics(d as MetricsEvent),
        host: (d) => onHost(d as HostEntry),
        config: (d) => panel.showConfig(d as ConfigEvent),
        audit: (d) => audit?.add(d as AuditEntry),
        reset: () => void loadHistory(),
      },
      onState: showState,
      onOpen(resumed) {
        // The figures count this page's stream once it is open
        if (!$('#self-cost').hidden) void selfCost.refresh()
        // History is asked for only once the stream is open, so every sample is in one or the other
        if (!resumed || historyMissing) void loadHistory()
      },
    })
  })
  void getJson<ConfigEvent>(`/api/config?host=${encodeURIComponent(host)}`).then((c) => c && panel.showConfig(c))
  void audit?.load()
  requestAnimationFrame(render)

  window.vigil = {
    perf: () => ({
      ...cost.summary(),
      charts: [...cards.values()].filter((c) => c.seen && !c.el.classList.contains('hidden')).length,
      worker: inWorker ? workerCost.summary() : null,
    }),
    charts: () =>
      [...cards.values()]
        .filter((c) => !c.el.classList.contains('hidden'))
        .map((c) => ({ id: c.def.id, metric: c.first, seen: c.seen, draws: c.draws, drawnTo: c.drawnTo })),
    state: () => stream?.state ?? 'connecting',
    timestamps: (metric) => buffers.get(metric)?.points.map((p) => p.x) ?? [],
    view: () => ({ ...visibleWindow(), zoomed: zoom !== null }),
    band: (metric) => buffers.get(metric)?.points.filter((p) => p.lo !== undefined).length ?? 0,
  }
}
