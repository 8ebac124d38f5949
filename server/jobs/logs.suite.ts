import { eq } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import type { LogLine, LogLineIn } from '../protocol/index.ts'
import type { Sql } from '../store/index.ts'
import { JobLogs } from './logs.ts'

/** A fresh database for one test, on the backend under test. */
export type OpenSql = () => Promise<Sql>

/** A job row to log to, and the log's state read back from it after every batch as the hub does. */
async function newJob(sql: Sql, id: string) {
  await sql.db.insert(sql.t.jobs).values({
    id,
    name: id,
    labels: '{}',
    host: 'test',
    attempt: 1,
    state: 'running',
    progress: '{}',
    createdAt: 1,
    logLines: 0,
    logDropped: 0,
    lastBatch: -1,
  })
  return async () => {
    const [row] = await sql.db
      .select({
        id: sql.t.jobs.id,
        logLines: sql.t.jobs.logLines,
        logDropped: sql.t.jobs.logDropped,
        lastBatch: sql.t.jobs.lastBatch,
      })
      .from(sql.t.jobs)
      .where(eq(sql.t.jobs.id, id))
    return row as NonNullable<typeof row>
  }
}

/** The log store on both backends: lines in chunks, read, searched and trimmed line by line. */
export function logStoreSuite(backend: string, open: OpenSql): void {
  describe(`job log storage on ${backend}`, () => {
    it('keeps exactly the first and last lines, every field intact, across batches whose chunks straddle the cut', async () => {
      const sql = await open()
      const logs = new JobLogs(sql, { keepHead: 5, keepTail: 7 })
      const state = await newJob(sql, 'j1')
      const all: LogLine[] = []
      let seq = 0
      // 40 batches of 1 to 23 lines, the streams and stamps changing inside a batch, every ninth line cut
      for (let b = 0; b < 40; b++) {
        const input: LogLineIn[] = []
        for (let i = 0; i < 1 + ((b * 7) % 23); i++) {
          seq++
          const stream = seq % 5 === 0 ? 'stderr' : 'stdout'
          const cut = seq % 9 === 0
          const text = cut ? `${seq}:${'x'.repeat(16 * 1024)}` : `line ${seq}`
          input.push({ stream, text, ts: 1_000 + Math.floor(seq / 3) })
          all.push({
            seq,
            ts: 1_000 + Math.floor(seq / 3),
            stream,
            level: null,
            text: text.slice(0, 16 * 1024),
            cut,
          })
        }
        const r = await logs.append(await state(), b, input)
        expect(r.lastSeq).toBe(seq)
      }
      const job = await state()
      expect([job.logLines, job.logDropped]).toEqual([seq, seq - 12])
      const kept = all.filter((l) => l.seq <= 5 || l.seq > seq - 7)
      expect((await logs.read(job, 0, 10_000)).lines).toEqual(kept)
      expect(await logs.read(job, 5, 2)).toEqual({
        lines: kept.slice(5, 7),
        dropped: { after: 5, count: seq - 12 },
      })
      expect(await logs.tail('j1', 9)).toEqual(kept.slice(-9))
    })

    it('reads and searches line by line across chunk boundaries, and a match spanning two lines is none', async () => {
      const sql = await open()
      const logs = new JobLogs(sql, { keepHead: 1000, keepTail: 100_000 })
      const state = await newJob(sql, 'j2')
      const text = Array.from({ length: 2500 }, (_, i) => (i % 700 === 0 ? `Found ${i + 1}` : `ok ${i + 1}`))
      await logs.append(await state(), 0, [{ stream: 'stdout', text: text.join('\n'), ts: 5 }])
      await logs.append(await state(), 1, [
        { stream: 'stderr', text: 'a', ts: 6, level: 'warn' },
        { stream: 'stderr', text: 'b', ts: 6, level: 'warn' },
      ])
      const job = await state()
      const read = await logs.read(job, 998, 4)
      expect(read.lines.map((l) => [l.seq, l.text])).toEqual([
        [999, 'ok 999'],
        [1000, 'ok 1000'],
        [1001, 'ok 1001'],
        [1002, 'ok 1002'],
      ])
      const found = await logs.search(job, 'FOUND', 0, 10)
      expect(found.lines.map((l) => [l.seq, l.text])).toEqual([
        [1, 'Found 1'],
        [701, 'Found 701'],
        [1401, 'Found 1401'],
        [2101, 'Found 2101'],
      ])
      expect((await logs.search(job, 'found', 701, 2)).lines.map((l) => l.seq)).toEqual([1401, 2101])
      expect((await logs.search(job, 'a\nb', 0, 10)).lines).toEqual([])
      expect((await logs.search(job, 'b', 2500, 10)).lines).toEqual([
        { seq: 2502, ts: 6, stream: 'stderr', level: 'warn', text: 'b', cut: false },
      ])
      expect((await logs.tail('j2', 3)).map((l) => l.seq)).toEqual([2500, 2501, 2502])
    })
  })
}
