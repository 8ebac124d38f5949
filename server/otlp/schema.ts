import { z } from 'zod'

/**
 * `ExportMetricsServiceRequest` in OTLP/JSON (the protobuf encoding is read into the same shape first). Fields
 * Vigil does not map are let through unread, as OTLP asks of a receiver; the sizes are capped.
 */

/**
 * int64 and fixed64 travel as decimal strings in OTLP/JSON (as numbers from some senders, and from the protobuf
 * reader, which keeps nanoseconds as numbers: past 2^53, exact to well under a millisecond). One check, not a
 * union: a union's failed first branch costs an issue object a field, on every point.
 */
const Int64 = z
  .custom<string | number>(
    (v) => (typeof v === 'number' ? Number.isInteger(v) : typeof v === 'string' && /^-?\d{1,20}$/.test(v)),
    'an integer, or one as a decimal string',
  )
  .meta({ type: ['string', 'integer'], description: 'int64: a decimal string, or a number' })
/** A double, or the strings OTLP/JSON uses for the values JSON lacks. */
const Double = z.union([z.number(), z.enum(['NaN', 'Infinity', '-Infinity'])])

/** An attribute's value. Arrays and maps are let through unread: an attribute segment names them `complex`. */
const AnyValue = z.object({
  stringValue: z.string().max(4096).optional(),
  boolValue: z.boolean().optional(),
  intValue: Int64.optional(),
  doubleValue: Double.optional(),
  arrayValue: z.unknown().optional(),
  kvlistValue: z.unknown().optional(),
})
const KeyValue = z.object({ key: z.string().max(256), value: AnyValue.optional() })
export type KeyValue = z.infer<typeof KeyValue>
const Attributes = z.array(KeyValue).max(128).optional()

const NumberDataPoint = z.object({
  attributes: Attributes,
  startTimeUnixNano: Int64.optional(),
  timeUnixNano: Int64.optional(),
  asDouble: Double.optional(),
  asInt: Int64.optional(),
})
export type NumberDataPoint = z.infer<typeof NumberDataPoint>

/**
 * A histogram's, an exponential histogram's or a summary's point, as far as Vigil reads it: the count and sum of
 * what it observed (and a summary's quantiles). Buckets, exemplars, min and max are let through unread.
 */
const DistributionPoint = z.object({
  attributes: Attributes,
  startTimeUnixNano: Int64.optional(),
  timeUnixNano: Int64.optional(),
  count: Int64.optional(),
  sum: Double.optional(),
  quantileValues: z
    .array(z.object({ quantile: Double.optional(), value: Double.optional() }))
    .max(100)
    .optional(),
})
export type DistributionPoint = z.infer<typeof DistributionPoint>

const Temporality = z.union([
  z.literal(0),
  z.literal(1),
  z.literal(2),
  z.enum([
    'AGGREGATION_TEMPORALITY_UNSPECIFIED',
    'AGGREGATION_TEMPORALITY_DELTA',
    'AGGREGATION_TEMPORALITY_CUMULATIVE',
  ]),
])

const Distribution = z.object({
  dataPoints: z.array(DistributionPoint).max(10_000).optional(),
  aggregationTemporality: Temporality.optional(),
})

const Metric = z.object({
  name: z.string().min(1, 'a metric needs a name').max(256),
  unit: z.string().max(64).optional(),
  gauge: z.object({ dataPoints: z.array(NumberDataPoint).max(10_000).optional() }).optional(),
  sum: z
    .object({
      dataPoints: z.array(NumberDataPoint).max(10_000).optional(),
      aggregationTemporality: Temporality.optional(),
      isMonotonic: z.boolean().optional(),
    })
    .optional(),
  histogram: Distribution.optional(),
  exponentialHistogram: Distribution.optional(),
  summary: z.object({ dataPoints: z.array(DistributionPoint).max(10_000).optional() }).optional(),
})
export type Metric = z.infer<typeof Metric>

export const MetricsRequest = z.object({
  resourceMetrics: z
    .array(
      z.object({
        resource: z.object({ attributes: Attributes }).optional(),
        scopeMetrics: z
          .array(z.object({ metrics: z.array(Metric).max(10_000).optional() }))
          .max(1000)
          .optional(),
      }),
    )
    .max(1000)
    .optional(),
})
export type MetricsRequest = z.infer<typeof MetricsRequest>

/** 1 delta, 2 cumulative, 0 unspecified, by number or by name. */
export function temporalityOf(t: z.infer<typeof Temporality> | undefined): 'delta' | 'cumulative' | 'unspecified' {
  if (t === 1 || t === 'AGGREGATION_TEMPORALITY_DELTA') return 'delta'
  if (t === 2 || t === 'AGGREGATION_TEMPORALITY_CUMULATIVE') return 'cumulative'
  return 'unspecified'
}
