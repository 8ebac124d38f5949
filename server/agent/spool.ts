import { randomUUID } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { AgentTick, SpoolStatus } from '../protocol/index.ts'

export interface SpoolOptions {
  maxBytes: number
  maxAgeMs: number
}

/** A tick as the spool keeps it: its sequence number, time, and the JSON it is sent as, encoded once. */
export interface SpooledTick {
  seq: number
  ts: number
  data: string
}

/** Ticks a full (or too old) spool had to drop, waiting to be reported to the hub. */
export interface SpoolGap {
  fromSeq: number
  toSeq: number
  from: number
  to: number
  ticks: number
}

const SCHEMA = `
create table if not exists meta (key text primary key, value text not null);
create table if not exists ticks (seq integer primary key autoincrement, ts integer not null, bytes integer not null, data text not null);
create table if not exists gaps (from_seq integer primary key, to_seq integer not null, from_ts integer not null, to_ts integer not null, ticks integer not null);
`

/**
 * The agent's disk spool: every tick is numbered and committed here before it is sent, and stays until the hub
 * acknowledges it, so neither a hub outage nor a kill -9 of the agent loses one. Bounded by bytes and age: past
 * either, the oldest ticks go, and the span they covered is kept as a gap to report. SQLite in WAL mode, one
 * transaction per tick.
 */
export class Spool {
  readonly id: string
  readonly #db: Database.Database
  readonly #opts: SpoolOptions
  #bytes: number
  #ticks: number
  #dropped: number
  readonly #stmt

  constructor(dir: string, opts: SpoolOptions) {
    mkdirSync(dir, { recursive: true })
    this.#opts = opts
    const db = new Database(join(dir, 'spool.db'))
    db.pragma('journal_mode = WAL')
    // WAL + NORMAL: a crash of the process loses nothing committed; only a power cut can lose the last commits
    db.pragma('synchronous = NORMAL')
    db.exec(SCHEMA)
    this.#db = db
    this.#stmt = {
      getMeta: db.prepare<[string], { value: string }>('select value from meta where key = ?'),
      setMeta: db.prepare(
        'insert into meta (key, value) values (?, ?) on conflict(key) do update set value = excluded.value',
      ),
      insert: db.prepare<[number, number, string]>('insert into ticks (ts, bytes, data) values (?, ?, ?)'),
      nextSeq: db.prepare<[], { seq: number }>("select seq + 1 as seq from sqlite_sequence where name = 'ticks'"),
      oldest: db.prepare<[], { seq: number; ts: number; bytes: number }>(
        'select seq, ts, bytes from ticks order by seq',
      ),
      deleteRange: db.prepare<[number, number]>('delete from ticks where seq >= ? and seq <= ?'),
      sumRange: db.prepare<[number, number], { n: number; bytes: number | null }>(
        'select count(*) as n, sum(bytes) as bytes from ticks where seq >= ? and seq <= ?',
      ),
      after: db.prepare<[number, number, number], SpooledTick>(
        'select seq, ts, data from ticks where seq > ? and seq <= ? order by seq limit ?',
      ),
      maxSeq: db.prepare<[], { seq: number | null }>('select max(seq) as seq from ticks'),
      totals: db.prepare<[], { n: number; bytes: number | null }>(
        'select count(*) as n, sum(bytes) as bytes from ticks',
      ),
      lastGap: db.prepare<[], { from_seq: number; to_seq: number }>(
        'select from_seq, to_seq from gaps order by from_seq desc limit 1',
      ),
      insertGap: db.prepare<[number, number, number, number, number]>(
        'insert into gaps (from_seq, to_seq, from_ts, to_ts, ticks) values (?, ?, ?, ?, ?)',
      ),
      extendGap: db.prepare<[number, number, number, number]>(
        'update gaps set to_seq = ?, to_ts = ?, ticks = ticks + ? where from_seq = ?',
      ),
      gaps: db.prepare<[], { from_seq: number; to_seq: number; from_ts: number; to_ts: number; ticks: number }>(
        'select * from gaps order by from_seq',
      ),
      deleteGap: db.prepare<[number]>('delete from gaps where from_seq = ?'),
    }
    const id = this.#stmt.getMeta.get('spool_id')?.value
    this.id = id ?? randomUUID()
    if (!id) this.#stmt.setMeta.run('spool_id', this.id)
    const totals = this.#stmt.totals.get()
    this.#ticks = totals?.n ?? 0
    this.#bytes = totals?.bytes ?? 0
    this.#dropped = Number(this.#stmt.getMeta.get('dropped')?.value ?? 0)
  }

  /** A value kept across restarts of the agent (its machine id when the machine has none, its last settings). */
  meta(key: string): string | null {
    return this.#stmt.getMeta.get(key)?.value ?? null
  }

  setMeta(key: string, value: string): void {
    this.#stmt.setMeta.run(key, value)
  }

  /** Numbers a tick and commits it; then drops the oldest ticks past the bounds, recording their span as a gap. */
  append(tick: Omit<AgentTick, 'seq'>, now = Date.now()): SpooledTick {
    return this.#db.transaction(() => {
      const seq = this.#stmt.nextSeq.get()?.seq ?? 1
      const data = JSON.stringify({ seq, ...tick })
      const bytes = Buffer.byteLength(data)
      this.#stmt.insert.run(tick.ts, bytes, data)
      this.#ticks++
      this.#bytes += bytes
      this.#enforceBounds(now, seq)
      return { seq, ts: tick.ts, data }
    })()
  }

  /** Drops the oldest ticks while the spool is over its bytes or holds ticks past its age; never the newest one. */
  #enforceBounds(now: number, newest: number): void {
    const tooOld = now - this.#opts.maxAgeMs
    let first: { seq: number; ts: number } | null = null
    let last: { seq: number; ts: number } | null = null
    let n = 0
    let freed = 0
    for (const r of this.#stmt.oldest.iterate()) {
      if (r.seq === newest || (this.#bytes - freed <= this.#opts.maxBytes && r.ts >= tooOld)) break
      first ??= r
      last = r
      freed += r.bytes
      n++
    }
    if (!first || !last) return
    this.#stmt.deleteRange.run(first.seq, last.seq)
    this.#ticks -= n
    this.#bytes -= freed
    this.#dropped += n
    this.#stmt.setMeta.run('dropped', String(this.#dropped))
    // Dropped right after the last gap: one longer gap, not many short ones
    const gap = this.#stmt.lastGap.get()
    if (gap && gap.to_seq === first.seq - 1) this.#stmt.extendGap.run(last.seq, last.ts, n, gap.from_seq)
    else this.#stmt.insertGap.run(first.seq, last.seq, first.ts, last.ts, n)
  }

  /** The hub stored `from`..`to`: they go. */
  ack(from: number, to: number): void {
    const sum = this.#stmt.sumRange.get(from, to)
    if (!sum || sum.n === 0) return
    this.#stmt.deleteRange.run(from, to)
    this.#ticks -= sum.n
    this.#bytes -= sum.bytes ?? 0
  }

  /** Everything up to `through` is stored on the hub: it goes. */
  forgetThrough(through: number): void {
    if (through > 0) this.ack(1, through)
  }

  /** Ticks after `afterSeq` up to `uptoSeq`, oldest first, at most `maxTicks` or about `maxBytes` of JSON. */
  after(afterSeq: number, uptoSeq: number, maxTicks: number, maxBytes: number): SpooledTick[] {
    const rows = this.#stmt.after.all(afterSeq, uptoSeq, maxTicks)
    let bytes = 0
    const out: SpooledTick[] = []
    for (const r of rows) {
      bytes += r.data.length
      if (out.length > 0 && bytes > maxBytes) break
      out.push(r)
    }
    return out
  }

  /** The newest sequence number held, 0 when the spool is empty. */
  lastSeq(): number {
    return this.#stmt.maxSeq.get()?.seq ?? 0
  }

  /** Gaps not yet acknowledged by a hub, oldest first. */
  gaps(): SpoolGap[] {
    return this.#stmt.gaps.all().map((g) => ({
      fromSeq: g.from_seq,
      toSeq: g.to_seq,
      from: g.from_ts,
      to: g.to_ts,
      ticks: g.ticks,
    }))
  }

  /** The hub recorded the gap starting at `fromSeq`. */
  gapRecorded(fromSeq: number): void {
    this.#stmt.deleteGap.run(fromSeq)
  }

  status(): SpoolStatus {
    const oldest = this.#stmt.oldest.get()
    return { ticks: this.#ticks, bytes: this.#bytes, oldestTs: oldest?.ts ?? null, droppedTicks: this.#dropped }
  }

  close(): void {
    this.#db.close()
  }
}
