import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'

/** One row per (host, metric name). Samples point at it by id to keep each sample row small. */
export const series = sqliteTable(
  'series',
  {
    id: integer('id').primaryKey(),
    host: text('host').notNull(),
    name: text('name').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [uniqueIndex('series_host_name').on(t.host, t.name)],
)

/** Raw samples. Clustered by (series, ts) so a range read of one series is one index walk. */
export const samples = sqliteTable(
  'samples',
  {
    seriesId: integer('series_id').notNull(),
    ts: integer('ts').notNull(),
    value: real('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.seriesId, t.ts] })],
)

/** The event log behind SSE resume: every published event, kept for the replay window. */
export const events = sqliteTable(
  'events',
  {
    id: integer('id').primaryKey(),
    ts: integer('ts').notNull(),
    topic: text('topic').notNull(),
    event: text('event').notNull(),
    data: text('data').notNull(),
  },
  (t) => [index('events_ts').on(t.ts)],
)

/** Small durable key/value state, such as the last event id ever issued. */
export const meta = sqliteTable('meta', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
})
