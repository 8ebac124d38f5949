import type { AuditEntry, Identity, Job, LogEvent, LogLine, SeriesResponse } from '../../../server/protocol/index.ts'
import { createChart, type StreamingChart } from '../charts/chart.ts'
import { SeriesBuffer } from '../charts/series.ts'
import type { ControlSocket } from '../control.ts'
import { CommandFailed } from '../control.ts'
import { $, debounced, esc } from '../dom.ts'
import { formatBytes } from '../format.ts'

const LINE_PX = 18
/** Lines kept in the browser for one job: the virtual list draws only what is on screen. */
const KEEP_LINES = 100_000
/** Matches the hub is asked for at most. */
const SEARCH_LIMIT = 1000
/** Lines read around a search match far outside those held, and at the end when going back to live. */
const WINDOW_LINES = 10_000
const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'lost'])

function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
}

function percentOf(job: Job): number | null {
  return job.progress.percent
}

/** The jobs list: live summaries from the `jobs` topic, filtered by state and name. */
export class JobsList {
  readonly #jobs = new Map<string, Job>()
  readonly #onOpen: (id: string) => void

  constructor(onOpen: (id: string) => void) {
    this.#onOpen = onOpen
    $('#jobs-state').addEventListener('change', () => this.render())
    $('#jobs-name').addEventListener('input', () => this.render())
    $('#jobs-table tbody').addEventListener('click', (e) => {
      const row = (e.target as HTMLElement).closest('tr')
      if (row?.dataset.id) this.#onOpen(row.dataset.id)
    })
    setInterval(() => this.render(), 1000)
  }

  async load(): Promise<void> {
    const res = await fetch('/api/jobs?limit=200')
    if (!res.ok) return
    for (const j of ((await res.json()) as { jobs: Job[] }).jobs) this.#jobs.set(j.id, j)
    this.render()
  }

  update(job: Job): void {
    this.#jobs.set(job.id, job)
    this.render()
  }

  render(): void {
    const state = $<HTMLSelectElement>('#jobs-state').value
    const name = $<HTMLInputElement>('#jobs-name').value.trim().toLowerCase()
    const now = Date.now()
    const rows = [...this.#jobs.values()]
      .filter((j) => (state === '' || j.state === state) && (name === '' || j.name.toLowerCase().includes(name)))
      .sort((a, b) => b.createdAt - a.createdAt)
      .slice(0, 100)
      .map((j) => {
        const p = percentOf(j)
        // The width is set through CSSOM below: the CSP allows no inline style attributes
        const bar = `<span class="mini-bar"><i data-pct="${p ?? 0}"></i></span>${p === null ? '…' : `${p.toFixed(0)}%`}`
        const step = j.progress.step
          ? `${j.progress.step.index}/${j.progress.step.count} ${esc(j.progress.step.name)}`
          : ''
        const eta = j.progress.etaMs !== null && !FINAL.has(j.state) ? duration(j.progress.etaMs) : ''
        const took = duration((j.finishedAt ?? now) - (j.startedAt ?? j.createdAt))
        return `<tr data-id="${j.id}" data-state="${j.state}"><td>${esc(j.name)}</td><td>${j.state}</td><td>${bar}</td><td>${step}</td><td>${eta}</td><td>${took}</td></tr>`
      })
    const body = $('#jobs-table tbody')
    body.innerHTML = rows.join('')
    for (const i of body.querySelectorAll<HTMLElement>('.mini-bar i')) i.style.width = `${i.dataset.pct}%`
    $('#jobs-empty').hidden = this.#jobs.size > 0
  }
}

/**
 * One job: its progress, a virtualized live log that follows the end until you scroll up, search in the loaded
 * lines, cancel and retry for operators, and the job's audit trail. Its `job` and `log` events come from the
 * page's one stream, on `job:<id>`.
 */
export class JobView {
  #job: Job | null = null
  #lines: LogLine[] = []
  #follow = true
  /** Seqs of the lines that match the search, from the hub's search of the whole stored log. */
  #matches = new Set<number>()
  /**
   * Whether the lines held are a window around a search match rather than the live end: live lines are then not
   * appended, and "jump to live" reads the end again.
   */
  #windowed = false
  #searchRun = 0
  #drawQueued = false
  readonly #canCommand: boolean
  readonly #control: ControlSocket | null
  #chart: StreamingChart | null = null
  #jobCpu = new SeriesBuffer()
  #hostCpu = new SeriesBuffer()

  constructor(me: Identity, control: ControlSocket | null) {
    this.#canCommand = me.role === 'operator' || me.role === 'admin'
    this.#control = control
    const log = $('#job-log')
    log.addEventListener('scroll', () => {
      const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - LINE_PX
      this.#follow = atEnd
      $('#job-live').hidden = atEnd
      this.#draw()
    })
    $('#job-live').addEventListener('click', () => {
      this.#follow = true
      $('#job-live').hidden = true
      if (this.#windowed) void this.#loadEnd()
      this.#draw()
    })
    $('#job-search').addEventListener(
      'input',
      debounced(() => void this.#search(), 250),
    )
    $('#job-cancel').addEventListener('click', () => void this.#cancel())
    $('#job-retry').addEventListener(
      'click',
      () => void this.#command({ type: 'job.retry', jobId: this.#job?.id ?? '' }),
    )
  }

  open(id: string): void {
    this.close()
    this.#lines = []
    this.#follow = true
    this.#windowed = false
    this.#matches = new Set()
    this.#jobCpu = new SeriesBuffer()
    this.#hostCpu = new SeriesBuffer()
    // A fresh chart per job: its lines share the new buffers
    this.#chart?.destroy()
    this.#chart = null
    $('#job-chart-legend').innerHTML = ''
    $('#job-title').textContent = id
    void this.#loadAudit(id)
  }

  close(): void {
    this.#job = null
  }

  /** The stream's parameters for the job's topic: the last lines a fresh stream opens with. */
  static readonly TAIL = String(Math.min(KEEP_LINES, 10_000))

  /** A `job` event of the job shown. */
  onJob(job: Job): void {
    this.#show(job)
  }

  /** A `log` event of the job shown. */
  onLog(ev: LogEvent): void {
    this.#append(ev)
  }

  /** The host's CPU from the dashboard's stream, drawn under the job's own. */
  onHostCpu(ts: number, pct: number): void {
    if (!this.#job) return
    this.#hostCpu.push(ts, pct)
    this.#drawChart()
  }

  #drawChart(): void {
    if (!this.#job) return
    if (!this.#chart) {
      this.#chart = createChart($<HTMLCanvasElement>('#job-chart'), $('#job-chart-legend'), '%')
      this.#chart.addSeries('job', 'job processes', this.#jobCpu)
      this.#chart.addSeries('host', 'host', this.#hostCpu)
    }
    const end = this.#job.finishedAt ?? Date.now()
    const start = this.#job.startedAt ?? this.#job.createdAt
    this.#chart.render(end, Math.max(60_000, end - start + 5000))
  }

  async #loadChart(job: Job): Promise<void> {
    const from = job.startedAt ?? job.createdAt
    const q = (metric: string) =>
      `/api/series?metric=${metric}&host=${encodeURIComponent(job.host)}&from=${from}&points=1000`
    const [mine, host] = await Promise.all([fetch(q(`job.${job.id}.cpu_pct`)), fetch(q('cpu.usage_pct'))])
    if (mine.ok) {
      const r = (await mine.json()) as SeriesResponse
      this.#jobCpu.setHistory(r.points, r.to)
    }
    if (host.ok) {
      const r = (await host.json()) as SeriesResponse
      this.#hostCpu.setHistory(r.points, r.to)
    }
    this.#drawChart()
  }

  #show(job: Job): void {
    const first = this.#job === null
    this.#job = job
    if (first) void this.#loadChart(job)
    if (job.resources) this.#jobCpu.push(job.resources.at, job.resources.cpuPct)
    this.#drawChart()
    $('#job-title').textContent = job.name
    const p = percentOf(job)
    const step = job.progress.step
      ? ` · step ${job.progress.step.index}/${job.progress.step.count} ${job.progress.step.name}`
      : ''
    const eta = job.progress.etaMs !== null && !FINAL.has(job.state) ? ` · ETA ${duration(job.progress.etaMs)}` : ''
    const exit = job.exitCode === null ? '' : ` · exit ${job.exitCode}`
    const dropped = job.log.dropped > 0 ? ` · ${job.log.dropped} lines dropped by retention` : ''
    $('#job-summary').textContent =
      `${job.state} · ${p === null ? 'progress unknown' : `${p.toFixed(1)}%`}${step}${eta}${exit}${dropped}`
    const r = job.resources
    $('#job-resources').textContent = r
      ? `Processes: ${r.cpuPct.toFixed(1)}% CPU, ${formatBytes(r.rssBytes)} resident, at ${new Date(r.at).toLocaleTimeString()}`
      : 'No resource readings yet (vigil run measures every 2 s on Linux).'
    $('#job-summary').dataset.state = job.state
    $('#job-bar').style.width = `${p ?? 0}%`
    const live = !FINAL.has(job.state)
    $<HTMLButtonElement>('#job-cancel').disabled = !this.#canCommand || !live || job.state === 'cancelling'
    $<HTMLButtonElement>('#job-retry').disabled = !this.#canCommand || live
  }

  #append(ev: LogEvent): void {
    // A window around a search match holds older lines: the live ones come back with "jump to live"
    if (this.#windowed) return
    const last = this.#lines.at(-1)?.seq ?? 0
    const q = $<HTMLInputElement>('#job-search').value.toLowerCase()
    const matched = this.#matches.size
    for (const l of ev.lines) {
      if (l.seq <= last) continue
      this.#lines.push(l)
      if (q && l.text.toLowerCase().includes(q)) this.#matches.add(l.seq)
    }
    if (this.#matches.size !== matched) this.#showCount()
    if (this.#lines.length > KEEP_LINES) this.#lines.splice(0, this.#lines.length - KEEP_LINES)
    this.#draw()
  }

  /** Holds the lines the hub answers for `after`/`limit` instead of those held, and draws them. */
  async #loadLines(after: number, limit: number): Promise<boolean> {
    if (!this.#job) return false
    const res = await fetch(`/api/jobs/${encodeURIComponent(this.#job.id)}/logs?after=${after}&limit=${limit}`)
    if (!res.ok) return false
    this.#lines = ((await res.json()) as { lines: LogLine[] }).lines
    return true
  }

  /** Back to the live end after a jump: the last lines, as the page opened with, then live ones again. */
  async #loadEnd(): Promise<void> {
    const total = this.#job?.log.lines ?? 0
    if (await this.#loadLines(Math.max(0, total - WINDOW_LINES), WINDOW_LINES)) this.#windowed = false
    this.#draw()
  }

  /** Draws only the lines in view, once per frame. */
  #draw(): void {
    if (this.#drawQueued) return
    this.#drawQueued = true
    requestAnimationFrame(() => {
      this.#drawQueued = false
      const log = $('#job-log')
      const space = log.querySelector('.log-space') as HTMLElement
      space.style.height = `${this.#lines.length * LINE_PX}px`
      if (this.#follow) log.scrollTop = log.scrollHeight
      const first = Math.max(0, Math.floor(log.scrollTop / LINE_PX) - 20)
      const count = Math.ceil(log.clientHeight / LINE_PX) + 40
      const html = this.#lines
        .slice(first, first + count)
        .map((l) => {
          const cls = `log-line ${l.stream}${this.#matches.has(l.seq) ? ' match' : ''}`
          return `<div class="${cls}" data-seq="${l.seq}">${esc(l.text)}${l.cut ? ' <em>[cut]</em>' : ''}</div>`
        })
        .join('')
      const box = log.querySelector('.log-lines') as HTMLElement
      box.style.top = `${first * LINE_PX}px`
      box.innerHTML = html
    })
  }

  /**
   * Searches the whole stored log on the hub (not only the lines held), marks the matches, and shows the first
   * one: scrolled to if held, else in a window of lines read around it.
   */
  async #search(): Promise<void> {
    const run = ++this.#searchRun
    const q = $<HTMLInputElement>('#job-search').value
    if (q === '' || !this.#job) {
      this.#matches = new Set()
      $('#job-search-count').textContent = ''
      this.#draw()
      return
    }
    const res = await fetch(
      `/api/jobs/${encodeURIComponent(this.#job.id)}/logs?q=${encodeURIComponent(q)}&limit=${SEARCH_LIMIT}`,
    )
    if (run !== this.#searchRun || !res.ok) return
    const found = ((await res.json()) as { lines: LogLine[] }).lines
    this.#matches = new Set(found.map((l) => l.seq))
    this.#showCount()
    const first = found[0]
    if (first !== undefined) {
      this.#follow = false
      $('#job-live').hidden = false
      let at = this.#lines.findIndex((l) => l.seq === first.seq)
      if (at < 0) {
        // Far outside what is held: read a window around it
        await this.#loadLines(Math.max(0, first.seq - WINDOW_LINES / 2), WINDOW_LINES)
        if (run !== this.#searchRun) return
        this.#windowed = true
        at = this.#lines.findIndex((l) => l.seq === first.seq)
      }
      const log = $('#job-log')
      ;(log.querySelector('.log-space') as HTMLElement).style.height = `${this.#lines.length * LINE_PX}px`
      log.scrollTop = Math.max(0, at) * LINE_PX
    }
    this.#draw()
  }

  #showCount(): void {
    const n = this.#matches.size
    $('#job-search-count').textContent = `${n >= SEARCH_LIMIT ? `${SEARCH_LIMIT}+` : n} matches in the whole log`
  }

  async #cancel(): Promise<void> {
    if (!this.#job) return
    const reason = prompt(`Cancel ${this.#job.name}? Reason:`)
    if (reason === null) return
    await this.#command({
      type: 'job.cancel',
      jobId: this.#job.id,
      ...(reason.trim() ? { reason: reason.trim() } : {}),
    })
  }

  async #command(
    cmd: { type: 'job.cancel'; jobId: string; reason?: string } | { type: 'job.retry'; jobId: string },
  ): Promise<void> {
    const out = $('#job-result')
    if (!this.#control) return
    out.dataset.kind = 'pending'
    out.textContent = `Sending ${cmd.type}…`
    try {
      await this.#control.request(cmd)
      out.dataset.kind = 'ok'
      out.textContent = `${cmd.type} accepted`
      void this.#loadAudit(cmd.jobId)
    } catch (err) {
      const e = err instanceof CommandFailed ? err : new CommandFailed('internal', String(err))
      out.dataset.kind = 'error'
      out.textContent = `${cmd.type} failed: ${e.message} (${e.code})`
    }
  }

  async #loadAudit(id: string): Promise<void> {
    const list = $('#job-audit')
    if (!this.#canCommand) {
      list.innerHTML = '<li>Operators and admins see the audit trail.</li>'
      return
    }
    const res = await fetch('/api/audit?limit=1000')
    if (!res.ok) return
    const { entries } = (await res.json()) as { entries: AuditEntry[] }
    const mine = entries.filter((e) => (e.args as { jobId?: string } | null)?.jobId === id)
    list.innerHTML = mine.length
      ? mine
          .map((e) => {
            const reason = (e.args as { reason?: string }).reason
            return `<li>${new Date(e.ts).toLocaleString()} · ${esc(e.actor)} · ${esc(e.command)}${reason ? ` (“${esc(reason)}”)` : ''} · ${e.outcome}</li>`
          })
          .join('')
      : '<li>No commands yet.</li>'
  }
}
