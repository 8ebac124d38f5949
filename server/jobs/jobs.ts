import { randomBytes } from 'node:crypto'
import { and, desc, eq, inArray, like, sql } from 'drizzle-orm'
import type { HubBus } from '../bus/index.ts'
import { AppError } from '../errors.ts'
import {
  FINAL_JOB_STATES,
  type HeartbeatBody,
  type HeartbeatReply,
  type Job,
  type JobState,
  type LogEvent,
  type LogLine,
  type LogLineIn,
  type NewJob,
  type Progress,
  type ProgressUpdate,
} from '../protocol/index.ts'
import { keyedSerial } from '../serial.ts'
import type { Sql, Tables } from '../store/index.ts'
import { type EtaState, nextEta } from './eta.ts'
import { JobLogs, logEvents } from './logs.ts'

/** `jobs` topic summaries per job: at most one per this many ms (4 per second). */
const SUMMARY_EVERY_MS = 250
/** A runner that heartbeats a finished job within this long is waiting for a retry. */
const RUNNER_WAITING_MS = 6000

export interface JobsOptions {
  host: string
  /** Lines kept from the start of each job's log, and from its end. */
  keepHead: number
  keepTail: number
  /** A running job without a heartbeat for this long is `lost`. */
  heartbeatTimeoutMs: number
  /** Stores a job's resource samples as metrics (`job.<id>.cpu_pct`, `job.<id>.rss_bytes`) of its host. */
  record(host: string, ts: number, values: Record<string, number>): void
}

type Row = Tables['jobs']['$inferSelect']

const EMPTY_PROGRESS: Progress = {
  percent: null,
  current: null,
  total: null,
  unit: null,
  step: null,
  message: null,
  etaMs: null,
}

function toJob(r: Row): Job {
  return {
    id: r.id,
    name: r.name,
    labels: JSON.parse(r.labels),
    host: r.host,
    attempt: r.attempt,
    retryOf: r.retryOf,
    state: r.state,
    progress: JSON.parse(r.progress),
    createdAt: r.createdAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    heartbeatAt: r.heartbeatAt,
    exitCode: r.exitCode,
    error: r.error,
    cancelRequested: r.cancelRequested ? JSON.parse(r.cancelRequested) : null,
    resources: r.resources ? JSON.parse(r.resources) : null,
    retriedAs: r.retriedAs,
    log: { lines: r.logLines, dropped: r.logDropped },
  }
}

/**
 * Jobs and their logs: the state machine, progress that never goes backwards, a server-side ETA, per-job log
 * sequence numbers with batch de-duplication and head+tail retention, and the `jobs` / `job:<id>` events.
 */
export class Jobs {
  readonly #sql: Sql
  readonly #bus: HubBus
  readonly #opts: JobsOptions
  readonly #eta = new Map<string, EtaState>()
  readonly #summaryAt = new Map<string, number>()
  readonly #summaryTimers = new Map<string, NodeJS.Timeout>()

  readonly #logs: JobLogs
  /** Each job's changes, one after another: every change reads the row, then writes it. */
  readonly #serial = keyedSerial()

  constructor(sql: Sql, bus: HubBus, opts: JobsOptions) {
    this.#sql = sql
    this.#bus = bus
    this.#opts = opts
    this.#logs = new JobLogs(sql, opts)
  }

  /** Runs a change of job `id` after the ones before it. */
  #change<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.#serial(id, fn)
  }

  async #find(id: string): Promise<Row | undefined> {
    const { jobs } = this.#sql.t
    const [row] = await this.#sql.db.select().from(jobs).where(eq(jobs.id, id))
    return row
  }

  async #row(id: string): Promise<Row> {
    const row = await this.#find(id)
    if (!row) throw new AppError('not_found', `No job ${id}`)
    return row
  }

  async #set(id: string, set: Partial<Row>): Promise<void> {
    const { jobs } = this.#sql.t
    await this.#sql.db.update(jobs).set(set).where(eq(jobs.id, id))
  }

  async get(id: string): Promise<Job> {
    return toJob(await this.#row(id))
  }

  /** The token that created a job, for the owner-only rule. */
  async ownerOf(id: string): Promise<number | null> {
    return (await this.#row(id)).ownerTokenId
  }

  async list(filter: { state?: JobState; name?: string; limit: number }): Promise<Job[]> {
    const { jobs } = this.#sql.t
    const where = and(
      filter.state ? eq(jobs.state, filter.state) : undefined,
      filter.name ? like(jobs.name, `%${filter.name.replace(/[%_\\]/g, (c) => `\\${c}`)}%`) : undefined,
    )
    const rows = await this.#sql.db.select().from(jobs).where(where).orderBy(desc(jobs.createdAt)).limit(filter.limit)
    return rows.map(toJob)
  }

  async create(input: NewJob, ownerTokenId: number | null): Promise<Job> {
    const { jobs } = this.#sql.t
    const now = Date.now()
    const id = `j${randomBytes(6).toString('hex')}`
    let attempt = 1
    if (input.retryOf) attempt = (await this.#row(input.retryOf)).attempt + 1
    await this.#sql.db.insert(jobs).values({
      id,
      name: input.name,
      labels: JSON.stringify(input.labels),
      host: input.host ?? this.#opts.host,
      attempt,
      retryOf: input.retryOf ?? null,
      state: input.queued ? 'queued' : 'running',
      progress: JSON.stringify(EMPTY_PROGRESS),
      ownerTokenId,
      command: input.command ? JSON.stringify(input.command) : null,
      createdAt: now,
      startedAt: input.queued ? null : now,
      heartbeatAt: now,
      logLines: 0,
      logDropped: 0,
      lastBatch: -1,
    })
    return this.#changed(id, true)
  }

  #assertNotFinal(row: Row): void {
    if (FINAL_JOB_STATES.includes(row.state)) throw new AppError('conflict', `Job ${row.id} is ${row.state} already`)
  }

  progress(id: string, update: ProgressUpdate): Promise<Job> {
    return this.#change(id, () => this.#progress(id, update))
  }

  async #progress(id: string, update: ProgressUpdate): Promise<Job> {
    const row = await this.#row(id)
    this.#assertNotFinal(row)
    const prev = JSON.parse(row.progress) as Progress
    const now = Date.now()
    const current = update.current ?? prev.current
    const total = update.total ?? prev.total
    let percent = update.percent === undefined ? prev.percent : update.percent
    if (update.percent === undefined && current !== null && total !== null && total > 0) {
      percent = Math.min(100, (current / total) * 100)
    }
    // Percent never goes backwards; null (indeterminate) only when nothing was known yet
    if (percent !== null && prev.percent !== null) percent = Math.max(percent, prev.percent)
    if (percent === null && prev.percent !== null) percent = prev.percent
    const eta = nextEta(this.#eta.get(id) ?? null, percent, now)
    if (eta.state) this.#eta.set(id, eta.state)
    const progress: Progress = {
      percent,
      current,
      total,
      unit: update.unit ?? prev.unit,
      step: update.step ?? prev.step,
      message: update.message ?? prev.message,
      etaMs: eta.etaMs,
    }
    const state: JobState = row.state === 'queued' ? 'running' : row.state
    await this.#set(id, {
      progress: JSON.stringify(progress),
      state,
      startedAt: row.startedAt ?? now,
      heartbeatAt: now,
    })
    return this.#changed(id, state !== row.state)
  }

  /**
   * Appends one client batch of lines (see JobLogs.append) and sends them to the job's stream as one `log` event.
   */
  appendLogs(
    id: string,
    batch: number,
    input: LogLineIn[],
  ): Promise<{ duplicate: boolean; lines: number; lastSeq: number }> {
    return this.#change(id, async () => {
      const r = await this.#logs.append(await this.#row(id), batch, input)
      for (const event of logEvents(id, r.lines)) this.#bus.publish(`job:${id}`, 'log', event)
      return { duplicate: r.duplicate, lines: r.lines.length, lastSeq: r.lastSeq }
    })
  }

  /**
   * Lines after `after`, with a `dropped` count when the retention gap lies in the range asked for; with `q`, only
   * those containing it (the search runs over every stored line, not what a client has loaded).
   */
  async logs(id: string, after: number, limit: number, q?: string): Promise<Awaited<ReturnType<JobLogs['read']>>> {
    const job = await this.#row(id)
    return q === undefined ? this.#logs.read(job, after, limit) : this.#logs.search(job, q, after, limit)
  }

  /** The last `n` lines, for a `job:<id>` stream that opens without resuming. */
  tail(id: string, n: number): Promise<LogLine[]> {
    return this.#logs.tail(id, n)
  }

  /** What a fresh `job:<id>` stream opens with: the job as it is, then its last `tail` lines. */
  async snapshot(topic: string, tail: number): Promise<{ event: string; data: unknown }[]> {
    if (!topic.startsWith('job:')) return []
    const id = topic.slice(4)
    const row = await this.#find(id)
    if (!row) return []
    const lines = tail > 0 ? await this.tail(id, tail) : []
    // Always a log event, empty when there are no lines to show, so a client knows the tail is all there
    const events: LogEvent[] = lines.length > 0 ? logEvents(id, lines) : [{ jobId: id, lines: [] }]
    return [{ event: 'job', data: toJob(row) }, ...events.map((data) => ({ event: 'log', data }))]
  }

  /**
   * Records a heartbeat, with the process tree's resources when the runner measured them; answers whether
   * someone asked the job to stop.
   */
  heartbeat(id: string, body: HeartbeatBody = {}): Promise<HeartbeatReply> {
    return this.#change(id, () => this.#heartbeat(id, body))
  }

  async #heartbeat(id: string, body: HeartbeatBody): Promise<HeartbeatReply> {
    const row = await this.#row(id)
    const now = Date.now()
    const { cpuPct, rssBytes } = body
    const resources =
      cpuPct !== undefined && rssBytes !== undefined && !FINAL_JOB_STATES.includes(row.state)
        ? { cpuPct, rssBytes, at: now }
        : null
    await this.#set(id, { heartbeatAt: now, ...(resources ? { resources: JSON.stringify(resources) } : {}) })
    if (resources) {
      this.#opts.record(row.host, now, {
        [`job.${id}.cpu_pct`]: resources.cpuPct,
        [`job.${id}.rss_bytes`]: resources.rssBytes,
      })
      await this.#changed(id, false)
    }
    return {
      cancelRequested: row.cancelRequested ? JSON.parse(row.cancelRequested) : null,
      retry: row.retriedAs ? { jobId: row.retriedAs } : null,
    }
  }

  /**
   * Retries a finished job run by `vigil run` whose runner still waits (heartbeats after the end): a new queued
   * job, attempt + 1, with the same command and owner, which that runner picks up from its next heartbeat.
   */
  retry(id: string): Promise<Job> {
    return this.#change(id, () => this.#retry(id))
  }

  async #retry(id: string): Promise<Job> {
    const row = await this.#row(id)
    if (!FINAL_JOB_STATES.includes(row.state)) {
      throw new AppError('conflict', `Job ${id} is ${row.state}: only a finished job can be retried`)
    }
    if (row.retriedAs) throw new AppError('conflict', `Job ${id} was retried already, as ${row.retriedAs}`)
    const waiting = row.command !== null && row.heartbeatAt !== null && row.heartbeatAt > (row.finishedAt ?? 0)
    if (!waiting || Date.now() - (row.heartbeatAt ?? 0) > RUNNER_WAITING_MS) {
      throw new AppError(
        'conflict',
        `No runner is waiting to retry job ${id}: start vigil run with --wait-retry, or run it again`,
      )
    }
    const next = await this.create(
      {
        name: row.name,
        labels: JSON.parse(row.labels),
        host: row.host,
        queued: true,
        command: JSON.parse(row.command as string),
        retryOf: id,
      },
      row.ownerTokenId,
    )
    await this.#set(id, { retriedAs: next.id })
    await this.#changed(id, false)
    return next
  }

  finish(
    id: string,
    outcome: { state: 'succeeded' | 'failed' | 'cancelled'; exitCode?: number; error?: string },
  ): Promise<Job> {
    return this.#change(id, async () => {
      this.#assertNotFinal(await this.#row(id))
      const now = Date.now()
      await this.#set(id, {
        state: outcome.state,
        exitCode: outcome.exitCode ?? null,
        error: outcome.error ?? null,
        finishedAt: now,
        heartbeatAt: now,
      })
      this.#eta.delete(id)
      return this.#changed(id, true)
    })
  }

  /** A cancel request from an operator: `cancelling` until the runner confirms with `cancelled`. */
  cancel(id: string, by: string, reason: string | null): Promise<Job> {
    return this.#change(id, () => this.#cancel(id, by, reason))
  }

  async #cancel(id: string, by: string, reason: string | null): Promise<Job> {
    const row = await this.#row(id)
    this.#assertNotFinal(row)
    if (row.state === 'cancelling') throw new AppError('conflict', `Job ${id} is being cancelled already`)
    const request = { by, at: Date.now(), reason }
    // A queued job has no runner yet: nothing needs to confirm, it is cancelled now
    const state: JobState = row.state === 'queued' ? 'cancelled' : 'cancelling'
    await this.#set(id, {
      state,
      cancelRequested: JSON.stringify(request),
      ...(state === 'cancelled' ? { finishedAt: request.at } : {}),
    })
    return this.#changed(id, true)
  }

  /** Marks running jobs whose heartbeat stopped as `lost`. */
  async checkLost(now: number): Promise<number> {
    const { jobs } = this.#sql.t
    const stale = await this.#sql.db
      .select({ id: jobs.id })
      .from(jobs)
      .where(
        and(
          inArray(jobs.state, ['running', 'cancelling']),
          sql`${jobs.heartbeatAt} < ${now - this.#opts.heartbeatTimeoutMs}`,
        ),
      )
    let lost = 0
    for (const { id } of stale) {
      // Looked at again in turn with the job's other changes: a heartbeat may have come in meanwhile
      const marked = await this.#change(id, async () => {
        const row = await this.#find(id)
        if (!row || !['running', 'cancelling'].includes(row.state)) return false
        if ((row.heartbeatAt ?? 0) >= now - this.#opts.heartbeatTimeoutMs) return false
        await this.#set(id, { state: 'lost', finishedAt: now })
        await this.#changed(id, true)
        return true
      })
      if (marked) lost++
    }
    return lost
  }

  /**
   * Announces a change: the full job on `job:<id>` every time, a summary on `jobs` at once for state changes and
   * at most four times a second per job for progress (the last one always goes out).
   */
  async #changed(id: string, stateChanged: boolean): Promise<Job> {
    const job = await this.get(id)
    this.#bus.publish(`job:${id}`, 'job', job)
    const now = Date.now()
    const last = this.#summaryAt.get(id) ?? 0
    const pending = this.#summaryTimers.get(id)
    if (stateChanged || now - last >= SUMMARY_EVERY_MS) {
      if (pending) clearTimeout(pending)
      this.#summaryTimers.delete(id)
      this.#summaryAt.set(id, now)
      this.#bus.publish('jobs', 'job', job)
    } else if (!pending) {
      this.#summaryTimers.set(
        id,
        setTimeout(
          () => {
            this.#summaryTimers.delete(id)
            this.#summaryAt.set(id, Date.now())
            this.get(id).then(
              (latest) => this.#bus.publish('jobs', 'job', latest),
              () => {},
            )
          },
          SUMMARY_EVERY_MS - (now - last),
        ),
      )
    }
    return job
  }

  close(): void {
    for (const t of this.#summaryTimers.values()) clearTimeout(t)
    this.#summaryTimers.clear()
  }
}
