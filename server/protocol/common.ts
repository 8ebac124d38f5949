import { z } from 'zod'

/** The rule of a metric name: dotted lower case segments. */
export const METRIC_NAME_PATTERN = /^[a-z0-9_]+(\.[a-z0-9_]+)*$/
export const METRIC_NAME_MAX = 200

/** Dotted, lower case, unit last: `cpu.usage_pct`, `net.eth0.rx_bytes_per_s`. */
export const MetricName = z
  .string()
  .max(METRIC_NAME_MAX)
  .regex(METRIC_NAME_PATTERN, 'metric names are dotted lower case: [a-z0-9_] segments joined by dots')

export const HostName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'host names are letters, digits, dots, dashes and underscores')

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

/** A history tier's size in `GET /api/stats`. */
export interface TierStatsView {
  tier: 'raw' | '1m' | '1h'
  samples: number
  bytes: number
  retentionMs: number
}

/** The history store's size and state, as `GET /api/stats` reports it. */
export interface StorageView {
  dbBytes: number
  walBytes: number
  series: number
  tiers: TierStatsView[]
  /** Samples written but not yet in a closed chunk (kept durable by the head table). */
  openSamples: number
  /** Of the open samples, those held encoded in memory (a fleet's open hour past the plain budget). */
  openEncoded: number
  headBytes: number
  /** Samples refused because they were older than raw retention. */
  lateSamples: number
  /** Late samples (for hours already closed) stored durably and waiting to be merged into their chunks. */
  lateWaiting: number
  /** Closed hours rewritten to take late samples, since start: one per window and batch of a replay. */
  lateMerges: number
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
  storage: StorageView
  process: { rssBytes: number; heapUsedBytes: number; eventLoopLagP99Ms: number; uptimeS: number }
}
