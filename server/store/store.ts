import type { SeriesPoint } from '../protocol.ts'

/** An event as the log keeps it: enough to re-encode the exact frame that was sent live. */
export interface StoredEvent {
  id: number
  ts: number
  topic: string
  event: string
  data: string
}

export interface SeriesRange {
  seriesFound: boolean
  from: number
  to: number
  stepMs: number
  points: SeriesPoint[]
}

export interface TierStats {
  tier: 'raw'
  samples: number
  bytes: number
  retentionMs: number
}

export interface StorageStats {
  dbBytes: number
  walBytes: number
  series: number
  tiers: TierStats[]
  events: { retained: number; oldestId: number | null; lastId: number }
}

/**
 * What the hub needs from history storage. SQLite implements it today; a later backend (PostgreSQL) slots in
 * behind the same methods.
 */
export interface Store {
  /** Writes one tick's samples and, when given, its event, in one transaction. */
  writeTick(host: string, ts: number, values: Readonly<Record<string, number>>, event: StoredEvent | null): void
  appendEvent(event: StoredEvent): void
  /** Events with id greater than `afterId` on any of `topics`, oldest first, at most `limit`. */
  eventsAfter(afterId: number, topics: readonly string[], limit: number): StoredEvent[]
  oldestEventId(): number | null
  /** The greatest event id ever written, 0 for a new store. Survives restarts and pruning. */
  lastEventId(): number
  /** At most `points` buckets of [ts, avg, min, max]; `to` defaults to the newest stored sample of the series. */
  range(metric: string, host: string, from: number | undefined, to: number | undefined, points: number): SeriesRange
  metricNames(): { host: string; name: string }[]
  hosts(): string[]
  /** Drops samples older than the raw retention and events older than the replay window. */
  prune(now: number): { samples: number; events: number }
  storageStats(): StorageStats
  close(): void
}
