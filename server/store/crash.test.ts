import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { useChildHubs } from '../testing/child.ts'
import { decodeChunk } from './codec.ts'
import { openSqliteStore } from './sqlite.ts'

const hubs = useChildHubs()

const SERIES = 10
const DAY = 86_400_000

describe('crash safety', () => {
  it('keeps every acknowledged sample, decodable and in a file that passes integrity_check, after kill -9 mid-ingest', async () => {
    const { dir, token } = await hubs.dataDir('reporter', 'loader')
    const p = await hubs.start(['--port', '0', '--data-dir', dir, '--sample-ms', '100'])
    const acked = new Map<string, Map<number, number>>()
    const t0 = Date.now()
    let batch = 0
    const send = async () => {
      const k = batch++
      const samples = Array.from({ length: SERIES }, (_, s) => ({ name: `crash.s${s}`, ts: t0 + k, value: k * 10 + s }))
      const res = await fetch(`${p.url}/api/metrics`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ samples }),
      })
      if (res.status !== 200) throw new Error(`ingest answered ${res.status}`)
      for (const s of samples) {
        const m = acked.get(s.name) ?? new Map<number, number>()
        acked.set(s.name, m)
        m.set(s.ts, s.value)
      }
    }
    // Four writers in flight at once; the kill lands while requests are being written
    const writers = Array.from({ length: 4 }, async () => {
      try {
        for (;;) await send()
      } catch {
        // the connection dies with the server
      }
    })
    while (batch < 400) await new Promise((r) => setTimeout(r, 10))
    p.child.kill('SIGKILL')
    await Promise.all(writers)
    expect(await p.exited).toBe(null)

    const check = new Database(join(dir, 'vigil.db'))
    expect(check.pragma('integrity_check', { simple: true })).toBe('ok')
    check.close()

    const store = openSqliteStore({ dataDir: dir, retentionMs: { raw: DAY, '1m': DAY, '1h': DAY }, replayMs: 1000 })
    try {
      const host = (await store.metricNames()).find((m) => m.name === 'crash.s0')?.host ?? ''
      const read = async (name: string) =>
        new Map((await store.range(name, host, t0, t0 + 99_999, 100_000)).points.map((pt) => [pt[0], pt[1]]))
      expect(acked.size).toBe(SERIES)
      for (const [name, want] of acked) {
        const got = await read(name)
        for (const [ts, value] of want) expect([name, ts, got.get(ts)]).toEqual([name, ts, value])
      }
      // Close every open hour into chunks and check they decode to the same samples
      await store.maintain(Date.now() + 3 * 3_600_000)
      expect((await store.storageStats()).openSamples).toBe(0)
      for (const [name, want] of acked) {
        const got = await read(name)
        for (const [ts, value] of want) expect(got.get(ts)).toBe(value)
      }
    } finally {
      await store.close()
    }
    const raw = new Database(join(dir, 'vigil.db'), { readonly: true })
    const rows = raw.prepare('select data from chunks_raw').all() as { data: Buffer }[]
    raw.close()
    expect(rows.length).toBeGreaterThan(SERIES)
    for (const row of rows) expect(() => decodeChunk(row.data)).not.toThrow()
  })
})
