/**
 * The PostgreSQL schema: the same tables, columns and keys as `schema.ts` (whose comments say what each holds),
 * in PostgreSQL's types. Times are milliseconds since the epoch (`bigint`), chunks and packed samples `bytea` in
 * the same codec. Not here: `samples`, the one-row-per-sample table of the first SQLite versions, which a new
 * PostgreSQL database never had, and `head` and `late`, which `open_samples` replaces.
 * `server/store/pg.cluster.test.ts` checks that the two schemas keep the same tables and columns otherwise.
 */
import {
  bigint,
  boolean,
  customType,
  doublePrecision,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
} from 'drizzle-orm/pg-core'

const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' })
/** Milliseconds since the epoch, or a count that outgrows 32 bits: JavaScript numbers, exact below 2^53. */
const ms = (name: string) => bigint(name, { mode: 'number' })
/** A row id the database assigns. */
const rowId = (name: string) => bigint(name, { mode: 'number' }).primaryKey().generatedByDefaultAsIdentity()

export const series = pgTable(
  'series',
  {
    id: rowId('id'),
    host: text('host').notNull(),
    name: text('name').notNull(),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [uniqueIndex('series_host_name').on(t.host, t.name)],
)

function tierTable(name: string) {
  return pgTable(
    name,
    {
      id: rowId('id'),
      seriesId: bigint('series_id', { mode: 'number' }).notNull(),
      startTs: ms('start_ts').notNull(),
      count: integer('count').notNull(),
      data: bytea('data').notNull(),
    },
    (t) => [uniqueIndex(`${name}_series_start`).on(t.seriesId, t.startTs), index(`${name}_start`).on(t.startTs)],
  )
}
export const chunksRaw = tierTable('chunks_raw')
export const chunks1m = tierTable('chunks_1m')
export const chunks1h = tierTable('chunks_1h')

/**
 * Raw samples not yet in a closed chunk, one row each, so that every hub reads the open hour whichever hub wrote
 * it. Also the samples that came late for an hour already closed, until housekeeping merges them into its chunk.
 * In place of SQLite's `head` and `late`, which only the one process that writes them reads.
 */
export const openSamples = pgTable(
  'open_samples',
  {
    seriesId: bigint('series_id', { mode: 'number' }).notNull(),
    ts: ms('ts').notNull(),
    value: doublePrecision('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.seriesId, t.ts] })],
)

export const events = pgTable(
  'events',
  {
    id: bigint('id', { mode: 'number' }).primaryKey(),
    ts: ms('ts').notNull(),
    topic: text('topic').notNull(),
    event: text('event').notNull(),
    data: text('data').notNull(),
  },
  (t) => [index('events_ts').on(t.ts)],
)

export const meta = pgTable('meta', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
})

export const tokens = pgTable(
  'tokens',
  {
    id: rowId('id'),
    name: text('name').notNull(),
    role: text('role', { enum: ['viewer', 'operator', 'admin', 'reporter', 'agent'] }).notNull(),
    hash: text('hash').notNull(),
    createdAt: ms('created_at').notNull(),
    revokedAt: ms('revoked_at'),
    lastUsedAt: ms('last_used_at'),
  },
  (t) => [uniqueIndex('tokens_name').on(t.name), uniqueIndex('tokens_hash').on(t.hash)],
)

export const sessions = pgTable('sessions', {
  hash: text('hash').primaryKey(),
  tokenId: bigint('token_id', { mode: 'number' }).notNull(),
  createdAt: ms('created_at').notNull(),
  expiresAt: ms('expires_at').notNull(),
})

export const loginCodes = pgTable('login_codes', {
  hash: text('hash').primaryKey(),
  tokenId: bigint('token_id', { mode: 'number' }).notNull(),
  expiresAt: ms('expires_at').notNull(),
})

export const settings = pgTable('settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
  version: integer('version').notNull(),
  updatedAt: ms('updated_at').notNull(),
})

export const audit = pgTable(
  'audit',
  {
    id: rowId('id'),
    ts: ms('ts').notNull(),
    actorName: text('actor_name').notNull(),
    actorRole: text('actor_role').notNull(),
    remote: text('remote'),
    command: text('command').notNull(),
    args: text('args').notNull(),
    outcome: text('outcome', { enum: ['accepted', 'refused', 'failed'] }).notNull(),
    errorCode: text('error_code'),
  },
  (t) => [index('audit_ts').on(t.ts)],
)

export const jobs = pgTable(
  'jobs',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    labels: text('labels').notNull(),
    host: text('host').notNull(),
    attempt: integer('attempt').notNull(),
    retryOf: text('retry_of'),
    state: text('state', {
      enum: ['queued', 'running', 'cancelling', 'succeeded', 'failed', 'cancelled', 'lost'],
    }).notNull(),
    progress: text('progress').notNull(),
    ownerTokenId: bigint('owner_token_id', { mode: 'number' }),
    command: text('command'),
    createdAt: ms('created_at').notNull(),
    startedAt: ms('started_at'),
    finishedAt: ms('finished_at'),
    heartbeatAt: ms('heartbeat_at'),
    exitCode: integer('exit_code'),
    error: text('error'),
    cancelRequested: text('cancel_requested'),
    resources: text('resources'),
    retriedAs: text('retried_as'),
    logLines: bigint('log_lines', { mode: 'number' }).notNull(),
    logDropped: bigint('log_dropped', { mode: 'number' }).notNull(),
    lastBatch: bigint('last_batch', { mode: 'number' }).notNull(),
  },
  (t) => [index('jobs_created').on(t.createdAt), index('jobs_state').on(t.state)],
)

/** Job log lines in chunks, as in the SQLite schema. */
export const jobLogChunks = pgTable(
  'job_log_chunks',
  {
    jobId: text('job_id').notNull(),
    lastSeq: bigint('last_seq', { mode: 'number' }).notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    ts: ms('ts').notNull(),
    stream: text('stream', { enum: ['stdout', 'stderr', 'system'] }).notNull(),
    level: text('level'),
    text: text('text').notNull(),
    meta: text('meta'),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.lastSeq] })],
)

export const hosts = pgTable(
  'hosts',
  {
    name: text('name').primaryKey(),
    local: boolean('local').notNull(),
    tokenId: bigint('token_id', { mode: 'number' }),
    machineId: text('machine_id'),
    agentVersion: text('agent_version'),
    info: text('info'),
    spool: text('spool'),
    devices: text('devices'),
    backfill: text('backfill'),
    firstSeenAt: ms('first_seen_at').notNull(),
    lastSeenAt: ms('last_seen_at'),
  },
  (t) => [uniqueIndex('hosts_token').on(t.tokenId)],
)

export const hostGaps = pgTable(
  'host_gaps',
  {
    id: rowId('id'),
    host: text('host').notNull(),
    spoolId: text('spool_id').notNull(),
    fromSeq: bigint('from_seq', { mode: 'number' }).notNull(),
    toSeq: bigint('to_seq', { mode: 'number' }).notNull(),
    fromTs: ms('from_ts').notNull(),
    toTs: ms('to_ts').notNull(),
    ticks: bigint('ticks', { mode: 'number' }).notNull(),
    reportedAt: ms('reported_at').notNull(),
  },
  (t) => [uniqueIndex('host_gaps_seq').on(t.host, t.spoolId, t.fromSeq), index('host_gaps_host').on(t.host, t.toTs)],
)

export const ingestCursors = pgTable('ingest_cursors', {
  stream: text('stream').primaryKey(),
  through: bigint('through', { mode: 'number' }).notNull(),
  updatedAt: ms('updated_at').notNull(),
})

export const alertRules = pgTable('alert_rules', {
  name: text('name').primaryKey(),
  kind: text('kind').notNull(),
  spec: text('spec').notNull(),
  updatedAt: ms('updated_at').notNull(),
  updatedBy: text('updated_by').notNull(),
})

export const alertChannels = pgTable('alert_channels', {
  name: text('name').primaryKey(),
  kind: text('kind').notNull(),
  url: text('url').notNull(),
  headers: text('headers'),
  minSeverity: text('min_severity').notNull(),
  updatedAt: ms('updated_at').notNull(),
  updatedBy: text('updated_by').notNull(),
})

export const alerts = pgTable(
  'alerts',
  {
    id: text('id').primaryKey(),
    rule: text('rule').notNull(),
    kind: text('kind').notNull(),
    host: text('host').notNull(),
    series: text('series').notNull(),
    state: text('state').notNull(),
    severity: text('severity').notNull(),
    value: doublePrecision('value'),
    threshold: doublePrecision('threshold'),
    since: ms('since').notNull(),
    startsAt: ms('starts_at'),
    endsAt: ms('ends_at'),
    episode: integer('episode').notNull(),
    notifiedEpisode: integer('notified_episode').notNull(),
    notifiedAt: ms('notified_at'),
    repeats: integer('repeats').notNull(),
    labels: text('labels').notNull(),
    history: text('history').notNull(),
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [index('alerts_state').on(t.state), index('alerts_updated').on(t.updatedAt)],
)

export const alertNotifications = pgTable(
  'alert_notifications',
  {
    id: rowId('id'),
    alertId: text('alert_id').notNull(),
    channel: text('channel').notNull(),
    key: text('key').notNull(),
    state: text('state').notNull(),
    body: text('body').notNull(),
    status: text('status').notNull(),
    attempts: integer('attempts').notNull(),
    nextAt: ms('next_at').notNull(),
    createdAt: ms('created_at').notNull(),
    deliveredAt: ms('delivered_at'),
    lastError: text('last_error'),
  },
  (t) => [
    uniqueIndex('alert_notifications_key').on(t.key, t.channel),
    index('alert_notifications_due').on(t.status, t.nextAt),
    index('alert_notifications_alert').on(t.alertId),
  ],
)

export const alertAttempts = pgTable(
  'alert_attempts',
  {
    id: rowId('id'),
    notificationId: bigint('notification_id', { mode: 'number' }).notNull(),
    at: ms('at').notNull(),
    ok: boolean('ok').notNull(),
    status: integer('status'),
    error: text('error'),
    ms: integer('ms').notNull(),
  },
  (t) => [index('alert_attempts_notification').on(t.notificationId)],
)

export const alertSilences = pgTable(
  'alert_silences',
  {
    id: text('id').primaryKey(),
    matchers: text('matchers').notNull(),
    reason: text('reason').notNull(),
    createdBy: text('created_by').notNull(),
    startsAt: ms('starts_at').notNull(),
    endsAt: ms('ends_at').notNull(),
    endedBy: text('ended_by'),
    closedAt: ms('closed_at'),
  },
  (t) => [index('alert_silences_ends').on(t.endsAt)],
)
