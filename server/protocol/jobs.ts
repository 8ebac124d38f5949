import { z } from 'zod'

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
  /** Only the lines that contain this text (case-insensitive), across the whole stored log. */
  q: z.string().min(1).max(200).optional(),
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
