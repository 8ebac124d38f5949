import { z } from 'zod'
import { AlertCommands } from './alerts.ts'
import { HostName } from './common.ts'
import { RequestId } from './request.ts'

export { RequestId } from './request.ts'

export const SAMPLE_LIMITS = { fast: { min: 100, max: 60_000 }, slow: { min: 1000, max: 600_000 } } as const

const SamplingSet = z
  .object({
    id: RequestId,
    type: z.literal('sampling.set'),
    intervalMs: z.number().int(),
    group: z.enum(['fast', 'slow']).default('fast'),
    host: HostName.optional(),
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
  z.object({ id: RequestId, type: z.literal('sampling.pause'), host: HostName.optional() }).strict(),
  z.object({ id: RequestId, type: z.literal('sampling.resume'), host: HostName.optional() }).strict(),
  z
    .object({
      id: RequestId,
      type: z.literal('job.cancel'),
      jobId: z.string().min(1).max(64),
      reason: z.string().max(500).optional(),
    })
    .strict(),
  z.object({ id: RequestId, type: z.literal('job.retry'), jobId: z.string().min(1).max(64) }).strict(),
  ...AlertCommands,
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

/** The sampling settings operators change; durable, versioned desired state per host. */
export const SamplingSettings = z.strictObject({
  fastMs: z.number().int().min(SAMPLE_LIMITS.fast.min).max(SAMPLE_LIMITS.fast.max),
  slowMs: z.number().int().min(SAMPLE_LIMITS.slow.min).max(SAMPLE_LIMITS.slow.max),
  paused: z.boolean(),
})
export type SamplingSettings = z.infer<typeof SamplingSettings>

/** The `config` event, and the answer of `GET /api/config?host=`. */
export interface ConfigEvent {
  /** The host these settings are for. */
  host: string
  version: number
  sampling: SamplingSettings
  changedBy: string
  at: number
  revertsAt?: number
}

/**
 * The result of `sampling.set|pause|resume`: the new settings, and whether the host runs them already. A remote
 * host's agent confirms first; an offline one gets them when it reconnects (`applied: false` until then).
 */
export interface SamplingResult extends ConfigEvent {
  applied: boolean
}

export const ConfigQuery = z.object({ host: HostName.optional() })

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
