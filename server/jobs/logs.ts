import { and, asc, desc, eq, gt, inArray, lt, lte, or, type SQL, sql } from 'drizzle-orm'
import type { LogEvent, LogLine, LogLineIn } from '../protocol/index.ts'
import { type Sql, transaction } from '../store/index.ts'
import { fromChunk, toChunks, withoutRange } from './chunks.ts'

/** A line longer than this is cut and marked. */
export const MAX_LINE_BYTES = 16 * 1024

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

/**
 * Most lines, and encoded bytes (estimated as each line's text plus the fields around it), in one `log` event: a
 * frame stays far inside a client's stream queue (64 KiB in the smallest useful setting), so a burst of them can
 * be caught up from the event log one frame at a time.
 */
const EVENT_LINES = 1000
const EVENT_BYTES = 32 * 1024
const LINE_OVERHEAD = 96

/** Lines as `log` events of at most 1,000 lines or about 32 KiB each, in order. */
export function logEvents(jobId: string, lines: readonly LogLine[]): LogEvent[] {
  const events: LogEvent[] = []
  let start = 0
  let bytes = 0
  for (let i = 0; i < lines.length; i++) {
    const next = (lines[i] as LogLine).text.length + LINE_OVERHEAD
    if (i > start && (i - start === EVENT_LINES || bytes + next > EVENT_BYTES)) {
      events.push({ jobId, lines: lines.slice(start, i) })
      start = i
      bytes = 0
    }
    bytes += next
  }
  if (start < lines.length) events.push({ jobId, lines: lines.slice(start) })
  return events
}

/** Rows asked for at a time when reading through a log's chunks. */
const PAGE_ROWS = 32
/** Rows per insert statement, under SQLite's and PostgreSQL's limits on bound parameters. */
const INSERT_ROWS = 500

/**
 * Job log storage: seq numbers, batch de-duplication, head + tail retention. Lines are stored in chunks of up to
 * 1,000 (`chunks.ts`), so a batch of thousands of lines costs a few row writes, not one per line.
 */
export class JobLogs {
  readonly #sql: Sql
  readonly #keepHead: number
  readonly #keepTail: number

  constructor(sql: Sql, opts: { keepHead: number; keepTail: number }) {
    this.#sql = sql
    this.#keepHead = opts.keepHead
    this.#keepTail = opts.keepTail
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
      const ts = l.ts ?? now
      const level = l.level ?? null
      for (const part of splitLines(l.text)) {
        lines.push({ seq: ++seq, ts, stream: l.stream, level, text: part.text, cut: part.cut })
      }
    }
    // Keep the first keepHead lines and the last keepTail. Lines up to `from` past the head are gone already;
    // those up to `to` go now, the stored ones and any of this batch's
    const from = this.#keepHead + job.logDropped
    const to = seq - this.#keepTail
    const { jobLogChunks: t, jobs: j } = this.#sql.t
    const kept = to > from ? lines.filter((l) => l.seq <= from || l.seq > to) : lines
    const rows = toChunks(job.id, kept)
    const storedTo = Math.min(to, job.logLines)
    // The chunks that straddle the range are rewritten without it; those inside it are deleted
    const straddling =
      storedTo > from
        ? await this.#sql.db
            .select()
            .from(t)
            .where(
              and(
                eq(t.jobId, job.id),
                gt(t.lastSeq, from),
                lte(t.seq, storedTo),
                or(lte(t.seq, from), gt(t.lastSeq, storedTo)),
              ),
            )
        : []
    for (const row of straddling) rows.push(...withoutRange(row, from, storedTo))
    const logDropped = Math.max(job.logDropped, to - this.#keepHead)
    await transaction(this.#sql, (db) => [
      ...(storedTo > from
        ? [
            db.delete(t).where(
              and(
                eq(t.jobId, job.id),
                inArray(
                  t.lastSeq,
                  straddling.map((r) => r.lastSeq),
                ),
              ),
            ),
            db.delete(t).where(and(eq(t.jobId, job.id), gt(t.seq, from), lte(t.lastSeq, storedTo))),
          ]
        : []),
      ...chunked(rows, INSERT_ROWS).map((part) => db.insert(t).values(part)),
      db.update(j).set({ logLines: seq, logDropped, lastBatch: batch, heartbeatAt: now }).where(eq(j.id, job.id)),
    ])
    return { duplicate: false, lines, lastSeq: seq }
  }

  /**
   * The lines after `after` that `keep` takes, in seq order, at most `limit`; with `rows`, only the chunk rows
   * that filter takes are read.
   */
  async #collect(
    jobId: string,
    after: number,
    limit: number,
    keep: (l: LogLine) => boolean = () => true,
    rows?: SQL,
  ): Promise<LogLine[]> {
    const { jobLogChunks: t } = this.#sql.t
    const out: LogLine[] = []
    for (let cursor = after; out.length < limit; ) {
      const page = await this.#sql.db
        .select()
        .from(t)
        .where(and(eq(t.jobId, jobId), gt(t.lastSeq, cursor), rows))
        .orderBy(asc(t.lastSeq))
        .limit(PAGE_ROWS)
      for (const row of page) {
        for (const l of fromChunk(row)) if (l.seq > after && out.length < limit && keep(l)) out.push(l)
      }
      if (page.length < PAGE_ROWS) break
      cursor = (page.at(-1) as { lastSeq: number }).lastSeq
    }
    return out
  }

  /** Lines after `after`, with a `dropped` count when the retention gap lies in the range asked for. */
  async read(
    job: LogState,
    after: number,
    limit: number,
  ): Promise<{ lines: LogLine[]; dropped: { after: number; count: number } | null }> {
    const lines = await this.#collect(job.id, after, limit)
    const first = lines[0]?.seq
    const gap = job.logDropped > 0 && first !== undefined && first > after + 1
    return { lines, dropped: gap ? { after: first - 1 - job.logDropped, count: job.logDropped } : null }
  }

  /**
   * The lines after `after` that contain `q`, case-insensitively (ASCII letters on SQLite), in order, at most
   * `limit`: a search across the whole stored log. `dropped` is never set: a match says nothing of a gap.
   */
  async search(job: LogState, q: string, after: number, limit: number): Promise<{ lines: LogLine[]; dropped: null }> {
    const { jobLogChunks: t } = this.#sql.t
    // The database finds the chunks that hold a match (% and _ in the text are not wildcards); the lines in
    // them are matched the same way here
    const pattern = `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
    const pg = this.#sql.kind === 'postgres'
    const fold = pg ? (s: string) => s.toLowerCase() : asciiLower
    const needle = fold(q)
    const rows = pg ? sql`${t.text} ILIKE ${pattern} ESCAPE '\\'` : sql`${t.text} LIKE ${pattern} ESCAPE '\\'`
    const lines = await this.#collect(job.id, after, limit, (l) => fold(l.text).includes(needle), rows)
    return { lines, dropped: null }
  }

  /** The last `n` lines, oldest first. */
  async tail(jobId: string, n: number): Promise<LogLine[]> {
    const { jobLogChunks: t } = this.#sql.t
    const out: LogLine[] = []
    for (let cursor = Number.MAX_SAFE_INTEGER; out.length < n; ) {
      const page = await this.#sql.db
        .select()
        .from(t)
        .where(and(eq(t.jobId, jobId), lt(t.lastSeq, cursor)))
        .orderBy(desc(t.lastSeq))
        .limit(PAGE_ROWS)
      for (const row of page) {
        const lines = fromChunk(row)
        out.unshift(...lines.slice(Math.max(0, lines.length - (n - out.length))))
        if (out.length >= n) break
      }
      if (page.length < PAGE_ROWS) break
      cursor = (page.at(-1) as { lastSeq: number }).lastSeq
    }
    return out
  }
}

/** Lower-cases ASCII letters only, as SQLite's LIKE compares them. */
function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase())
}

function chunked<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}
