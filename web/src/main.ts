import type {
  AuditEntry,
  CatalogEntry,
  ConfigEvent,
  HostEntry,
  Identity,
  Job,
  MetricsEvent,
  ProcessInfo,
  SeriesResponse,
} from '../../server/protocol/index.ts'
import { createChart, type StreamingChart } from './charts/chart.ts'
import { CHARTS, type ChartDef, chartFor } from './charts/defs.ts'
import { SeriesBuffer } from './charts/series.ts'
import { $, esc } from './dom.ts'
import { formatBytes, formatValue } from './format.ts'
import { UpdateCost } from './perf.ts'
import { Stream, type StreamState } from './stream.ts'
import { AuditView, ControlPanel } from './views/control.ts'
import { JobsList, JobView } from './views/jobs.ts'
import { SelfCostView } from './views/self.ts'

type Range = 'live' | '1h' | '6h' | '24h' | '7d' | '30d' | '1y'
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
}

const grid = $<HTMLElement>('#grid')
const conn = $<HTMLElement>('#conn')

const buffers = new Map<string, SeriesBuffer>()
const cards = new Map<string, Card>()
let range: Range = 'live'
/** A span picked by dragging across a chart: every chart shows it, live points keep arriving but don't scroll it. */
let zoom: { from: number; to: number } | null = null
let newestTs = 0
let dirty = false
let historyLoad = 0
/** Set when a history load failed (the hub went away mid-load): the next open loads it again. */
let historyMissing = false

function card(def: ChartDef): Card {
  let c = cards.get(def.id)
  if (c) return c
  const el = document.createElement('section')
  el.className = 'card hidden'
  el.dataset.chart = def.id
  el.innerHTML = `<h2><span></span><span class="now"></span><details class="csv"><summary title="Download as CSV">CSV</summary><div class="menu"></div></details></h2><div class="chart-box"><canvas></canvas></div><div class="legend" hidden></div>`
  ;(el.querySelector('h2 span') as HTMLElement).textContent = def.title
  grid.append(el)
  const chart = createChart(
    el.querySelector('canvas') as HTMLCanvasElement,
    el.querySelector('.legend') as HTMLElement,
    def.unit,
    { ...(def.max === undefined ? {} : { max: def.max }), onZoom: setZoom },
  )
  const csv = el.querySelector('details.csv') as HTMLDetailsElement
  csv.addEventListener('toggle', () => {
    if (csv.open) (csv.querySelector('.menu') as HTMLElement).replaceChildren(...csvLinks(chart.metrics()))
  })
  c = { def, el, now: el.querySelector('.now') as HTMLElement, chart, first: def.primary ?? null }
  cards.set(def.id, c)
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
  c.chart.addSeries(metric, def.label(metric), b)
  c.first ??= metric
  c.el.classList.remove('hidden')
  return b
}

const cost = new UpdateCost()

/** Set once the job view exists: it overlays the host's CPU on a job's own. */
let onHostCpu: ((ts: number, pct: number) => void) | null = null

function onMetrics(ev: MetricsEvent): void {
  const t0 = performance.now()
  for (const name in ev.values) {
    const v = ev.values[name]
    if (v !== undefined) buffer(name)?.push(ev.ts, v)
  }
  if (ev.ts > newestTs) newestTs = ev.ts
  const cpu = ev.values['cpu.usage_pct']
  if (cpu !== undefined) onHostCpu?.(ev.ts, cpu)
  $<HTMLElement>('#host').textContent = ev.host
  dirty = true
  cost.add(performance.now() - t0)
}

function render(): void {
  requestAnimationFrame(render)
  if (!dirty || document.hidden) return
  dirty = false
  const t0 = performance.now()
  let drawn = 0
  const { from, to } = visibleWindow()
  const w = to - from
  const now = to
  if (!zoom) for (const b of buffers.values()) b.trim(from)
  for (const c of cards.values()) {
    if (c.el.classList.contains('hidden')) continue
    c.chart.render(now, w)
    drawn++
  }
  // DOM writes after all canvas work: interleaved, each one would force a layout in the next chart's update
  for (const c of cards.values()) {
    const last = c.first ? buffers.get(c.first)?.points.at(-1) : undefined
    const text = last ? formatValue(c.def.unit, last.y) : ''
    if (c.now.textContent !== text) c.now.textContent = text
  }
  if (drawn > 0) cost.firstChartMs ??= Math.round(performance.now())
  cost.frame(performance.now() - t0)
}

async function getJson<T>(path: string): Promise<T | null> {
  const res = await fetch(path, { headers: { accept: 'application/json' } })
  return res.ok ? ((await res.json()) as T) : null
}

/** The time span the charts show: the zoomed span, else the picked range up to the newest sample. */
function visibleWindow(): { from: number; to: number } {
  if (zoom) return zoom
  const to = Math.max(newestTs, Date.now() - 5000)
  return { from: to - RANGE_MS[range], to }
}

function setZoom(from: number, to: number): void {
  zoom = { from, to }
  $<HTMLButtonElement>('#zoom-reset').hidden = false
  void loadHistory()
}

/** One download link per metric of a chart: its CSV over the span on screen. */
function csvLinks(metrics: readonly string[]): HTMLAnchorElement[] {
  const { from, to } = visibleWindow()
  return metrics.map((m) => {
    const a = document.createElement('a')
    a.href = `/api/series?metric=${encodeURIComponent(m)}&from=${Math.max(0, Math.floor(from))}&to=${Math.floor(to)}&points=${HISTORY_POINTS}&format=csv`
    a.download = `${m}.csv`
    a.textContent = m
    return a
  })
}

/** Loads history for every charted metric over the visible span and merges it under the live points. */
async function loadHistory(): Promise<void> {
  const load = ++historyLoad
  const span = visibleWindow()
  const from = Math.max(0, Math.floor(span.from))
  const until = zoom ? `&to=${Math.floor(zoom.to)}` : ''
  let results: (SeriesResponse | null)[]
  try {
    const catalog = (await getJson<CatalogEntry[]>('/api/metrics/catalog')) ?? []
    const wanted = catalog.map((m) => m.name).filter((n) => chartFor(n) !== null)
    results = await Promise.all(
      wanted.map((m) =>
        getJson<SeriesResponse>(
          `/api/series?metric=${encodeURIComponent(m)}&from=${from}${until}&points=${HISTORY_POINTS}`,
        ),
      ),
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

function procRows(list: readonly ProcessInfo[]): string {
  return list
    .map(
      (p) =>
        `<tr><td>${p.pid}</td><td title="${esc(p.name)}">${esc(p.name)}</td><td>${p.cpuPct.toFixed(1)}</td><td>${formatBytes(p.memBytes)}</td></tr>`,
    )
    .join('')
}

function onHost(ev: HostEntry): void {
  if (!ev.processes || !ev.info) return
  $<HTMLElement>('#top-cpu tbody').innerHTML = procRows(ev.processes.topCpu)
  $<HTMLElement>('#top-mem tbody').innerHTML = procRows(ev.processes.topMem)
  $<HTMLElement>('#proc-count').textContent =
    `${ev.processes.count} processes · ${ev.info.cores} cores · ${formatBytes(ev.info.memTotalBytes)} memory · updated ${new Date(ev.ts).toLocaleTimeString()}`
}

function showState(state: StreamState): void {
  conn.dataset.state = state
  ;(conn.querySelector('.label') as HTMLElement).textContent = state
}

let stream: Stream | null = null
const selfCost = new SelfCostView()

/** Starts the one stream, with the topics this identity may read. */
function startStream(panel: ControlPanel, audit: AuditView | null, jobs: JobsList): void {
  stream = new Stream({
    url: '/api/stream',
    topics: audit ? ['metrics', 'hosts', 'config', 'jobs', 'audit'] : ['metrics', 'hosts', 'config', 'jobs'],
    on: {
      metrics: (d) => onMetrics(d as MetricsEvent),
      host: (d) => onHost(d as HostEntry),
      config: (d) => panel.showConfig(d as ConfigEvent),
      job: (d) => jobs.update(d as Job),
      audit: (d) => audit?.add(d as AuditEntry),
      reset: () => void loadHistory(),
    },
    onState: showState,
    onOpen(resumed) {
      // The figures count this page's stream once it is open
      void selfCost.refresh()
      // History is asked for only once the stream is open, so every sample is in one or the other
      if (!resumed || historyMissing) void loadHistory()
    },
  })
  stream.start()
}

for (const btn of document.querySelectorAll<HTMLButtonElement>('#ranges button[data-range]')) {
  btn.addEventListener('click', () => {
    range = btn.dataset.range as Range
    resetZoom(false)
    for (const b of document.querySelectorAll('#ranges button[data-range]'))
      b.setAttribute('aria-pressed', String(b === btn))
    void loadHistory()
  })
}

function resetZoom(reload: boolean): void {
  if (!zoom) return
  zoom = null
  $<HTMLButtonElement>('#zoom-reset').hidden = true
  if (reload) void loadHistory()
}
$<HTMLButtonElement>('#zoom-reset').addEventListener('click', () => resetZoom(true))

matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
  for (const c of cards.values()) c.chart.applyTheme()
})

void getJson<HostEntry[]>('/api/hosts').then((hosts) => {
  const local = hosts?.find((h) => h.local)
  if (local) onHost(local)
})

window.vigil = {
  perf: () => ({
    ...cost.summary(),
    charts: [...cards.values()].filter((c) => !c.el.classList.contains('hidden')).length,
  }),
  state: () => stream?.state ?? 'connecting',
  timestamps: (metric) => buffers.get(metric)?.points.map((p) => p.x) ?? [],
  view: () => ({ ...visibleWindow(), zoomed: zoom !== null }),
  band: (metric) => buffers.get(metric)?.points.filter((p) => p.lo !== undefined).length ?? 0,
}

/** Who is looking: a hub beyond loopback sends visitors without a session to the login page. */
async function identify(): Promise<Identity | null> {
  const res = await fetch('/api/session')
  if (res.status === 401) {
    location.assign('/login')
    return null
  }
  if (!res.ok) return null
  const me = (await res.json()) as Identity
  const who = $<HTMLElement>('#who')
  if (me.anonymous) {
    who.innerHTML = 'anonymous viewer <a href="/login">log in</a>'
    return me
  }
  who.textContent = `${me.name} (${me.role})`
  const out = document.createElement('button')
  out.type = 'button'
  out.textContent = 'log out'
  out.addEventListener('click', async () => {
    await fetch('/api/session', { method: 'DELETE' })
    location.assign('/')
  })
  who.append(out)
  return me
}

async function boot(): Promise<void> {
  const me = await identify()
  if (!me) return
  const panel = new ControlPanel(me)
  const audit = me.role === 'operator' || me.role === 'admin' ? new AuditView() : null
  const jobView = new JobView(me, panel.socket)
  onHostCpu = (ts, pct) => jobView.onHostCpu(ts, pct)
  const jobs = new JobsList((id) => jobView.open(id))
  startStream(panel, audit, jobs)
  void jobs.load()
  const config = await getJson<ConfigEvent>('/api/config')
  if (config) panel.showConfig(config)
  await audit?.load()
}

void boot()
requestAnimationFrame(render)
