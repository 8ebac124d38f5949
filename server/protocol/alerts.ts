import { z } from 'zod'
import { METRIC_NAME_MAX } from './common.ts'
import { RequestId } from './request.ts'

/** Alert rules, silences and channels as the control channel takes them. */

/** A metric name in which a whole segment may be `*`: `fs.*.used_pct`. */
export const METRIC_GLOB_PATTERN = /^([a-z0-9_]+|\*)(\.([a-z0-9_]+|\*))*$/
/** Host name characters, with `*` (any run) and `?` (one character). */
export const HOST_GLOB_PATTERN = /^[A-Za-z0-9._*?-]+$/

export const MetricGlob = z
  .string()
  .max(METRIC_NAME_MAX)
  .regex(METRIC_GLOB_PATTERN, 'a metric is dotted lower case segments of [a-z0-9_], any of which may be a whole `*`')
export const HostGlob = z
  .string()
  .min(1)
  .max(253)
  .regex(HOST_GLOB_PATTERN, 'a host glob is host name characters with `*` and `?`')

export const SEVERITIES = ['warning', 'critical'] as const
export const Severity = z.enum(SEVERITIES)
export type Severity = z.infer<typeof Severity>

export const ALERT_OPS = ['>', '>=', '<', '<='] as const
export const AlertOp = z.enum(ALERT_OPS)
export type AlertOp = z.infer<typeof AlertOp>

/** The name of a rule or a channel. */
export const AlertName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a name is letters, digits, dots, dashes and underscores')
const Duration = z
  .number()
  .int()
  .min(0)
  .max(30 * 86_400_000)
const Labels = z
  .record(z.string().min(1).max(64), z.string().max(256))
  .refine((l) => Object.keys(l).length <= 32, 'at most 32 labels')

/** What every kind of rule has: its name, how bad it is, where it notifies and how often it repeats. */
const RuleBase = {
  name: AlertName,
  severity: Severity,
  /** Channel names; all channels (each by its `minSeverity`) when absent. */
  channels: z.array(AlertName).min(1).max(16).optional(),
  /** Re-notifies this often while firing; never when absent. */
  repeatMs: z
    .number()
    .int()
    .min(1000)
    .max(7 * 86_400_000)
    .optional(),
  labels: Labels.optional(),
}

/** A threshold on a metric, per host and series. */
export const MetricRule = z
  .strictObject({
    ...RuleBase,
    kind: z.literal('metric'),
    metric: MetricGlob,
    hosts: HostGlob.optional(),
    op: AlertOp,
    threshold: z.number().finite(),
    /** Where a firing alert clears (hysteresis); the threshold when absent. */
    clearThreshold: z.number().finite().optional(),
    forMs: Duration.optional(),
    keepFiringMs: Duration.optional(),
    aggregate: z
      .strictObject({ fn: z.enum(['avg', 'min', 'max']), windowMs: z.number().int().min(1000).max(3_600_000) })
      .optional(),
  })
  .superRefine((r, ctx) => {
    if (r.clearThreshold === undefined) return
    // The clear threshold sits on the safe side of the threshold, or the alert would clear while still over it
    const above = r.op === '>' || r.op === '>='
    if (above ? r.clearThreshold > r.threshold : r.clearThreshold < r.threshold) {
      ctx.addIssue({
        code: 'custom',
        path: ['clearThreshold'],
        message: `clearThreshold must be ${above ? 'at or below' : 'at or above'} threshold for op ${r.op}`,
      })
    }
  })

/** An agent host offline for `forMs`. */
export const HostOfflineRule = z.strictObject({
  ...RuleBase,
  kind: z.literal('host.offline'),
  hosts: HostGlob.optional(),
  forMs: Duration.optional(),
})

/** A job that ends `failed` or `lost`, by a glob on its name and by labels; resolved by the next success. */
export const JobFailedRule = z.strictObject({
  ...RuleBase,
  kind: z.literal('job.failed'),
  job: HostGlob.optional(),
  jobLabels: Labels.optional(),
  hosts: HostGlob.optional(),
})

/** A fault in the hub's `/api/health` (storage, bus, sampler) lasting `forMs`. */
export const HubDegradedRule = z.strictObject({
  ...RuleBase,
  kind: z.literal('hub.degraded'),
  forMs: Duration.optional(),
})

/** A rule as `alert.rule.set` takes it: a metric threshold unless `kind` says otherwise. */
export const AlertRule = z.preprocess(
  (v) => (v !== null && typeof v === 'object' && !Array.isArray(v) && !('kind' in v) ? { ...v, kind: 'metric' } : v),
  z.discriminatedUnion('kind', [MetricRule, HostOfflineRule, JobFailedRule, HubDegradedRule]),
)
export type AlertRule = z.infer<typeof AlertRule>

export const CHANNEL_KINDS = ['webhook', 'slack', 'discord', 'ntfy'] as const
export const ChannelKind = z.enum(CHANNEL_KINDS)
export type ChannelKind = z.infer<typeof ChannelKind>

/** A notification channel: admin only, since its URL (and any headers) are secrets. */
export const AlertChannel = z.strictObject({
  name: AlertName,
  kind: ChannelKind,
  url: z.url({ protocol: /^https?$/ }).max(2048),
  headers: z
    .record(
      z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'a header name is letters, digits and dashes'),
      z.string().max(4096),
    )
    .refine((h) => Object.keys(h).length <= 16, 'at most 16 headers')
    .optional(),
  minSeverity: Severity.default('warning'),
})
export type AlertChannel = z.infer<typeof AlertChannel>

export const SilenceMatchers = z
  .strictObject({ rule: AlertName.optional(), host: HostGlob.optional(), severity: Severity.optional() })
  .refine(
    (m) => m.rule !== undefined || m.host !== undefined || m.severity !== undefined,
    'a silence matches on at least one of rule, host and severity',
  )

export const AlertSilence = z.strictObject({
  matchers: SilenceMatchers,
  durationMs: z
    .number()
    .int()
    .min(1000)
    .max(30 * 86_400_000),
  reason: z.string().min(1).max(500),
})
export type AlertSilence = z.infer<typeof AlertSilence>

/** The alert commands of the control channel; channels are for admins (`ADMIN_COMMANDS`). */
export const AlertCommands = [
  z.strictObject({ id: RequestId, type: z.literal('alert.rule.set'), rule: AlertRule }),
  z.strictObject({ id: RequestId, type: z.literal('alert.rule.delete'), name: AlertName }),
  z.strictObject({ id: RequestId, type: z.literal('alert.channel.set'), ...AlertChannel.shape }),
  z.strictObject({ id: RequestId, type: z.literal('alert.channel.delete'), name: AlertName }),
  z.strictObject({ id: RequestId, type: z.literal('alert.channel.test'), name: AlertName }),
  z.strictObject({ id: RequestId, type: z.literal('alert.silence'), ...AlertSilence.shape }),
  z.strictObject({
    id: RequestId,
    type: z.literal('alert.unsilence'),
    silenceId: z.string().regex(/^sil_[0-9a-f]{12}$/, 'a silence id is sil_ and 12 hex digits'),
  }),
] as const

/** Commands only admins may send: a channel's URL is a secret, and it decides where alerts go. */
export const ADMIN_COMMANDS: ReadonlySet<string> = new Set([
  'alert.channel.set',
  'alert.channel.delete',
  'alert.channel.test',
])

/** `GET /api/alerts?state=&host=&rule=&limit=`. */
export const AlertsQuery = z.object({
  state: z.enum(['pending', 'firing', 'resolved']).optional(),
  host: z.string().min(1).max(253).optional(),
  rule: AlertName.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
})

/** `GET /api/alerts/notifications?alertId=&limit=`: one alert's, or the newest of all. */
export const NotificationsQuery = z.object({
  alertId: z
    .string()
    .regex(/^[0-9a-f]{16}$/, 'an alert id is 16 hex digits')
    .optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
})

/** How an alert stands: the condition holds but not yet for `forMs`, it fires, or it resolved. */
export type AlertState = 'pending' | 'firing' | 'resolved'

/** One state change in an alert's history. */
export interface AlertHistoryEntry {
  state: AlertState
  at: number
  value: number | null
}

/** An alert as it is stored and read: one rule on one host and series. */
export interface AlertRecord {
  id: string
  rule: string
  kind: AlertRule['kind']
  host: string
  /** The metric, the job name, or the health component; empty for a host-wide rule (`host.offline`). */
  series: string
  state: AlertState
  severity: Severity
  value: number | null
  threshold: number | null
  /** When the current state began. */
  since: number
  /** When the current (or last) episode started firing. */
  startsAt: number | null
  /** When the last episode resolved; null while it fires. */
  endsAt: number | null
  /** Firings so far: the current one while firing. */
  episode: number
  /** The last episode whose firing notice was queued (0: none). */
  notifiedEpisode: number
  /** When a firing notice (or a repeat) was last queued. */
  notifiedAt: number | null
  /** Repeats queued in the current episode. */
  repeats: number
  labels: Record<string, string>
  history: AlertHistoryEntry[]
  updatedAt: number
}

/**
 * An alert as reads and `alert` events show it: its record, and the silences holding back its notifications. An
 * event's state is `inactive` when a pending alert that never fired saw its condition go: it has no record any more.
 */
export type AlertView = Omit<AlertRecord, 'state'> & {
  state: AlertRecord['state'] | 'inactive'
  silenced: boolean
  silencedBy: string[]
}

export type NotificationStatus = 'pending' | 'delivered' | 'failed'

/** A notification as `GET /api/alerts/notifications` shows it, with every attempt. */
export interface NotificationView {
  id: number
  alertId: string
  channel: string
  key: string
  state: 'firing' | 'resolved'
  status: NotificationStatus
  attempts: { at: number; ok: boolean; status: number | null; error: string | null; ms: number }[]
  nextAt: number | null
  createdAt: number
  deliveredAt: number | null
  lastError: string | null
}

export interface Silence {
  id: string
  matchers: { rule?: string; host?: string; severity?: Severity }
  reason: string
  createdBy: string
  startsAt: number
  endsAt: number
  /** Who ended it early (`alert.unsilence`), else null. */
  endedBy: string | null
}

/** A channel as reads show it: its URL's host only, never the URL or its headers. */
export interface ChannelView {
  name: string
  kind: ChannelKind
  urlHost: string
  headers: string[]
  minSeverity: Severity
  updatedAt: number
  updatedBy: string
}

/** A rule as reads show it: the rule as it was set, with who set it and when. */
export interface RuleView {
  rule: AlertRule
  updatedAt: number
  updatedBy: string
}

/** What `alert.channel.test` answers: whether the test notice was delivered, and the channel's answer. */
export interface ChannelTestResult {
  channel: string
  delivered: boolean
  status: number | null
  error: string | null
  ms: number
}
