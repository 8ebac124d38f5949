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
