import { z } from 'zod'
import { METRIC_NAME_MAX, METRIC_NAME_PATTERN } from './common.ts'
import { SamplingSettings } from './control.ts'
import { Devices, HostInfo, Processes, SpoolStatus } from './hosts.ts'

/**
 * The agent channel (WebSocket `GET /api/agent`): `vigil agent` dials out to the hub, so NAT and firewalls are no
 * obstacle. Every message is a JSON text frame with a `type`. docs/agent-protocol.md is the reference.
 */
export const AGENT_PROTOCOL_VERSION = 1

/** Headers the agent's upgrade request names itself with; the hub checks both before the socket opens. */
export const AGENT_HOST_HEADER = 'x-vigil-host'
export const AGENT_MACHINE_HEADER = 'x-vigil-machine-id'

export const MachineId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:-]+$/, 'a machine id is letters, digits, dots, dashes, colons and underscores')

const Seq = z.number().int().positive().max(Number.MAX_SAFE_INTEGER)
const Ms = z.number().int().nonnegative().max(8_640_000_000_000_000)

const MAX_VALUES = 10_000

/** Whether `v` maps metric names (the `MetricName` rule) to numbers, at most MAX_VALUES of them. */
function isValues(v: unknown): v is Record<string, number> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false
  let n = 0
  for (const name in v) {
    if (++n > MAX_VALUES || name.length > METRIC_NAME_MAX || !METRIC_NAME_PATTERN.test(name)) return false
    if (typeof (v as Record<string, unknown>)[name] !== 'number') return false
  }
  return true
}

/**
 * A tick's values: metric name → number (JSON carries no NaN or infinity). The hot path of ingest (20,000 values a
 * second for 100 hosts): one pass over the entries with the metric name rule, not a schema run per key and value.
 */
const Values = z.custom<Record<string, number>>(
  isValues,
  `values map metric names (dotted lower case: [a-z0-9_] segments joined by dots, ${METRIC_NAME_MAX} characters at most) to numbers, at most ${MAX_VALUES.toLocaleString('en')} a tick`,
)

/** One sampler tick, numbered per host: `seq` rises by one a tick for the life of the agent's spool. */
export const AgentTick = z.strictObject({
  seq: Seq,
  ts: Ms,
  intervalMs: z.number().int().min(0).max(600_000),
  values: Values,
  /** The process table, on slow-group ticks. */
  processes: Processes.optional(),
})
export type AgentTick = z.infer<typeof AgentTick>

/** Ticks at most in one `ticks` message. */
export const MAX_TICKS_PER_MESSAGE = 2000

/** Every message an agent may send, by `type`. */
export const AgentMessage = z.discriminatedUnion('type', [
  /** First message on a socket: who the agent is and what its spool holds. */
  z.strictObject({
    type: z.literal('hello'),
    v: z.literal(AGENT_PROTOCOL_VERSION),
    agentVersion: z.string().min(1).max(64),
    /** Names the spool the sequence numbers belong to; a new spool starts again at 1. */
    spoolId: z.string().regex(/^[A-Za-z0-9-]{8,64}$/, 'a spool id is 8–64 letters, digits or dashes'),
    info: HostInfo,
    sampling: SamplingSettings,
    spool: SpoolStatus,
  }),
  /** Ticks in sequence order; `live` ones were just sampled, the others are a replay from the spool. */
  z.strictObject({
    type: z.literal('ticks'),
    live: z.boolean(),
    ticks: z.array(AgentTick).min(1).max(MAX_TICKS_PER_MESSAGE),
  }),
  /** Ticks the agent dropped from a full spool: their sequence numbers, the span they covered, how many. */
  z.strictObject({
    type: z.literal('gap'),
    fromSeq: Seq,
    toSeq: Seq,
    from: Ms,
    to: Ms,
    ticks: z.number().int().positive(),
  }),
  /** A replay finished: every spooled tick from `from` to `to` is acknowledged. */
  z.strictObject({ type: z.literal('replayed'), from: Ms, to: Ms, ticks: z.number().int().positive() }),
  z.strictObject({ type: z.literal('status'), spool: SpoolStatus }),
  /**
   * The host's interfaces and mounts by their real names: after each welcome, and whenever they change. State, not
   * history: never spooled. A hub older than this message answers it with an `error` and ignores it.
   */
  z.strictObject({ type: z.literal('devices'), devices: Devices }),
  /** The settings of `configure` `id` are in force on the agent's sampler. */
  z.strictObject({ type: z.literal('applied'), id: z.number().int().nonnegative(), sampling: SamplingSettings }),
  /** The answer to the hub's `time`: the agent's clock when it got it. */
  z.strictObject({ type: z.literal('time'), t0: Ms, now: Ms }),
])
export type AgentMessage = z.infer<typeof AgentMessage>
export type AgentMessageType = AgentMessage['type']

/** Every message the hub sends an agent, by `type`. */
export const HubMessage = z.discriminatedUnion('type', [
  /**
   * The answer to `hello`: `through` is the highest sequence number the hub has stored for this spool, every one
   * before it included. The agent forgets those and replays the rest, oldest first.
   */
  z.strictObject({
    type: z.literal('welcome'),
    v: z.literal(AGENT_PROTOCOL_VERSION),
    host: z.string(),
    through: z.number().int().nonnegative(),
    heartbeatMs: z.number().int().positive(),
    /** The host's durable settings, when an operator has set any; the agent's own otherwise. */
    sampling: SamplingSettings.nullable(),
  }),
  /** Ticks `from`..`to` are committed; `through` is the contiguous high-water mark. */
  z.strictObject({ type: z.literal('ack'), from: Seq, to: Seq, through: z.number().int().nonnegative() }),
  /**
   * Ticks `from`..`to` were not stored. `unavailable` (storage failing): send them again after `retryMs`.
   * `invalid` or `cardinality_limit`: the hub will never take them and recorded the hole; drop them.
   */
  z.strictObject({
    type: z.literal('nack'),
    from: Seq,
    to: Seq,
    code: z.string(),
    message: z.string(),
    retryMs: z.number().int().nonnegative(),
    through: z.number().int().nonnegative(),
  }),
  /** A gap is recorded: the agent may forget it. */
  z.strictObject({ type: z.literal('gapAck'), fromSeq: Seq }),
  /** New settings for the sampler; the agent answers `applied` with the same `id` once they are in force. */
  z.strictObject({ type: z.literal('configure'), id: z.number().int().nonnegative(), sampling: SamplingSettings }),
  /** A clock probe: the agent answers `time` with its own clock. */
  z.strictObject({ type: z.literal('time'), t0: Ms }),
  /** A message the hub refused, by its `type`; the socket stays open. */
  z.strictObject({ type: z.literal('error'), code: z.string(), message: z.string(), ref: z.string().nullable() }),
])
export type HubMessage = z.infer<typeof HubMessage>

/** Close codes of the agent channel beyond the standard ones. */
export const AGENT_CLOSE = {
  normal: 1000,
  goingAway: 1001,
  /** The token was revoked: the agent stops. */
  policy: 1008,
  tooBig: 1009,
  internal: 1011,
  /** The hub cannot serve the agent now (its storage fails): the agent reconnects later. */
  tryAgain: 1013,
  /** The same host connected again from the same machine; this older socket gives way. */
  replaced: 4001,
  /** The first message was not a valid `hello`. */
  protocol: 4002,
} as const
