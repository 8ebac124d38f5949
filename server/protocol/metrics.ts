import { z } from 'zod'
import { HostName, MetricName } from './common.ts'

export const CatalogQuery = z.object({ host: HostName.optional() })

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
