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
})

export const SeriesQuery = z
  .object({
    metric: MetricName,
    host: z.string().min(1).max(253).optional(),
    from: z.coerce.number().int().nonnegative().optional(),
    to: z.coerce.number().int().nonnegative().optional(),
    points: z.coerce.number().int().min(1).max(10_000).default(500),
  })
  .refine((q) => q.from === undefined || q.to === undefined || q.from <= q.to, {
    message: 'from must not be after to',
    path: ['from'],
  })
export type SeriesQuery = z.infer<typeof SeriesQuery>

/** One bucket: [ts of its first sample, avg, min, max]. */
export type SeriesPoint = [ts: number, avg: number, min: number, max: number]

export interface SeriesResponse {
  metric: string
  host: string
  from: number
  to: number
  stepMs: number
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

export interface ResetEvent {
  reason: 'too_old' | 'unknown_id'
  lastEventId: string
}

export interface HealthResponse {
  status: 'ok' | 'degraded'
  version: string
  uptimeS: number
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

export type ErrorCode = 'invalid' | 'not_found' | 'internal' | 'payload_too_large' | 'unauthorized' | 'forbidden'
export interface ErrorBody {
  error: { code: ErrorCode; message: string }
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

export type ControlErrorCode =
  | 'bad_json'
  | 'invalid'
  | 'unknown_command'
  | 'forbidden'
  | 'rate_limited'
  | 'not_found'
  | 'conflict'
  | 'internal'

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
