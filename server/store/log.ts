import type { Store, StoredEvent } from './store.ts'
import type { RetryingWriter } from './writer.ts'

/**
 * Every event the hub emitted, for SSE resume: the stored log, and the events whose ticks still wait in the
 * retrying writer while storage fails. An emitted event is always in one or the other, so a resume during a fault
 * replays it; one the full queue dropped is reported by `lostThrough`, so the resume gets a reset instead.
 */
export interface EventLog {
  /** Events with an id greater than `afterId` on any of `topics`, oldest first, at most `limit`. */
  eventsAfter(afterId: number, topics: readonly string[], limit: number): StoredEvent[]
  oldestEventId(): number | null
  /** The greatest id emitted but never to be stored (dropped while storage failed); 0 when none. */
  lostThrough(): number
}

/** The stored log with the writer's queue merged in by id. */
export function eventLog(store: Store, writer: RetryingWriter): EventLog {
  return {
    eventsAfter(afterId, topics, limit) {
      const stored = store.eventsAfter(afterId, topics, limit)
      const queued = writer.eventsAfter(afterId, topics)
      if (queued.length === 0) return stored
      const out: StoredEvent[] = []
      let i = 0
      let j = 0
      while (out.length < limit && (i < stored.length || j < queued.length)) {
        const a = stored[i]
        const b = queued[j]
        if (b === undefined || (a !== undefined && a.id < b.id)) {
          out.push(a as StoredEvent)
          i++
        } else {
          out.push(b)
          j++
        }
      }
      return out
    },
    oldestEventId() {
      return store.oldestEventId() ?? writer.oldestEventId()
    },
    lostThrough: () => writer.lostThrough,
  }
}
