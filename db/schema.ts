import { blob, index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'

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

/**
 * Raw samples as the first versions stored them, one row each. Emptied into chunks when the store opens; kept so
 * an old data dir upgrades without losing history.
 */
export const samples = sqliteTable(
  'samples',
  {
    seriesId: integer('series_id').notNull(),
    ts: integer('ts').notNull(),
    value: real('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.seriesId, t.ts] })],
)

/**
 * One table a tier, each row a closed span of one series encoded by server/store/codec.ts: raw samples for an
 * hour, 1-minute buckets (min, max, sum, count) for an hour, 1-hour buckets for a day.
 */
function tierTable(name: string) {
  return sqliteTable(
    name,
    {
      id: integer('id').primaryKey(),
      seriesId: integer('series_id').notNull(),
      startTs: integer('start_ts').notNull(),
      count: integer('count').notNull(),
      data: blob('data', { mode: 'buffer' }).notNull(),
    },
    (t) => [uniqueIndex(`${name}_series_start`).on(t.seriesId, t.startTs), index(`${name}_start`).on(t.startTs)],
  )
}
export const chunksRaw = tierTable('chunks_raw')
export const chunks1m = tierTable('chunks_1m')
export const chunks1h = tierTable('chunks_1h')

/**
 * The write-ahead head: every write of samples not yet in a closed chunk, as packed (series id, [ts,] value)
 * float64s, so a crash loses nothing that was acknowledged. Rows go once their samples are in chunks.
 */
export const head = sqliteTable('head', {
  id: integer('id').primaryKey(),
  minTs: integer('min_ts').notNull(),
  maxTs: integer('max_ts').notNull(),
  data: blob('data', { mode: 'buffer' }).notNull(),
})

/**
 * Late samples (a replay after an outage, a back-fill) for hours already closed, as packed (series id, ts, value)
 * float64s: durable until they are merged into their hours' chunks, in batches. Rows go once merged.
 */
export const late = sqliteTable('late', {
  id: integer('id').primaryKey(),
  data: blob('data', { mode: 'buffer' }).notNull(),
})

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

/** API tokens: only a SHA-256 of the secret is kept. Names are unique for the life of the data dir. */
export const tokens = sqliteTable(
  'tokens',
  {
    id: integer('id').primaryKey(),
    name: text('name').notNull(),
    role: text('role', { enum: ['viewer', 'operator', 'admin', 'reporter', 'agent'] }).notNull(),
    hash: text('hash').notNull(),
    createdAt: integer('created_at').notNull(),
    revokedAt: integer('revoked_at'),
    lastUsedAt: integer('last_used_at'),
  },
  (t) => [uniqueIndex('tokens_name').on(t.name), uniqueIndex('tokens_hash').on(t.hash)],
)

/** Browser sessions (the cookie's secret, hashed), each acting as the token it was opened with. */
export const sessions = sqliteTable('sessions', {
  hash: text('hash').primaryKey(),
  tokenId: integer('token_id').notNull(),
  createdAt: integer('created_at').notNull(),
  expiresAt: integer('expires_at').notNull(),
})

/** One-time login codes, such as the link printed at first start. Deleted when used. */
export const loginCodes = sqliteTable('login_codes', {
  hash: text('hash').primaryKey(),
  tokenId: integer('token_id').notNull(),
  expiresAt: integer('expires_at').notNull(),
})

/** Durable desired state, such as the sampling settings operators set; each change bumps `version`. */
export const settings = sqliteTable('settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
  version: integer('version').notNull(),
  updatedAt: integer('updated_at').notNull(),
})

/** Append-only record of every command, accepted or refused, and of changes the system makes by itself. */
export const audit = sqliteTable(
  'audit',
  {
    id: integer('id').primaryKey(),
    ts: integer('ts').notNull(),
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

/** Jobs reported through the ingest API or run by `vigil run`. JSON columns hold structured fields. */
export const jobs = sqliteTable(
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
    ownerTokenId: integer('owner_token_id'),
    command: text('command'),
    createdAt: integer('created_at').notNull(),
    startedAt: integer('started_at'),
    finishedAt: integer('finished_at'),
    heartbeatAt: integer('heartbeat_at'),
    exitCode: integer('exit_code'),
    error: text('error'),
    cancelRequested: text('cancel_requested'),
    resources: text('resources'),
    retriedAs: text('retried_as'),
    logLines: integer('log_lines').notNull(),
    logDropped: integer('log_dropped').notNull(),
    lastBatch: integer('last_batch').notNull(),
  },
  (t) => [index('jobs_created').on(t.createdAt), index('jobs_state').on(t.state)],
)

/**
 * Job log lines, stored in chunks: each row holds consecutive lines (`seq` to `last_seq`) of one stream and level,
 * their texts joined by LF (a stored line holds no LF or CR). `ts` is the first line's; `meta` is null, or JSON
 * `{dt?: number[], cut?: number[]}`: each line's ts minus `ts` where they differ, and the offsets of cut lines.
 */
export const jobLogChunks = sqliteTable(
  'job_log_chunks',
  {
    jobId: text('job_id').notNull(),
    lastSeq: integer('last_seq').notNull(),
    seq: integer('seq').notNull(),
    ts: integer('ts').notNull(),
    stream: text('stream', { enum: ['stdout', 'stderr', 'system'] }).notNull(),
    level: text('level'),
    text: text('text').notNull(),
    meta: text('meta'),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.lastSeq] })],
)

/**
 * Every host the hub has heard from: its own (local) and each agent's. An agent token is bound to the one host it
 * first connected as; `machine_id` tells a second machine claiming an online host's name.
 */
export const hosts = sqliteTable(
  'hosts',
  {
    name: text('name').primaryKey(),
    local: integer('local', { mode: 'boolean' }).notNull(),
    tokenId: integer('token_id'),
    machineId: text('machine_id'),
    agentVersion: text('agent_version'),
    /** JSON: platform, release, arch, cores, memory, boot time. */
    info: text('info'),
    /** JSON: the agent's spool as last reported. */
    spool: text('spool'),
    /** JSON: the host's interface and mount names, as its agent (or the hub's own sampler) last sent them. */
    devices: text('devices'),
    /** JSON: the latest replay that finished. */
    backfill: text('backfill'),
    firstSeenAt: integer('first_seen_at').notNull(),
    lastSeenAt: integer('last_seen_at'),
  },
  (t) => [uniqueIndex('hosts_token').on(t.tokenId)],
)

/** Ticks an agent dropped from a full spool, as it reported them: recorded once per (host, spool, first seq). */
export const hostGaps = sqliteTable(
  'host_gaps',
  {
    id: integer('id').primaryKey(),
    host: text('host').notNull(),
    spoolId: text('spool_id').notNull(),
    fromSeq: integer('from_seq').notNull(),
    toSeq: integer('to_seq').notNull(),
    fromTs: integer('from_ts').notNull(),
    toTs: integer('to_ts').notNull(),
    ticks: integer('ticks').notNull(),
    reportedAt: integer('reported_at').notNull(),
  },
  (t) => [uniqueIndex('host_gaps_seq').on(t.host, t.spoolId, t.fromSeq), index('host_gaps_host').on(t.host, t.toTs)],
)

/**
 * How far each agent spool's ticks are stored: every sequence number up to `through` is committed. Written in the
 * same transaction as the ticks, so an acknowledgement never runs ahead of the data.
 */
export const ingestCursors = sqliteTable('ingest_cursors', {
  stream: text('stream').primaryKey(),
  through: integer('through').notNull(),
  updatedAt: integer('updated_at').notNull(),
})

/** Alert rules by name: durable desired state, `spec` the rule as `alert.rule.set` took it (JSON). */
export const alertRules = sqliteTable('alert_rules', {
  name: text('name').primaryKey(),
  kind: text('kind').notNull(),
  spec: text('spec').notNull(),
  updatedAt: integer('updated_at').notNull(),
  updatedBy: text('updated_by').notNull(),
})

/** Notification channels by name. `url` and `headers` (JSON) are secrets: never logged, audited or read back. */
export const alertChannels = sqliteTable('alert_channels', {
  name: text('name').primaryKey(),
  kind: text('kind').notNull(),
  url: text('url').notNull(),
  headers: text('headers'),
  minSeverity: text('min_severity').notNull(),
  updatedAt: integer('updated_at').notNull(),
  updatedBy: text('updated_by').notNull(),
})

/**
 * One row per alert: a rule on one host and series (`series` is the metric, job name or health component, empty
 * for a host-wide rule). `state` is pending, firing or resolved; `episode` counts its firings, and
 * `notified_episode` is the last episode whose firing notice went to the outbox (so a restart never sends it
 * again). `history` is its recent state changes (JSON).
 */
export const alerts = sqliteTable(
  'alerts',
  {
    id: text('id').primaryKey(),
    rule: text('rule').notNull(),
    kind: text('kind').notNull(),
    host: text('host').notNull(),
    series: text('series').notNull(),
    state: text('state').notNull(),
    severity: text('severity').notNull(),
    value: real('value'),
    threshold: real('threshold'),
    since: integer('since').notNull(),
    startsAt: integer('starts_at'),
    endsAt: integer('ends_at'),
    episode: integer('episode').notNull(),
    notifiedEpisode: integer('notified_episode').notNull(),
    notifiedAt: integer('notified_at'),
    repeats: integer('repeats').notNull(),
    labels: text('labels').notNull(),
    history: text('history').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('alerts_state').on(t.state), index('alerts_updated').on(t.updatedAt)],
)

/**
 * The notification outbox: one row per notice and channel, written in the transaction that changed the alert.
 * `key` is the Idempotency-Key every attempt carries; `body` the notice (JSON). `status` is pending until
 * delivered, or failed once retrying gave up.
 */
export const alertNotifications = sqliteTable(
  'alert_notifications',
  {
    id: integer('id').primaryKey(),
    alertId: text('alert_id').notNull(),
    channel: text('channel').notNull(),
    key: text('key').notNull(),
    state: text('state').notNull(),
    body: text('body').notNull(),
    status: text('status').notNull(),
    attempts: integer('attempts').notNull(),
    nextAt: integer('next_at').notNull(),
    createdAt: integer('created_at').notNull(),
    deliveredAt: integer('delivered_at'),
    lastError: text('last_error'),
  },
  (t) => [
    uniqueIndex('alert_notifications_key').on(t.key, t.channel),
    index('alert_notifications_due').on(t.status, t.nextAt),
    index('alert_notifications_alert').on(t.alertId),
  ],
)

/** Every delivery attempt of a notification, with the channel's answer (never its URL). */
export const alertAttempts = sqliteTable(
  'alert_attempts',
  {
    id: integer('id').primaryKey(),
    notificationId: integer('notification_id').notNull(),
    at: integer('at').notNull(),
    ok: integer('ok', { mode: 'boolean' }).notNull(),
    status: integer('status'),
    error: text('error'),
    ms: integer('ms').notNull(),
  },
  (t) => [index('alert_attempts_notification').on(t.notificationId)],
)

/**
 * Silences: `matchers` (JSON) picks alerts by rule, host glob and severity until `ends_at`. `closed_at` is set once
 * its end was handled (audited, and the alerts it held back notified), so a restart does not handle it again.
 */
export const alertSilences = sqliteTable(
  'alert_silences',
  {
    id: text('id').primaryKey(),
    matchers: text('matchers').notNull(),
    reason: text('reason').notNull(),
    createdBy: text('created_by').notNull(),
    startsAt: integer('starts_at').notNull(),
    endsAt: integer('ends_at').notNull(),
    endedBy: text('ended_by'),
    closedAt: integer('closed_at'),
  },
  (t) => [index('alert_silences_ends').on(t.endsAt)],
)
