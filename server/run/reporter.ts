import type { HeartbeatBody, HeartbeatReply, Job, LogLineIn, ProgressUpdate } from '../protocol/index.ts'

const RETRY_BASE_MS = 250
const RETRY_CAP_MS = 5000
/** Most bytes and line objects per request when a backlog of batches is merged: the hub's limits. */
const MAX_BODY_BYTES = 1024 * 1024 - 1024
const MAX_BODY_OBJECTS = 10_000
/**
 * While the hub answers, at most this much encoded log waits to be sent: past it the runner stops reading the
 * command's output until the hub caught up, so a line reaches the hub within a fraction of a second of being
 * printed rather than queueing for seconds behind a backlog. While the hub is unreachable it all waits here.
 */
const MAX_BACKLOG_BYTES = 512 * 1024

type Op =
  /** `json` is the lines encoded once, without the array's brackets; `bytes` its UTF-8 size. */
  | { kind: 'logs'; batch: number; lines: LogLineIn[]; json: string; bytes: number }
  | { kind: 'progress'; update: ProgressUpdate }
  | { kind: 'finish'; state: 'succeeded' | 'failed' | 'cancelled'; exitCode: number | null }

/** A request the hub refused for good (4xx): retrying cannot help. */
class Refused extends Error {}

/**
 * Reports one job to a hub in order: creation, log batches, progress, the finish. Every request is retried
 * with capped backoff while the hub is unreachable, so nothing is lost; log batches carry their number, so a
 * retry of a batch the hub already stored is not stored twice.
 */
export class Reporter {
  readonly #url: string
  readonly #token: string | undefined
  readonly #queue: Op[] = []
  readonly #log: (msg: string) => void
  #jobId: string | null = null
  #draining: Promise<void> | null = null
  #batch = 0
  #stopped = false
  /** Whether the last request reached the hub. */
  #reachable = true
  #backlogBytes = 0
  #relieved: (() => void)[] = []

  constructor(url: string, token: string | undefined, log: (msg: string) => void, jobId: string | null = null) {
    this.#url = url.replace(/\/+$/, '')
    this.#token = token
    this.#log = log
    this.#jobId = jobId
  }

  /** A reporter for another job on the same hub, such as the retry of this one. */
  forJob(jobId: string): Reporter {
    return new Reporter(this.#url, this.#token, this.#log, jobId)
  }

  get jobId(): string | null {
    return this.#jobId
  }

  /** A request with a JSON body, or one encoded already (`encoded`), retried until the hub answers. */
  async #request(method: string, path: string, body?: unknown, encoded?: string): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      if (this.#stopped) throw new Refused('reporter stopped')
      try {
        const res = await fetch(`${this.#url}${path}`, {
          method,
          headers: {
            'content-type': 'application/json',
            ...(this.#token ? { authorization: `Bearer ${this.#token}` } : {}),
          },
          ...(encoded !== undefined ? { body: encoded } : body === undefined ? {} : { body: JSON.stringify(body) }),
        })
        this.#setReachable(true)
        if (res.ok) return res.json()
        const text = await res.text()
        if (res.status >= 400 && res.status < 500) throw new Refused(`${method} ${path}: ${res.status} ${text}`)
      } catch (err) {
        if (err instanceof Refused) throw err
        this.#setReachable(false)
        if (attempt === 0) this.#log(`vigil run: hub unreachable (${(err as Error).message}); buffering and retrying`)
      }
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** Math.min(attempt, 5))),
      )
    }
  }

  /** Creates the job, waiting (and retrying) until the hub answers. */
  async create(name: string, command: string[]): Promise<Job> {
    const job = (await this.#request('POST', '/api/jobs', { name, command })) as Job
    this.#jobId = job.id
    this.#kick()
    return job
  }

  logs(lines: LogLineIn[]): void {
    if (lines.length === 0 || this.#stopped) return
    const json = lines.map((l) => JSON.stringify(l)).join(',')
    const bytes = Buffer.byteLength(json)
    this.#backlogBytes += bytes
    this.#enqueue({ kind: 'logs', batch: this.#batch++, lines, json, bytes })
  }

  /** Whether the output should wait: the hub answers, but more than the backlog allows is still to send. */
  get congested(): boolean {
    return !this.#stopped && this.#reachable && this.#jobId !== null && this.#backlogBytes > MAX_BACKLOG_BYTES
  }

  /** Resolves once the output need not wait any more (see `congested`). */
  relieved(): Promise<void> {
    if (!this.congested) return Promise.resolve()
    return new Promise((resolve) => this.#relieved.push(resolve))
  }

  #setReachable(reachable: boolean): void {
    this.#reachable = reachable
    this.#relieve()
  }

  #relieve(): void {
    if (this.congested || this.#relieved.length === 0) return
    for (const resolve of this.#relieved.splice(0)) resolve()
  }

  progress(update: ProgressUpdate): void {
    this.#enqueue({ kind: 'progress', update })
  }

  finish(state: 'succeeded' | 'failed' | 'cancelled', exitCode: number | null): void {
    this.#enqueue({ kind: 'finish', state, exitCode })
  }

  /** Asks the hub whether someone wants the job stopped; null when the hub cannot be reached right now. */
  async heartbeat(resources: HeartbeatBody | null): Promise<HeartbeatReply | null> {
    if (!this.#jobId) return null
    try {
      const res = await fetch(`${this.#url}/api/jobs/${this.#jobId}/heartbeat`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(this.#token ? { authorization: `Bearer ${this.#token}` } : {}),
        },
        body: JSON.stringify(resources ?? {}),
      })
      return res.ok ? ((await res.json()) as HeartbeatReply) : null
    } catch {
      return null
    }
  }

  #enqueue(op: Op): void {
    this.#queue.push(op)
    this.#kick()
  }

  #kick(): void {
    if (!this.#jobId) return
    this.#draining ??= this.#drain().finally(() => {
      this.#draining = null
    })
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && this.#jobId) {
      const op = this.#queue[0] as Op
      const base = `/api/jobs/${this.#jobId}`
      try {
        if (op.kind === 'logs') {
          // A backlog goes as one request: consecutive batches merged, numbered by the last, so a retry of the
          // merged request is still recognised as already stored
          let n = 1
          let bytes = op.bytes + 2
          let objects = op.lines.length
          for (
            let next = this.#queue[n];
            next?.kind === 'logs' &&
            bytes + next.bytes + 1 <= MAX_BODY_BYTES &&
            objects + next.lines.length <= MAX_BODY_OBJECTS;
            next = this.#queue[++n]
          ) {
            bytes += next.bytes + 1
            objects += next.lines.length
          }
          const merged = this.#queue.slice(0, n) as Extract<Op, { kind: 'logs' }>[]
          const body = `[${merged.map((o) => o.json).join(',')}]`
          await this.#request(
            'POST',
            `${base}/logs?batch=${(merged.at(-1) as (typeof merged)[0]).batch}`,
            undefined,
            body,
          )
          this.#queue.splice(0, n - 1)
          for (const o of merged.slice(0, -1)) this.#backlogBytes -= o.bytes
        } else if (op.kind === 'progress') await this.#request('POST', `${base}/progress`, op.update)
        else
          await this.#request('POST', `${base}/finish`, {
            state: op.state,
            ...(op.exitCode === null ? {} : { exitCode: op.exitCode }),
          })
      } catch (err) {
        if (!(err instanceof Refused)) throw err
        if (this.#stopped) return
        this.#log(`vigil run: the hub refused a report: ${err.message}`)
      }
      const done = this.#queue.shift()
      if (done?.kind === 'logs') this.#backlogBytes -= done.bytes
      this.#relieve()
    }
  }

  /** Sends what is queued; resolves when everything reached the hub (or was refused). */
  async flushed(): Promise<void> {
    while (!this.#stopped && (this.#queue.length > 0 || this.#draining)) {
      this.#kick()
      await (this.#draining ?? new Promise((resolve) => setTimeout(resolve, 50)))
    }
  }

  /** Gives up on what is still queued. */
  stop(): void {
    this.#stopped = true
    this.#relieve()
  }
}
