import type { ResetEvent } from '../protocol/index.ts'
import type { Store, StoredEvent } from './store.ts'
import type { RetryingWriter } from './writer.ts'

/**
 * A batch of a replay: the next events on the topics asked for, the id the log was read through (events of other
 * topics included), and whether that was the end of the log when read; or why the replay cannot be exact (the
 * client then gets a `reset`).
 */
export type ReplayBatch =
  | { events: StoredEvent[]; through: number; complete: boolean }
  | { reset: ResetEvent['reason'] }

/**
 * Every event the hub emitted, for SSE resume. Asynchronous, as a log shared by several hubs is; the stream keeps
 * the events that go live while a read is pending, so none is lost or sent twice at the switch to live.
 */
export interface EventLog {
  /** The events with an id greater than `afterId` on any of `topics`, oldest first, at most `limit`. */
  replay(afterId: number, topics: readonly string[], limit: number): Promise<ReplayBatch>
}

/**
 * The hub's own log: the stored events, and the events whose ticks still wait in the retrying writer while storage
 * fails, merged by id. An emitted event is always in one or the other, so a resume during a fault replays it; one
 * the full queue dropped (`lostThrough`) makes a resume from before it a `gap` reset instead.
 */
export function eventLog(store: Store, writer: RetryingWriter, lastId: () => number): EventLog {
  const resetReason = async (afterId: number): Promise<ResetEvent['reason'] | null> => {
    if (afterId > lastId()) return 'unknown_id'
    const queuedOldest = writer.oldestEventId()
    const oldest = (await store.oldestEventId()) ?? queuedOldest
    if (oldest === null || afterId < oldest - 1) return 'too_old'
    // An event after `afterId` went live but was dropped before it could be stored: the replay would skip it
    if (afterId < writer.lostThrough) return 'gap'
    return null
  }
  return {
    async replay(afterId, topics, limit) {
      const reset = await resetReason(afterId)
      if (reset) return { reset }
      // The queue is looked at first: an event it writes meanwhile is then in the read, or in both (sent once)
      const queued = writer.eventsAfter(afterId, topics)
      const stored = await store.eventsAfter(afterId, topics, limit)
      if (queued.length === 0) return batch(afterId, stored, limit)
      const out: StoredEvent[] = []
      let i = 0
      let j = 0
      while (out.length < limit && (i < stored.length || j < queued.length)) {
        const a = stored[i]
        const b = queued[j]
        if (b === undefined || (a !== undefined && a.id <= b.id)) {
          out.push(a as StoredEvent)
          if (b !== undefined && a?.id === b.id) j++
          i++
        } else {
          out.push(b)
          j++
        }
      }
      return batch(afterId, out, limit)
    },
  }
}

/** Read by topic: the last event is as far as the log was read, and a batch short of the limit ended it. */
function batch(afterId: number, events: StoredEvent[], limit: number): ReplayBatch {
  return { events, through: events.at(-1)?.id ?? afterId, complete: events.length < limit }
}
