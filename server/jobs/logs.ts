import { and, asc, desc, eq, gt, lte, sql } from 'drizzle-orm'
import { jobLogs, jobs } from '../../db/schema.ts'
import type { LogLine, LogLineIn } from '../protocol/index.ts'
import type { Sql } from '../store/index.ts'

/** A line longer than this is cut and marked. */
export const MAX_LINE_BYTES = 16 * 1024

/** A log line as the API returns it: every column but the job id. */
const lineColumns = (t: Sql['t']['jobLogs']) => ({
  seq: t.seq,
  ts: t.ts,
  stream: t.stream,
  level: t.level,
  text: t.text,
  cut: t.cut,
})

/**
 * One batch on PostgreSQL in one statement: its lines, the middle of the log dropped past the head and tail kept,
 * the job's counters; answers how many lines went.
 */
const PG_APPEND = `WITH ins AS (
    INSERT INTO job_logs (job_id, seq, ts, stream, level, text, cut)
    SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::boolean[])
  ), del AS (
    DELETE FROM job_logs WHERE job_id = $1 AND seq > $8 AND seq <= $9 RETURNING 1
  ), upd AS (
    UPDATE jobs SET log_lines = $10, log_dropped = $11 + (SELECT count(*) FROM del), last_batch = $12,
      heartbeat_at = $13 WHERE id = $1
  ) SELECT count(*)::int AS dropped FROM del`

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
  readonly #sql: Sql
  readonly #keepHead: number
  readonly #keepTail: number
  readonly #insertLine

  constructor(sql: Sql, opts: { keepHead: number; keepTail: number }) {
    this.#sql = sql
    this.#keepHead = opts.keepHead
    this.#keepTail = opts.keepTail
    // The ingest hot path on SQLite: one better-sqlite3 statement, run once per line inside the batch's
    // transaction (drizzle's prepared query maps every row's parameters first, at several times the cost)
    this.#insertLine = sql.sqlite?.sqlite.prepare<[string, number, number, string, string | null, string, number]>(
      'INSERT INTO job_logs (job_id, seq, ts, stream, level, text, cut) VALUES (?, ?, ?, ?, ?, ?, ?)',
    )
  }

  /**
   * Stores one client batch. A batch number not above the last one seen is a retry: acknowledged, not stored
   * again. Lines get the job's next seq numbers; the middle of an over-long log is dropped and counted.
   */
  async append(
    job: LogState,
    batch: number,
    input: LogLineIn[],
  ): Promise<{ duplicate: boolean; lines: LogLine[]; lastSeq: number }> {
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
    // Keep the first keepHead lines and the last keepTail: drop what falls between
    const dropTo = seq - this.#keepTail
    const { sqlite, pg } = this.#sql
    if (pg) {
      await pg.pool.query({
        name: 'vigil_log_append',
        text: PG_APPEND,
        values: [
          job.id,
          lines.map((l) => l.seq),
          lines.map((l) => l.ts),
          lines.map((l) => l.stream),
          lines.map((l) => l.level),
          lines.map((l) => l.text),
          lines.map((l) => l.cut),
          this.#keepHead,
          dropTo > this.#keepHead ? dropTo : this.#keepHead,
          seq,
          job.logDropped,
          batch,
          now,
        ],
      })
      return { duplicate: false, lines, lastSeq: seq }
    }
    let dropped = job.logDropped
    sqlite?.sqlite.transaction(() => {
      const insert = this.#insertLine
      if (insert) for (const l of lines) insert.run(job.id, l.seq, l.ts, l.stream, l.level, l.text, l.cut ? 1 : 0)
      if (dropTo > this.#keepHead) {
        const res = sqlite.db
          .delete(jobLogs)
          .where(and(eq(jobLogs.jobId, job.id), gt(jobLogs.seq, this.#keepHead), lte(jobLogs.seq, dropTo)))
          .run()
        dropped += res.changes
      }
      sqlite.db
        .update(jobs)
        .set({ logLines: seq, logDropped: dropped, lastBatch: batch, heartbeatAt: now })
        .where(eq(jobs.id, job.id))
        .run()
    })()
    return { duplicate: false, lines, lastSeq: seq }
  }

  /** Lines after `after`, with a `dropped` count when the retention gap lies in the range asked for. */
  async read(
    job: LogState,
    after: number,
    limit: number,
  ): Promise<{ lines: LogLine[]; dropped: { after: number; count: number } | null }> {
    const { jobLogs: t } = this.#sql.t
    const lines = await this.#sql.db
      .select(lineColumns(t))
      .from(t)
      .where(and(eq(t.jobId, job.id), gt(t.seq, after)))
      .orderBy(asc(t.seq))
      .limit(limit)
    const first = lines[0]?.seq
    const gap = job.logDropped > 0 && first !== undefined && first > after + 1
    return { lines, dropped: gap ? { after: first - 1 - job.logDropped, count: job.logDropped } : null }
  }

  /**
   * The lines after `after` that contain `q`, case-insensitively (ASCII letters on SQLite), in order, at most
   * `limit`: a search across the whole stored log. `dropped` is never set: a match says nothing of a gap.
   */
  async search(job: LogState, q: string, after: number, limit: number): Promise<{ lines: LogLine[]; dropped: null }> {
    const { jobLogs: t } = this.#sql.t
    // The text is matched as it is: % and _ in it are not wildcards
    const pattern = `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
    const matches =
      this.#sql.kind === 'postgres'
        ? sql`${t.text} ILIKE ${pattern} ESCAPE '\\'`
        : sql`${t.text} LIKE ${pattern} ESCAPE '\\'`
    const lines = await this.#sql.db
      .select(lineColumns(t))
      .from(t)
      .where(and(eq(t.jobId, job.id), gt(t.seq, after), matches))
      .orderBy(asc(t.seq))
      .limit(limit)
    return { lines, dropped: null }
  }

  /** The last `n` lines, oldest first. */
  async tail(jobId: string, n: number): Promise<LogLine[]> {
    const { jobLogs: t } = this.#sql.t
    const rows = await this.#sql.db
      .select(lineColumns(t))
      .from(t)
      .where(eq(t.jobId, jobId))
      .orderBy(desc(t.seq))
      .limit(n)
    return rows.reverse()
  }
}
