import { z } from 'zod'
import type { Alerts } from '../alerts/index.ts'
import { AppError } from '../errors.ts'
import type { Jobs } from '../jobs/index.ts'
import { Command, type CommandType, type Identity, Role } from '../protocol/index.ts'
import type { Sampling, SamplingControl } from './sampling.ts'

/** A sampling command another hub sends for a host whose agent is on this one, with who sent it. */
export const RelayedCommand = z.strictObject({
  command: Command,
  actor: z.strictObject({ name: z.string().min(1).max(128), role: Role, anonymous: z.boolean() }),
})
export type RelayedCommand = z.infer<typeof RelayedCommand>

export interface CommandContext {
  actor: Identity
  sampling: Sampling
  jobs: Jobs
  alerts: Alerts
  /** This hub's own host: the one a command without `host` acts on. */
  host: string
  /**
   * Sends a command for a host whose agent is on another hub to that hub (several hubs on Redis): its answer, or
   * null when this hub is the one to carry it out.
   */
  relay?(host: string, command: RelayedCommand): Promise<{ result: unknown } | null>
}

type Handled = Exclude<CommandType, 'ping'>
type Handlers = { [K in Handled]: (cmd: Extract<Command, { type: K }>, ctx: CommandContext) => unknown }

/** The sampling control of the command's host, the hub's own when it names none; an unknown host is not_found. */
function samplingOf(host: string | undefined, ctx: CommandContext): SamplingControl {
  const control = ctx.sampling.for(host ?? ctx.host)
  if (!control) throw new AppError('not_found', `No host ${host}`)
  return control
}

/**
 * Carries out a sampling command on the hub that holds the host's agent: relayed to it when that is another hub
 * (it stores the change, its agent applies it, and its answer is this one's), else here.
 */
async function onHolder(
  cmd: Extract<Command, { type: `sampling.${string}` }>,
  ctx: CommandContext,
  act: (c: SamplingControl) => unknown,
): Promise<unknown> {
  const host = cmd.host ?? ctx.host
  if (host !== ctx.host && ctx.relay) {
    const relayed = await ctx.relay(host, { command: cmd, actor: ctx.actor })
    if (relayed) return relayed.result
  }
  return act(samplingOf(host, ctx))
}

/**
 * Every command's handler; a handler may answer a promise (a remote host's agent confirming a change). The
 * compiler refuses a command type without one.
 */
export const handlers: Handlers = {
  'sampling.set': (cmd, ctx) => onHolder(cmd, ctx, (c) => c.set(cmd.group, cmd.intervalMs, cmd.ttlMs, ctx.actor.name)),
  'sampling.pause': (cmd, ctx) => onHolder(cmd, ctx, (c) => c.pause(ctx.actor.name)),
  'sampling.resume': (cmd, ctx) => onHolder(cmd, ctx, (c) => c.resume(ctx.actor.name)),
  // Accepted means requested: the job shows `cancelling` until its runner confirms `cancelled`
  'job.cancel': (cmd, ctx) => ctx.jobs.cancel(cmd.jobId, ctx.actor.name, cmd.reason ?? null),
  'job.retry': (cmd, ctx) => ctx.jobs.retry(cmd.jobId),
  'alert.rule.set': (cmd, ctx) => ctx.alerts.config.setRule(cmd.rule, ctx.actor.name),
  'alert.rule.delete': (cmd, ctx) => ctx.alerts.config.deleteRule(cmd.name),
  'alert.channel.set': ({ id: _, type: __, ...channel }, ctx) => ctx.alerts.config.setChannel(channel, ctx.actor.name),
  'alert.channel.delete': (cmd, ctx) => ctx.alerts.config.deleteChannel(cmd.name),
  'alert.channel.test': (cmd, ctx) => ctx.alerts.config.testChannel(cmd.name),
  'alert.silence': ({ id: _, type: __, ...silence }, ctx) => ctx.alerts.silences.silence(silence, ctx.actor.name),
  'alert.unsilence': (cmd, ctx) => ctx.alerts.silences.unsilence(cmd.silenceId, ctx.actor.name),
}

/** Runs a validated command through its handler; settles once the command has taken effect. */
export async function dispatch(cmd: Exclude<Command, { type: 'ping' }>, ctx: CommandContext): Promise<unknown> {
  // The map is exhaustive over the union; TypeScript cannot narrow a correlated lookup, so it is called by type
  const handler = handlers[cmd.type] as (c: typeof cmd, ctx: CommandContext) => unknown
  return handler(cmd, ctx)
}
