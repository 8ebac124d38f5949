/**
 * The wire protocol, shared by the hub and the dashboard. Free of server imports so Vite can bundle it;
 * the dashboard imports types only, so zod stays out of the browser bundle.
 */
import { z } from 'zod'

/** Dotted, lower case, unit last: `cpu.usage_pct`, `net.eth0.rx_bytes_per_s`. */
export const MetricName = z
  .string()
  .max(200)
  .regex(/^[a-z0-9_]+(\.[a-z0-9_]+)*$/, 'metric names are dotted lower case: [a-z0-9_] segments joined by dots')

export const TOPICS = ['metrics', 'config', 'jobs', 'hosts', 'audit'] as const
export const DEFAULT_TOPICS = ['metrics', 'config', 'jobs', 'hosts'] as const

export const Topic = z.union([z.enum(TOPICS), z.string().regex(/^job:[A-Za-z0-9_-]{1,64}$/, 'job:<id>')])
export type Topic = z.infer<typeof Topic>

/** `?topics=a,b`: a comma list of known topics, defaulting to metrics,config,jobs,hosts. */
export const StreamQuery = z.object({
  topics: z
    .string()
    .max(2000)
    .optional()
    .transform((s) => (s === undefined || s === '' ? [...DEFAULT_TOPICS] : [...new Set(s.split(','))]))
    .pipe(z.array(Topic).min(1).max(32)),
  lastEventId: z.string().max(20).regex(/^\d+$/, 'a decimal event id').optional(),
  tail: z.coerce.number().int().min(0).max(10_000).default(200),
})

export const HostName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'host names are letters, digits, dots, dashes and underscores')

export const SeriesQuery = z
  .object({
    metric: MetricName,
    host: HostName.optional(),
    from: z.coerce.number().int().nonnegative().optional(),
    to: z.coerce.number().int().nonnegative().optional(),
    points: z.coerce.number().int().min(1).max(10_000).default(500),
    format: z.enum(['json', 'csv']).default('json'),
  })
  .refine((q) => q.from === undefined || q.to === undefined || q.from <= q.to, {
    message: 'from must not be after to',
    path: ['from'],
  })
export type SeriesQuery = z.infer<typeof SeriesQuery>

/** `POST /api/metrics`: custom samples; `ts` (epoch ms) defaults to the time the hub receives them. */
export const MetricsBatch = z.strictObject({
  host: HostName.optional(),
  samples: z
    .array(
      z.strictObject({
        name: MetricName,
        ts: z.number().int().min(0).max(8_640_000_000_000_000).optional(),
        value: z.number(),
      }),
    )
    .min(1)
    .max(10_000),
})
export type MetricsBatch = z.infer<typeof MetricsBatch>

/** One bucket: [ts of its first sample, avg, min, max]. */
export type SeriesPoint = [ts: number, avg: number, min: number, max: number]

export interface SeriesResponse {
  metric: string
  host: string
  from: number
  to: number
  stepMs: number
  /** The history tier the buckets come from: `raw`, `1m` or `1h`. */
  tier: 'raw' | '1m' | '1h'
  points: SeriesPoint[]
}

export interface CatalogEntry {
  name: string
  unit: string
  group: 'fast' | 'slow' | 'self' | 'custom'
  description: string
}

export interface MetricsEvent {
  host: string
  ts: number
  intervalMs: number
  values: Record<string, number>
}

export interface ProcessInfo {
  pid: number
  name: string
  cpuPct: number
  memBytes: number
}

export interface HostEvent {
  host: string
  ts: number
  info: { platform: string; release: string; arch: string; cores: number; memTotalBytes: number; bootTime: number }
  processes: { count: number; topCpu: ProcessInfo[]; topMem: ProcessInfo[] }
}

/**
 * Why a resume can't be exact: the id is older than the replay window (`too_old`), was never issued
 * (`unknown_id`), or events after it were lost while storage failed (`gap`). The client reloads history.
 */
export interface ResetEvent {
  reason: 'too_old' | 'unknown_id' | 'gap'
  lastEventId: string
}

/** A fault the hub is living with: which part, what is wrong, since when (epoch ms). */
export interface HealthReason {
  component: string
  message: string
  since: number
}

export interface HealthResponse {
  status: 'ok' | 'degraded'
  version: string
  uptimeS: number
  /** Empty when `ok`. */
  reasons: HealthReason[]
}

export const ROLES = ['viewer', 'operator', 'admin', 'reporter', 'agent'] as const
export const Role = z.enum(ROLES)
export type Role = z.infer<typeof Role>

/** Who a request acts as: a token's name and role, or the anonymous viewer of a loopback hub. */
export interface Identity {
  name: string
  role: Role
  anonymous: boolean
}

export const LoginRequest = z.object({ token: z.string().min(1).max(200) })

export type ErrorCode =
  | 'invalid'
  | 'not_found'
  | 'conflict'
  | 'internal'
  | 'payload_too_large'
  | 'unauthorized'
  | 'forbidden'
  | 'cardinality_limit'
  | 'too_many_connections'
  | 'rate_limited'
  | 'unavailable'
export interface ErrorBody {
  error: { code: ErrorCode | ControlErrorCode; message: string }
}

// ── Control channel (WebSocket /api/control) ────────────────────────────────────────────────────────────────

/** A request id, echoed in the reply. */
export const RequestId = z.union([z.string().min(1).max(64), z.number().int().safe()])
export type RequestId = z.infer<typeof RequestId>

export const SAMPLE_LIMITS = { fast: { min: 100, max: 60_000 }, slow: { min: 1000, max: 600_000 } } as const

const SamplingSet = z
  .object({
    id: RequestId,
    type: z.literal('sampling.set'),
    intervalMs: z.number().int(),
    group: z.enum(['fast', 'slow']).default('fast'),
    host: z.string().min(1).max(253).optional(),
    ttlMs: z
      .number()
      .int()
      .min(1000)
      .max(7 * 86_400_000)
      .optional(),
  })
  .strict()
  .superRefine((cmd, ctx) => {
    const { min, max } = SAMPLE_LIMITS[cmd.group]
    if (cmd.intervalMs < min || cmd.intervalMs > max) {
      ctx.addIssue({ code: 'custom', path: ['intervalMs'], message: `${cmd.group} interval must be ${min}–${max} ms` })
    }
  })

/** Every message a client may send, by `type`. */
export const Command = z.discriminatedUnion('type', [
  z.object({ id: RequestId.optional(), type: z.literal('ping') }).strict(),
  SamplingSet,
  z.object({ id: RequestId, type: z.literal('sampling.pause') }).strict(),
  z.object({ id: RequestId, type: z.literal('sampling.resume') }).strict(),
  z
    .object({
      id: RequestId,
      type: z.literal('job.cancel'),
      jobId: z.string().min(1).max(64),
      reason: z.string().max(500).optional(),
    })
    .strict(),
  z.object({ id: RequestId, type: z.literal('job.retry'), jobId: z.string().min(1).max(64) }).strict(),
])
export type Command = z.infer<typeof Command>
export type CommandType = Command['type']
export const COMMAND_TYPES = Command.options.map((o) => o.shape.type.value) as readonly CommandType[]

/** What every message must at least be, so a reply can carry its id even when the rest is invalid. */
export const Envelope = z.object({ id: RequestId.optional(), type: z.string().max(64) }).loose()

export const CONTROL_ERROR_CODES = [
  'bad_json',
  'invalid',
  'unknown_command',
  'forbidden',
  'rate_limited',
  'not_found',
  'conflict',
  'internal',
] as const
export type ControlErrorCode = (typeof CONTROL_ERROR_CODES)[number]

export type Reply =
  | { id: RequestId | null; ok: true; result: unknown }
  | { id: RequestId | null; ok: false; error: { code: ControlErrorCode; message: string } }
  | { id?: RequestId; type: 'pong' }

/** The sampling settings operators change; durable, versioned desired state. */
export interface SamplingSettings {
  fastMs: number
  slowMs: number
  paused: boolean
}

/** The `config` event, and the answer of `GET /api/config`. */
export interface ConfigEvent {
  version: number
  sampling: SamplingSettings
  changedBy: string
  at: number
  revertsAt?: number
}

export interface AuditEntry {
  id: number
  ts: number
  actor: string
  role: string
  remote: string | null
  command: string
  args: unknown
  outcome: 'accepted' | 'refused' | 'failed'
  errorCode: string | null
}

export const AuditQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  before: z.coerce.number().int().positive().optional(),
})

// ── Jobs ─────────────────────────────────────────────────────────────────────────────────────────────────────

export const JOB_STATES = ['queued', 'running', 'cancelling', 'succeeded', 'failed', 'cancelled', 'lost'] as const
export type JobState = (typeof JOB_STATES)[number]
export const FINAL_JOB_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled', 'lost']

const JobName = z.string().min(1).max(200)
const Labels = z
  .record(z.string().max(64), z.string().max(256))
  .refine((l) => Object.keys(l).length <= 32, 'at most 32 labels')

export const NewJob = z
  .object({
    name: JobName,
    labels: Labels.default({}),
    host: z.string().min(1).max(253).optional(),
    queued: z.boolean().default(false),
    command: z.array(z.string().max(4096)).min(1).max(256).optional(),
    retryOf: z.string().max(64).optional(),
  })
  .strict()
export type NewJob = z.infer<typeof NewJob>

export const ProgressUpdate = z
  .object({
    percent: z.number().min(0).max(100).nullable().optional(),
    current: z.number().nonnegative().optional(),
    total: z.number().positive().optional(),
    unit: z.string().max(32).optional(),
    step: z
      .object({ index: z.number().int().min(1), count: z.number().int().min(1), name: z.string().max(200).default('') })
      .optional(),
    message: z.string().max(1000).optional(),
  })
  .strict()
export type ProgressUpdate = z.infer<typeof ProgressUpdate>

export const LogLineIn = z.object({
  stream: z.enum(['stdout', 'stderr', 'system']).default('stdout'),
  text: z.string().max(1_048_576),
  ts: z.number().int().nonnegative().optional(),
  level: z.string().max(16).optional(),
})
export type LogLineIn = z.infer<typeof LogLineIn>

export const LogBatchQuery = z.object({ batch: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER) })

export const FinishJob = z
  .object({
    state: z.enum(['succeeded', 'failed', 'cancelled']),
    exitCode: z.number().int().optional(),
    error: z.string().max(4000).optional(),
  })
  .strict()

/** What `vigil run` measures of its command's process group and sends with each heartbeat. */
export const HeartbeatBody = z
  .object({
    cpuPct: z.number().nonnegative().max(1_000_000).optional(),
    rssBytes: z.number().int().nonnegative().optional(),
  })
  .strict()
export type HeartbeatBody = z.infer<typeof HeartbeatBody>

/** The answer to a heartbeat: whether to stop, and (to a runner waiting after the end) whether to run again. */
export interface HeartbeatReply {
  cancelRequested: Job['cancelRequested']
  retry: { jobId: string } | null
}

export const JobsQuery = z.object({
  state: z.enum(JOB_STATES).optional(),
  name: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
})

export const LogsQuery = z.object({
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
})

export interface Progress {
  percent: number | null
  current: number | null
  total: number | null
  unit: string | null
  step: { index: number; count: number; name: string } | null
  message: string | null
  /** Milliseconds left, from a smoothed rate; null until the rate means something. */
  etaMs: number | null
}

export interface Job {
  id: string
  name: string
  labels: Record<string, string>
  host: string
  attempt: number
  retryOf: string | null
  state: JobState
  progress: Progress
  createdAt: number
  startedAt: number | null
  finishedAt: number | null
  heartbeatAt: number | null
  exitCode: number | null
  error: string | null
  cancelRequested: { by: string; at: number; reason: string | null } | null
  /** The latest CPU (percent of one core) and RSS of the job's process tree, from `vigil run`. */
  resources: { cpuPct: number; rssBytes: number; at: number } | null
  /** The job that retried this one, once `job.retry` was accepted. */
  retriedAs: string | null
  log: { lines: number; dropped: number }
}

export interface LogLine {
  seq: number
  ts: number
  stream: 'stdout' | 'stderr' | 'system'
  level: string | null
  text: string
  /** Set when the line was longer than 16 KiB and was cut. */
  cut: boolean
}

/** A `log` event on `job:<id>`: one ingest batch, in seq order. */
export interface LogEvent {
  jobId: string
  lines: LogLine[]
}

/** A history tier's size in `GET /api/stats`. */
export interface TierStatsView {
  tier: 'raw' | '1m' | '1h'
  samples: number
  bytes: number
  retentionMs: number
}

/** `GET /api/stats`: what Vigil itself costs. */
export interface StatsResponse {
  clients: number
  controlSockets: number
  droppedClients: number
  eventsPerS: number
  lastEventId: number
  storeErrors: number
  sampler: Record<
    'fast' | 'slow',
    { intervalMs: number; ticks: number; skipped: number; lastMs: number; avgMs: number }
  >
  storage: {
    dbBytes: number
    walBytes: number
    series: number
    tiers: TierStatsView[]
    openSamples: number
    headBytes: number
    /** Samples refused because they were older than raw retention. */
    lateSamples: number
    /** Late samples stored and waiting to be merged into their closed hours. */
    lateWaiting: number
    /** Closed hours rewritten to take late samples, since start. */
    lateMerges: number
  }
  process: { rssBytes: number; heapUsedBytes: number; eventLoopLagP99Ms: number; uptimeS: number }
}
