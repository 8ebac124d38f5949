import type { SeriesPoint, StorageView, TierStatsView } from '../protocol/index.ts'
import type { TierName } from './tiers.ts'

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
  /** The tier the buckets were picked from; others fill where it has no data. */
  tier: TierName
  points: SeriesPoint[]
}

/** A tier's samples (raw: the open hour included; rollups: buckets), on-disk bytes and retention. */
export type TierStats = TierStatsView

/** The store's size and state: what `/api/stats` reports, and the event log's extent. */
export interface StorageStats extends StorageView {
  events: { retained: number; oldestId: number | null; lastId: number }
}

/** One tick of a batch: every value at `ts`. */
export interface TickIn {
  ts: number
  values: Readonly<Record<string, number>>
}

/** Where an ingest stream (an agent's spool) stands: every sequence number up to `through` is stored. */
export interface Cursor {
  stream: string
  through: number
}

/** One sample of a custom-metric batch. */
export interface NamedSample {
  name: string
  ts: number
  value: number
}

/** A host's series and how many of a batch's names it does not have yet: for the ingest cardinality limit. */
export interface SeriesCount {
  /** Series the host has. */
  have: number
  /** Names of the batch that would be new series. */
  added: number
}

/**
 * What the hub needs from history storage, on SQLite (the embedded default) or PostgreSQL. Every call that may touch
 * storage returns a promise: better-sqlite3 does its work before returning, node-postgres over the network. A
 * rejected write stored nothing of its batch.
 */
export interface Store {
  /**
   * Writes one tick's samples and, when given, its event, in one transaction. Non-finite values are skipped; a
   * second sample of a series at the same time replaces the first. Samples older than `acceptsFrom` are refused
   * and counted.
   */
  writeTick(
    host: string,
    ts: number,
    values: Readonly<Record<string, number>>,
    event: StoredEvent | null,
  ): Promise<void>
  /**
   * Writes a host's ticks and, when given, moves its stream's cursor, in one transaction: a sequence number is
   * never acknowledged before its samples are committed.
   */
  writeTicks(host: string, ticks: readonly TickIn[], cursor: Cursor | null): Promise<void>
  /** The stream's `through`: 0 for a stream never written. */
  cursor(stream: string): Promise<number>
  /** Writes a batch of samples with their own timestamps, all or nothing. */
  writeSamples(host: string, samples: readonly NamedSample[]): Promise<void>
  /** Writes events that are not part of a tick, in one transaction. */
  appendEvents(events: readonly StoredEvent[]): Promise<void>
  /** Events with id greater than `afterId` on any of `topics`, oldest first, at most `limit`. */
  eventsAfter(afterId: number, topics: readonly string[], limit: number): Promise<StoredEvent[]>
  oldestEventId(): Promise<number | null>
  /**
   * The greatest event id ever written or reserved when the store opened (0 for a new store), or written since.
   * Survives restarts and pruning: after a crash it is past every id the crashed process may have handed out.
   */
  lastEventId(): number
  /** Durably reserves event ids up to `through`, so no id up to it is issued again after a crash. */
  reserveEventIds(through: number): Promise<void>
  /** At most `points` buckets of [ts, avg, min, max]; `to` defaults to the newest stored sample of the series. */
  range(
    metric: string,
    host: string,
    from: number | undefined,
    to: number | undefined,
    points: number,
  ): Promise<SeriesRange>
  metricNames(): Promise<{ host: string; name: string }[]>
  /** How many series a host has, and how many of `names` would be new ones. */
  countSeries(host: string, names: Iterable<string>): Promise<SeriesCount>
  /**
   * The newest sample of every series whose newest is at or after `since` (all of them by default), for the
   * Prometheus exposition: noted by writes, and read from stored history after a restart.
   */
  latest(since?: number): Promise<{ host: string; name: string; ts: number; value: number }[]>
  /** The newest sample of each of a host's series named in `names` that exists (OTLP delta sums add onto it). */
  latestOf(host: string, names: Iterable<string>): Promise<Map<string, { ts: number; value: number }>>
  /**
   * Housekeeping, run about once a minute: closes finished hours into chunks and rollups, applies each tier's
   * retention, drops events older than the replay window.
   */
  maintain(now: number): Promise<{ closedRows: number; removed: number[]; events: number }>
  /**
   * The earliest time a new sample may have: raw retention back from `now`. A sample for an hour already closed
   * is merged into it (in a batch, its rollups recomputed); an older one would have no chunk left to go to.
   */
  acceptsFrom(now: number): number
  storageStats(): Promise<StorageStats>
  close(): Promise<void>
}
