import type { LogLine } from '../protocol/index.ts'

/** Most lines a stored chunk holds: a read for a few lines decodes at most this many. */
export const CHUNK_LINES = 1000

/** One stored row of a job's log: consecutive lines of one stream and level (see `job_log_chunks`). */
export interface ChunkRow {
  jobId: string
  seq: number
  lastSeq: number
  ts: number
  stream: LogLine['stream']
  level: string | null
  text: string
  meta: string | null
}

interface Meta {
  /** Each line's ts minus the chunk's, when they are not all the same. */
  dt?: number[]
  /** Offsets of the lines that were cut. */
  cut?: number[]
}

/**
 * Packs lines, in seq order and with no gap, into chunk rows: a new row where the stream or level changes or
 * a row is full. A stored line holds no LF or CR (`splitLines` made sure), so LF joins them.
 */
export function toChunks(jobId: string, lines: readonly LogLine[]): ChunkRow[] {
  const rows: ChunkRow[] = []
  let start = 0
  for (let i = 1; i <= lines.length; i++) {
    const a = lines[start] as LogLine
    const b = lines[i]
    if (b && b.stream === a.stream && b.level === a.level && i - start < CHUNK_LINES) continue
    rows.push(pack(jobId, lines, start, i))
    start = i
  }
  return rows
}

function pack(jobId: string, lines: readonly LogLine[], from: number, to: number): ChunkRow {
  const first = lines[from] as LogLine
  const texts: string[] = []
  const meta: Meta = {}
  let dt: number[] | null = null
  for (let i = from; i < to; i++) {
    const l = lines[i] as LogLine
    texts.push(l.text)
    if (l.cut) {
      meta.cut ??= []
      meta.cut.push(i - from)
    }
    if (l.ts !== first.ts && dt === null) dt = new Array<number>(i - from).fill(0)
    dt?.push(l.ts - first.ts)
  }
  if (dt) meta.dt = dt
  return {
    jobId,
    seq: first.seq,
    lastSeq: (lines[to - 1] as LogLine).seq,
    ts: first.ts,
    stream: first.stream,
    level: first.level,
    text: texts.join('\n'),
    meta: dt || meta.cut ? JSON.stringify(meta) : null,
  }
}

/** The lines a chunk row holds, in seq order. */
export function fromChunk(row: Omit<ChunkRow, 'jobId'>): LogLine[] {
  const meta = row.meta === null ? null : (JSON.parse(row.meta) as Meta)
  const cut = new Set(meta?.cut)
  return row.text.split('\n').map((text, i) => ({
    seq: row.seq + i,
    ts: row.ts + (meta?.dt?.[i] ?? 0),
    stream: row.stream,
    level: row.level,
    text,
    cut: cut.has(i),
  }))
}

/** A chunk row without its lines in (`from`, `to`]: none, one or two rows. */
export function withoutRange(row: ChunkRow, from: number, to: number): ChunkRow[] {
  const lines = fromChunk(row)
  const before = lines.filter((l) => l.seq <= from)
  const after = lines.filter((l) => l.seq > to)
  return [before, after].filter((part) => part.length > 0).map((part) => pack(row.jobId, part, 0, part.length))
}
