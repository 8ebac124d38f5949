import type { AuditEntry, Identity, Job, LogEvent, LogLine, SeriesResponse } from '../../../server/protocol/index.ts'
import { createChart, type StreamingChart } from '../charts/chart.ts'
import { SeriesBuffer } from '../charts/series.ts'
import type { ControlSocket } from '../control.ts'
import { CommandFailed } from '../control.ts'
import { $, debounced, esc } from '../dom.ts'
import { formatBytes } from '../format.ts'
import { LogView } from './log.ts'

/** Matches the hub is asked for at most. */
const SEARCH_LIMIT = 1000
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
 * One job: its progress, its whole log in a virtualized view that follows the end until you scroll up, search
 * across the whole stored log, cancel and retry for operators, and the job's audit trail. Its `job` and `log`
 * events come from the page's one stream, on `job:<id>`.
 */
export class JobView {
  #job: Job | null = null
  readonly #log: LogView
  #searchRun = 0
  readonly #canCommand: boolean
  readonly #control: ControlSocket | null
  #chart: StreamingChart | null = null
  #jobCpu = new SeriesBuffer()
  #hostCpu = new SeriesBuffer()

  constructor(me: Identity, control: ControlSocket | null) {
    this.#canCommand = me.role === 'operator' || me.role === 'admin'
    this.#control = control
    this.#log = new LogView(
      $('#job-log'),
      async (after, limit) => {
        if (!this.#job) return null
        const res = await fetch(`/api/jobs/${encodeURIComponent(this.#job.id)}/logs?after=${after}&limit=${limit}`)
        return res.ok ? ((await res.json()) as { lines: LogLine[] }).lines : null
      },
      (following) => {
        $('#job-live').hidden = following
      },
    )
    $('#job-live').addEventListener('click', () => this.#log.follow())
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
    this.#log.reset()
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
  static readonly TAIL = '10000'

  /** A `job` event of the job shown. */
  onJob(job: Job): void {
    this.#show(job)
  }

  /** A `log` event of the job shown. */
  onLog(ev: LogEvent): void {
    const q = $<HTMLInputElement>('#job-search').value.toLowerCase()
    const before = this.#log.matches
    this.#log.append(ev.lines, q ? (l) => l.text.toLowerCase().includes(q) : undefined)
    if (this.#log.matches !== before) this.#showCount()
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
    this.#log.grow(job.log.lines)
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

  /**
   * Searches the whole stored log on the hub (not only the lines held), marks the matches, and scrolls to the
   * first one, wherever it is in the log.
   */
  async #search(): Promise<void> {
    const run = ++this.#searchRun
    const q = $<HTMLInputElement>('#job-search').value
    if (q === '' || !this.#job) {
      this.#log.setMatches(new Set())
      $('#job-search-count').textContent = ''
      return
    }
    const res = await fetch(
      `/api/jobs/${encodeURIComponent(this.#job.id)}/logs?q=${encodeURIComponent(q)}&limit=${SEARCH_LIMIT}`,
    )
    if (run !== this.#searchRun || !res.ok) return
    const found = ((await res.json()) as { lines: LogLine[] }).lines
    this.#log.setMatches(new Set(found.map((l) => l.seq)))
    this.#showCount()
    const first = found[0]
    if (first !== undefined) this.#log.show(first.seq)
  }

  #showCount(): void {
    const n = this.#log.matches
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
