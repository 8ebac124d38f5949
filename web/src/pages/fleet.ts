import {
  CLOCK_SKEW_WARN_MS,
  FLEET_SPARK_POINTS,
  FLEET_SPARK_STEP_MS,
  type FleetEvent,
  type FleetHost,
  type FleetResponse,
} from '../../../server/protocol/fleet.ts'
import type { AuditEntry, Identity, Job } from '../../../server/protocol/index.ts'
import { $, onScreen } from '../dom.ts'
import { formatBytes, formatDuration } from '../format.ts'
import { hostUrl, jobUrl } from '../route.ts'
import { getJson, showState, startStream } from '../session.ts'
import type { Stream } from '../stream.ts'
import { alertFeed, alertLine, alertUrl } from '../views/alerts.ts'
import { AuditView } from '../views/control.ts'
import { JobsList } from '../views/jobs.ts'

const SVG = 'http://www.w3.org/2000/svg'
const SPARK_W = 80
const SPARK_H = 20

type Spark = { ts: number[]; values: (number | null)[] }

/** One host's row: its cells, kept and updated in place, and its three sparklines. */
interface Row {
  host: FleetHost
  tr: HTMLTableRowElement
  cells: Record<'host' | 'cpu' | 'mem' | 'disk' | 'net' | 'load' | 'seen' | 'agent', HTMLTableCellElement>
  sparks: Record<'cpu' | 'mem' | 'disk', { data: Spark; line: SVGPolylineElement; value: HTMLElement }>
  /** Whether the row is on (or near) the screen: only those are painted. */
  seen: boolean
}

const pct = (v: number | null) => (v === null ? '–' : `${v.toFixed(1)}%`)

/** Keeps a sparkline's five minutes: a value goes in the slot of its 5 s step, older slots fall off. */
function record(s: Spark, ts: number, v: number | null): void {
  const slot = Math.floor(ts / FLEET_SPARK_STEP_MS) * FLEET_SPARK_STEP_MS
  const last = s.ts.at(-1)
  if (last === slot) s.values[s.values.length - 1] = v
  else if (last === undefined || slot > last) {
    s.ts.push(slot)
    s.values.push(v)
  }
  while (s.ts.length > FLEET_SPARK_POINTS) {
    s.ts.shift()
    s.values.shift()
  }
}

/** The polyline of a sparkline: 0–100 % up the box, time across its five minutes. */
function sparkPoints(s: Spark, now: number): string {
  const span = FLEET_SPARK_POINTS * FLEET_SPARK_STEP_MS
  const out: string[] = []
  s.ts.forEach((t, i) => {
    const v = s.values[i]
    if (v === null || v === undefined) return
    const x = ((t - (now - span)) / span) * SPARK_W
    const y = SPARK_H - (Math.min(100, Math.max(0, v)) / 100) * SPARK_H
    out.push(`${x.toFixed(1)},${y.toFixed(1)}`)
  })
  return out.join(' ')
}

function ago(ms: number | null, now: number): string {
  if (ms === null) return 'never'
  const s = Math.max(0, Math.round((now - ms) / 1000))
  return s < 2 ? 'now' : `${formatDuration(s * 1000)} ago`
}

/**
 * The fleet overview, the home page: a row per host with its state, CPU, memory and fullest disk (each with five
 * minutes of sparkline), network, load, last seen and agent version, and a warning for clock skew or ticks its
 * agent dropped; sorted and filtered by name and state. It reads the `fleet` topic, at most one small event a
 * second whatever the number of hosts, never the full metrics stream.
 */
export function fleetPage(me: Identity): void {
  const body = $<HTMLElement>('#fleet-table tbody')
  const rows = new Map<string, Row>()
  // Rows off screen take their figures but are not painted: at 200 hosts most of the table is off screen
  const watch = onScreen<Row>(200, (r, seen) => {
    const was = r.seen
    r.seen = seen
    if (!seen || was) return
    paint(r)
    drawRow(r, Date.now())
  })
  const filter = $<HTMLInputElement>('#fleet-filter')
  const stateFilter = $<HTMLSelectElement>('#fleet-state')
  const sortBy = $<HTMLSelectElement>('#fleet-sort')
  document.title = 'Fleet · Vigil'

  function sparkCell(td: HTMLTableCellElement): Row['sparks']['cpu'] {
    const value = document.createElement('span')
    value.className = 'value'
    const svg = document.createElementNS(SVG, 'svg')
    svg.setAttribute('class', 'spark')
    svg.setAttribute('viewBox', `0 0 ${SPARK_W} ${SPARK_H}`)
    svg.setAttribute('width', String(SPARK_W))
    svg.setAttribute('height', String(SPARK_H))
    const line = document.createElementNS(SVG, 'polyline')
    svg.append(line)
    td.append(value, svg)
    return { data: { ts: [], values: [] }, line, value }
  }

  function rowFor(h: FleetHost): Row {
    let row = rows.get(h.host)
    if (row) return row
    const tr = document.createElement('tr')
    tr.dataset.host = h.host
    const cell = () => tr.appendChild(document.createElement('td'))
    const cells = {
      host: cell(),
      cpu: cell(),
      mem: cell(),
      disk: cell(),
      net: cell(),
      load: cell(),
      seen: cell(),
      agent: cell(),
    }
    cells.host.innerHTML =
      '<span class="dot"></span><a></a><span class="warn"></span><a class="alerts-badge" hidden></a>'
    const a = cells.host.querySelector('a') as HTMLAnchorElement
    a.href = hostUrl(h.host)
    a.textContent = h.host
    row = {
      host: h,
      tr,
      cells,
      sparks: { cpu: sparkCell(cells.cpu), mem: sparkCell(cells.mem), disk: sparkCell(cells.disk) },
      seen: false,
    }
    rows.set(h.host, row)
    watch(tr, row)
    showAlerts(row)
    return row
  }

  /** A host's firing alerts: a badge with their count, most severe first, linking to the first. */
  function showAlerts(row: Row): void {
    const firing = alertFeed.forHost(row.host.host)
    const badge = row.cells.host.querySelector('.alerts-badge') as HTMLAnchorElement
    badge.hidden = firing.length === 0
    const [first] = firing
    if (!first) return
    badge.textContent = `${firing.length} firing`
    badge.dataset.severity = first.severity
    badge.href = alertUrl(first.id)
    badge.title = firing.map(alertLine).join('\n')
  }

  /** Takes a host's figures into its row; the row's cells are painted only while it is on screen. */
  function update(h: FleetHost): void {
    const row = rowFor(h)
    row.host = h
    row.tr.dataset.state = h.state
    if (h.ts !== null) {
      record(row.sparks.cpu.data, h.ts, h.cpuPct)
      record(row.sparks.mem.data, h.ts, h.memPct)
      record(row.sparks.disk.data, h.ts, h.diskPct)
    }
    if (row.seen) paint(row)
  }

  /** Writes a row's figures and warnings into its cells. */
  function paint(row: Row): void {
    const h = row.host
    row.sparks.cpu.value.textContent = pct(h.cpuPct)
    row.sparks.mem.value.textContent = pct(h.memPct)
    row.sparks.disk.value.textContent = pct(h.diskPct)
    row.cells.net.textContent = h.netBytesPerS === null ? '–' : `${formatBytes(h.netBytesPerS)}/s`
    row.cells.load.textContent = h.load1 === null ? '–' : h.load1.toFixed(2)
    row.cells.agent.textContent = h.local ? 'hub' : (h.agentVersion ?? '–')
    const warnings: string[] = []
    if (h.clockSkewMs !== null && Math.abs(h.clockSkewMs) > CLOCK_SKEW_WARN_MS) {
      warnings.push(`clock ${h.clockSkewMs > 0 ? 'ahead' : 'behind'} by ${formatDuration(Math.abs(h.clockSkewMs))}`)
    }
    if (h.droppedTicks > 0) warnings.push(`${h.droppedTicks} ticks lost from a full spool`)
    const warn = row.cells.host.querySelector('.warn') as HTMLElement
    const text = warnings.length ? ` ⚠ ${warnings.join('; ')}` : ''
    if (warn.textContent !== text) {
      warn.textContent = text
      warn.title = warnings.join('\n')
    }
  }

  const order: Record<string, (a: FleetHost, b: FleetHost) => number> = {
    host: (a, b) => a.host.localeCompare(b.host),
    cpu: (a, b) => (b.cpuPct ?? -1) - (a.cpuPct ?? -1),
    mem: (a, b) => (b.memPct ?? -1) - (a.memPct ?? -1),
    disk: (a, b) => (b.diskPct ?? -1) - (a.diskPct ?? -1),
    state: (a, b) => (a.state === b.state ? a.host.localeCompare(b.host) : a.state === 'offline' ? -1 : 1),
  }

  /** Orders, filters and counts the rows; the rows themselves are updated in place as events come. */
  function layout(): void {
    const name = filter.value.trim().toLowerCase()
    const state = stateFilter.value
    const all = [...rows.values()]
    const online = all.filter((r) => r.host.state === 'online').length
    $('#fleet-counts').textContent = `${online} online · ${all.length - online} offline`
    const shown = all
      .filter(
        (r) => (name === '' || r.host.host.toLowerCase().includes(name)) && (state === '' || r.host.state === state),
      )
      .sort((a, b) => (order[sortBy.value] ?? order.host)?.(a.host, b.host) ?? 0)
    body.replaceChildren(...shown.map((r) => r.tr))
    $('#fleet-empty').hidden = shown.length > 0
    draw()
  }

  /** A row's sparklines and last-seen time, as of `now`. */
  function drawRow(r: Row, now: number): void {
    for (const s of Object.values(r.sparks)) s.line.setAttribute('points', sparkPoints(s.data, now))
    r.cells.seen.textContent = r.host.state === 'online' && r.host.local ? 'now' : ago(r.host.lastSeenAt, now)
  }

  /** Redraws the sparklines and last-seen times of the rows on screen (a row scrolled away is drawn on its return). */
  function draw(): void {
    const now = Date.now()
    for (const r of rows.values()) {
      if (r.seen && r.tr.isConnected) drawRow(r, now)
    }
  }

  for (const el of [filter, stateFilter, sortBy]) el.addEventListener('input', layout)
  body.addEventListener('click', (e) => {
    const tr = (e.target as HTMLElement).closest('tr')
    if (tr?.dataset.host && !(e.target as HTMLElement).closest('a')) location.assign(hostUrl(tr.dataset.host))
  })
  setInterval(draw, 1000)
  alertFeed.listen(() => {
    for (const r of rows.values()) showAlerts(r)
  })

  const jobs = new JobsList((id) => location.assign(jobUrl(id)))
  const audit = me.role === 'operator' || me.role === 'admin' ? new AuditView() : null
  let stream: Stream | null = null
  async function load(): Promise<void> {
    const r = await getJson<FleetResponse>('/api/fleet')
    if (!r) return
    for (const h of r.hosts) {
      const row = rowFor(h)
      const { spark } = h
      row.sparks.cpu.data = { ts: [...spark.ts], values: [...spark.cpuPct] }
      row.sparks.mem.data = { ts: [...spark.ts], values: [...spark.memPct] }
      row.sparks.disk.data = { ts: [...spark.ts], values: [...spark.diskPct] }
      update(h)
    }
    layout()
  }
  stream = startStream({
    topics: ['fleet', 'jobs', ...(audit ? ['audit'] : [])],
    on: {
      fleet: (d) => {
        const ev = d as FleetEvent
        // A new host, a state change or a sort by figures moves rows; figures alone change in place
        let moved = sortBy.value !== 'host' && sortBy.value !== 'state'
        for (const h of ev.hosts) {
          if (rows.get(h.host)?.host.state !== h.state) moved = true
          update(h)
        }
        if (moved) layout()
        else draw()
      },
      job: (d) => jobs.update(d as Job),
      audit: (d) => audit?.add(d as AuditEntry),
      reset: () => void load(),
    },
    onState: showState,
    onOpen(resumed) {
      if (!resumed) void load()
    },
  })
  void jobs.load()
  void audit?.load()

  window.vigil = {
    perf: () => ({
      firstChartMs: null,
      updates: 0,
      p50Ms: 0,
      p99Ms: 0,
      maxMs: 0,
      pixelsP50Ms: null,
      pixelsP95Ms: null,
      charts: 0,
      worker: null,
    }),
    state: () => stream?.state ?? 'connecting',
    timestamps: () => [],
    view: () => ({ from: 0, to: 0, zoomed: false }),
    band: () => 0,
    charts: () => [],
  }
}
