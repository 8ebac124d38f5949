import { describe, expect, it } from 'vitest'
import type { ResetEvent } from '../protocol/index.ts'
import { healthOf } from '../testing/child.ts'
import { Collector, sqliteOf, useTestHubs } from '../testing/hub.ts'

const hubs = useTestHubs()

/** Fakes a full disk: the database may not grow past the pages it has. */
function fillDisk(sqlite: { pragma(s: string, o?: { simple: boolean }): unknown }): () => void {
  sqlite.pragma(`max_page_count = ${Number(sqlite.pragma('page_count', { simple: true }))}`)
  return () => sqlite.pragma('max_page_count = 1073741823')
}

describe('resume across a storage fault', () => {
  it('replays every id emitted while storage fails to a client that resumes meanwhile, in order and once each (full disk faked with max_page_count)', async () => {
    const t = await hubs.start({ VIGIL_SAMPLE_MS: '100' })
    const url = t.hub.url
    const reference = hubs.metrics(url)
    await reference.waitFor((e) => e.length >= 3)
    const resumeFrom = Number(reference.events[2]?.id)

    const restore = fillDisk(sqliteOf(t.hub))
    await expect.poll(async () => (await healthOf(url)).status, { timeout: 20_000 }).toBe('degraded')
    // Ticks are queued, not stored, from here on: a resume must still get them
    const queuedFrom = reference.events.length
    await reference.waitFor((e) => e.length >= queuedFrom + 5)

    const resumed = new Collector(`${url}/api/stream?topics=metrics&lastEventId=${resumeFrom}`, ['metrics', 'reset'])
    try {
      const until = Number(reference.events.at(-1)?.id) + 3
      await resumed.waitFor((e) => e.some((r) => Number(r.id) >= until))
      expect(resumed.events.filter((e) => e.type === 'reset')).toEqual([])
      const got = resumed.ids('metrics').filter((id) => id <= until)
      const want = reference.ids('metrics').filter((id) => id > resumeFrom && id <= until)
      expect(got).toEqual(want)
      expect(t.hub.health.has('storage')).toBe(true)
    } finally {
      resumed.close()
      restore()
    }
    await expect.poll(async () => (await healthOf(url)).status, { timeout: 20_000 }).toBe('ok')
  })

  it('sends reset to a client that resumes across a tick the full retry queue dropped (queue made tiny, full disk faked)', async () => {
    const t = await hubs.start({ VIGIL_SAMPLE_MS: '100' }, { writeQueueTicks: 3 })
    const url = t.hub.url
    const reference = hubs.metrics(url)
    await reference.waitFor((e) => e.length >= 2)
    const resumeFrom = Number(reference.events[1]?.id)

    const restore = fillDisk(sqliteOf(t.hub))
    try {
      await expect
        .poll(async () => (await healthOf(url)).reasons[0]?.message ?? '', { timeout: 20_000 })
        .toMatch(/writes waiting, [1-9]\d* dropped$/)
      const resumed = new Collector(`${url}/api/stream?topics=metrics&lastEventId=${resumeFrom}`, ['metrics', 'reset'])
      try {
        await resumed.waitFor((e) => e.some((r) => r.type === 'reset'))
        const reset = resumed.events.find((e) => e.type === 'reset')
        expect(reset?.data).toEqual({ reason: 'gap', lastEventId: String(resumeFrom) } satisfies ResetEvent)
        expect(resumed.events[0]?.type).toBe('reset')
      } finally {
        resumed.close()
      }
    } finally {
      restore()
    }
  })
})
