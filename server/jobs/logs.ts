import { and, asc, desc, eq, gt, lte, sql } from 'drizzle-orm'
import { jobLogs, jobs } from '../../db/schema.ts'
import type { LogLine, LogLineIn } from '../protocol/index.ts'
import type { Db } from '../store/index.ts'

/** A line longer than this is cut and marked. */
export const MAX_LINE_BYTES = 16 * 1024

/** A log line as the API returns it: every column but the job id. */
const LINE_COLUMNS = {
  seq: jobLogs.seq,
  ts: jobLogs.ts,
  stream: jobLogs.stream,
  level: jobLogs.level,
  text: jobLogs.text,
  cut: jobLogs.cut,
}

/** Splits raw text into real lines (LF, CRLF or CR), cutting any over 16 KiB. */
export function splitLines(text: string): { text: string; cut: boolean }[] {
  const parts = text.split(/\r\n|\r|\n/)
  if (parts.length > 1 && parts.at(-1) === '') parts.pop()
  return parts.map((p) => {
    if (Buffer.byteLength(p) <= MAX_LINE_BYTES) return { text: p, cut: false }
    let cut = p.slice(0, MAX_LINE_BYTES)
    while (Buffer.byteLength(cut) > MAX_LINE_BYTES) cut = cut.slice(0, -1)
    return { text: cut, cut: true }
  })
}

/** What the log needs of its job's row. */
interface LogState {
  id: string
  logLines: number
  logDropped: number
  lastBatch: number
}

/** Job log storage: seq numbers, batch de-duplication, head + tail retention. */
export class JobLogs {
  readonly #db: Db
  readonly #keepHead: number
  readonly #keepTail: number
  readonly #insertLine

  constructor(db: Db, opts: { keepHead: number; keepTail: number }) {
    this.#db = db
    this.#keepHead = opts.keepHead
    this.#keepTail = opts.keepTail
    // The ingest hot path: one prepared statement, run once per line inside the batch's transaction
    this.#insertLine = db.db
      .insert(jobLogs)
      .values({
        jobId: sql.placeholder('jobId'),
        seq: sql.placeholder('seq'),
        ts: sql.placeholder('ts'),
        stream: sql.placeholder('stream'),
        level: sql.placeholder('level'),
        text: sql.placeholder('text'),
        cut: sql.placeholder('cut'),
      })
      .prepare()
  }

  /**
   * Stores one client batch. A batch number not above the last one seen is a retry: acknowledged, not stored
   * again. Lines get the job's next seq numbers; the middle of an over-long log is dropped and counted.
   */
  append(job: LogState, batch: number, input: LogLineIn[]): { duplicate: boolean; lines: LogLine[]; lastSeq: number } {
    if (batch <= job.lastBatch) return { duplicate: true, lines: [], lastSeq: job.logLines }
    const now = Date.now()
    const lines: LogLine[] = []
    let seq = job.logLines
    for (const l of input) {
      for (const part of splitLines(l.text)) {
        lines.push({
          seq: ++seq,
          ts: l.ts ?? now,
          stream: l.stream,
          level: l.level ?? null,
          text: part.text,
          cut: part.cut,
        })
      }
    }
    let dropped = job.logDropped
    this.#db.sqlite.transaction(() => {
      for (const l of lines) this.#insertLine.run({ jobId: job.id, ...l })
      // Keep the first keepHead lines and the last keepTail: drop what falls between
      const dropTo = seq - this.#keepTail
      if (dropTo > this.#keepHead) {
        const res = this.#db.db
          .delete(jobLogs)
          .where(and(eq(jobLogs.jobId, job.id), gt(jobLogs.seq, this.#keepHead), lte(jobLogs.seq, dropTo)))
          .run()
        dropped += res.changes
      }
      this.#db.db
        .update(jobs)
        .set({ logLines: seq, logDropped: dropped, lastBatch: batch, heartbeatAt: now })
        .where(eq(jobs.id, job.id))
        .run()
    })()
    return { duplicate: false, lines, lastSeq: seq }
  }

  /** Lines after `after`, with a `dropped` count when the retention gap lies in the range asked for. */
  read(
    job: LogState,
    after: number,
    limit: number,
  ): { lines: LogLine[]; dropped: { after: number; count: number } | null } {
    const lines = this.#db.db
      .select(LINE_COLUMNS)
      .from(jobLogs)
      .where(and(eq(jobLogs.jobId, job.id), gt(jobLogs.seq, after)))
      .orderBy(asc(jobLogs.seq))
      .limit(limit)
      .all()
    const first = lines[0]?.seq
    const gap = job.logDropped > 0 && first !== undefined && first > after + 1
    return { lines, dropped: gap ? { after: first - 1 - job.logDropped, count: job.logDropped } : null }
  }

  /** The last `n` lines, oldest first. */
  tail(jobId: string, n: number): LogLine[] {
    return this.#db.db
      .select(LINE_COLUMNS)
      .from(jobLogs)
      .where(eq(jobLogs.jobId, jobId))
      .orderBy(desc(jobLogs.seq))
      .limit(n)
      .all()
      .reverse()
  }
}
