import { z } from 'zod'

export const TOPICS = ['metrics', 'fleet', 'config', 'jobs', 'hosts', 'audit', 'alerts'] as const
export const DEFAULT_TOPICS = ['metrics', 'config', 'jobs', 'hosts'] as const

export const Topic = z.union([
  z.enum(TOPICS),
  z.string().regex(/^job:[A-Za-z0-9_-]{1,64}$/, 'job:<id>'),
  z.string().regex(/^metrics:[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/, 'metrics:<host>'),
])
export type Topic = z.infer<typeof Topic>

/** The topic a host's `metrics` events are logged and streamed under; `metrics` carries every host's. */
export function metricsTopic(host: string): string {
  return `metrics:${host}`
}

/** Whether an event logged under `topic` is on one of the subscribed `topics`: `metrics` takes every `metrics:<host>`. */
export function inTopics(topics: readonly string[], topic: string): boolean {
  if (topics.includes(topic)) return true
  return topic.startsWith('metrics:') && topics.includes('metrics')
}

/** A subscription without the topics another one of it already carries (`metrics:a` beside `metrics`). */
export function distinctTopics(topics: readonly string[]): string[] {
  return topics.filter((t) => !(t.startsWith('metrics:') && topics.includes('metrics')))
}

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

/**
 * Why a resume can't be exact: the id is older than the replay window (`too_old`), was never issued
 * (`unknown_id`), or events after it were lost while storage failed (`gap`). The client reloads history.
 */
export interface ResetEvent {
  reason: 'too_old' | 'unknown_id' | 'gap'
  lastEventId: string
}
