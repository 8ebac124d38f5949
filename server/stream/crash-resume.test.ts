import { join } from 'node:path'
import Database from 'better-sqlite3'
import { EventSource } from 'eventsource'
import { describe, expect, it } from 'vitest'
import type { AuditEntry } from '../protocol/index.ts'
import { useChildHubs } from '../testing/child.ts'
import { ControlClient } from '../testing/control.ts'
import { sleep } from '../testing/hub.ts'

const CLIENTS = 20
const hubs = useChildHubs()

describe('crash and resume', () => {
  it(`resumes ${CLIENTS} clients by Last-Event-ID after kill -9 with no duplicate and no missing stored id, and keeps every acknowledged log line and command`, async () => {
    // An admin may both report the job and send commands
    const { dir, token } = await hubs.dataDir('admin', 'loader')
    const args = [
      ...['--data-dir', dir, '--sample-ms', '100', '--sse-retry-ms', '300', '--replay-s', '3600'],
      ...['--ws-rate', '10000', '--ws-burst', '10000'],
    ]
    let server = await hubs.start([...args, '--port', '0'])
    const url = server.url
    const port = new URL(url).port

    const seen = Array.from({ length: CLIENTS }, () => [] as number[])
    const clients = seen.map((ids) => {
      const es = new EventSource(`${url}/api/stream?topics=metrics`)
      es.addEventListener('metrics', (e) => ids.push(Number(e.lastEventId)))
      return es
    })
    await Promise.all(
      seen.map(async (ids) => {
        while (ids.length < 3) await sleep(20)
      }),
    )

    // A job logging as fast as the hub acknowledges, when the kill comes
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
    const job = (await (
      await fetch(`${url}/api/jobs`, { method: 'POST', headers: auth, body: '{"name":"crashy"}' })
    ).json()) as { id: string }
    const acked: string[] = []
    const logging = (async () => {
      for (let batch = 0; ; batch++) {
        const lines = Array.from({ length: 50 }, (_, i) => ({ text: `line ${batch}.${i}` }))
        try {
          const res = await fetch(`${url}/api/jobs/${job.id}/logs?batch=${batch}`, {
            method: 'POST',
            headers: auth,
            body: JSON.stringify(lines),
          })
          if (res.status !== 200) return
          acked.push(...lines.map((l) => l.text))
        } catch {
          return // the hub died mid-request: that batch was never acknowledged
        }
      }
    })()
    // An operator changing the slow cadence as fast as the hub acknowledges, each command with its own interval
    const operator = new ControlClient(`${url.replace('http', 'ws')}/api/control`, { authorization: `Bearer ${token}` })
    await operator.opened()
    const accepted: number[] = []
    const commanding = (async () => {
      for (let n = 0; ; n++) {
        const intervalMs = 10_000 + n
        const request = operator.request({ id: n, type: 'sampling.set', group: 'slow', intervalMs })
        request.catch(() => {}) // its timeout, after the race below has moved on
        // No reply because the socket closed: the hub died first, so the command was never acknowledged
        const reply = await Promise.race([request, operator.closed.then(() => null)])
        if (reply === null) return
        if ('ok' in reply && reply.ok) accepted.push(intervalMs)
      }
    })()
    await sleep(1000)
    server.child.kill('SIGKILL')
    await server.exited
    await logging
    await commanding
    expect(acked.length).toBeGreaterThan(0)
    expect(accepted.length).toBeGreaterThan(0)
    const beforeRestart = seen.map((ids) => ids.length)

    server = await hubs.start([...args, '--port', port])
    await Promise.all(
      seen.map(async (ids, i) => {
        while (ids.length < (beforeRestart[i] as number) + 10) await sleep(20)
      }),
    )
    for (const es of clients) es.close()

    const stored = new Set<string>()
    for (let after = 0; ; ) {
      const page = (await (
        await fetch(`${url}/api/jobs/${job.id}/logs?after=${after}&limit=10000`, { headers: auth })
      ).json()) as {
        lines: { seq: number; text: string }[]
      }
      if (page.lines.length === 0) break
      for (const l of page.lines) stored.add(l.text)
      after = page.lines.at(-1)?.seq ?? after
    }
    expect(acked.filter((text) => !stored.has(text))).toEqual([])

    // Every acknowledged command is in the audit log
    const audited = new Set<number>()
    for (let before: number | undefined; ; ) {
      const page = (await (
        await fetch(`${url}/api/audit?limit=1000${before ? `&before=${before}` : ''}`, { headers: auth })
      ).json()) as { entries: AuditEntry[] }
      if (page.entries.length === 0) break
      for (const e of page.entries) {
        if (e.command === 'sampling.set' && e.outcome === 'accepted')
          audited.add((e.args as { intervalMs: number }).intervalMs)
      }
      before = page.entries.at(-1)?.id
    }
    expect(accepted.filter((ms) => !audited.has(ms))).toEqual([])

    server.child.kill('SIGTERM')
    await server.exited
    const check = new Database(join(dir, 'vigil.db'), { readonly: true })
    const persisted = (
      check.prepare("select id from events where topic like 'metrics:%' order by id").all() as { id: number }[]
    ).map((r) => r.id)
    check.close()
    expect(persisted.length).toBeGreaterThan(20)
    for (const ids of seen) {
      // Strictly increasing: no duplicate, nothing out of order, across the crash
      expect(ids.every((id, i) => i === 0 || id > (ids[i - 1] as number))).toBe(true)
      // Every stored metrics event between this client's first and last is one it received
      const first = ids[0] as number
      const last = ids.at(-1) as number
      const have = new Set(ids)
      expect(persisted.filter((id) => id >= first && id <= last && !have.has(id))).toEqual([])
    }
  })

  it('never issues an id twice when the hub is killed -9 while storage fails, so a resume across the crash stays exact (write lock held by a second connection)', async () => {
    const { dir } = await hubs.dataDir('admin', 'owner')
    const args = ['--data-dir', dir, '--sample-ms', '100', '--sse-retry-ms', '300']
    let server = await hubs.start([...args, '--port', '0'])
    const port = new URL(server.url).port
    const ids: number[] = []
    const types: string[] = []
    const es = new EventSource(`${server.url}/api/stream?topics=metrics`)
    for (const type of ['metrics', 'reset']) {
      es.addEventListener(type, (e) => {
        ids.push(Number(e.lastEventId))
        types.push(type)
      })
    }
    const storedIds = () => {
      const db = new Database(join(dir, 'vigil.db'), { readonly: true })
      try {
        return (
          db.prepare("select id from events where topic like 'metrics%' order by id").all() as { id: number }[]
        ).map((r) => r.id)
      } finally {
        db.close()
      }
    }
    try {
      while (ids.length < 3) await sleep(20)
      const lock = new Database(join(dir, 'vigil.db'))
      lock.exec('BEGIN IMMEDIATE')
      // These go live while they wait in the retry queue, and die with the process
      const queuedFrom = ids.length
      while (ids.length < queuedFrom + 5) await sleep(20)
      server.child.kill('SIGKILL')
      await server.exited
      lock.exec('ROLLBACK')
      lock.close()
      const storedBefore = Math.max(...storedIds())
      const seenBefore = ids.length
      expect(ids.at(-1)).toBeGreaterThan(storedBefore)

      server = await hubs.start([...args, '--port', port])
      while (ids.length < seenBefore + 5) await sleep(20)
      server.child.kill('SIGTERM')
      await server.exited
      expect(types).not.toContain('reset')
      expect(ids.every((id, i) => i === 0 || id > (ids[i - 1] as number))).toBe(true)
      // Every event the restarted hub stored up to the client's last one reached the client: none hid behind an
      // id the client had already seen
      const have = new Set(ids)
      const last = ids.at(-1) as number
      expect(storedIds().filter((id) => id > storedBefore && id <= last && !have.has(id))).toEqual([])
    } finally {
      es.close()
    }
  })
})
