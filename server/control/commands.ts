import { AppError } from '../errors.ts'
import type { Jobs } from '../jobs/index.ts'
import type { Command, CommandType, Identity } from '../protocol/index.ts'
import type { Sampling, SamplingControl } from './sampling.ts'

export interface CommandContext {
  actor: Identity
  sampling: Sampling
  jobs: Jobs
  /** This hub's own host: the one a command without `host` acts on. */
  host: string
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
 * Every command's handler; a handler may answer a promise (a remote host's agent confirming a change). The
 * compiler refuses a command type without one.
 */
export const handlers: Handlers = {
  'sampling.set': (cmd, ctx) => samplingOf(cmd.host, ctx).set(cmd.group, cmd.intervalMs, cmd.ttlMs, ctx.actor.name),
  'sampling.pause': (cmd, ctx) => samplingOf(cmd.host, ctx).pause(ctx.actor.name),
  'sampling.resume': (cmd, ctx) => samplingOf(cmd.host, ctx).resume(ctx.actor.name),
  // Accepted means requested: the job shows `cancelling` until its runner confirms `cancelled`
  'job.cancel': (cmd, ctx) => ctx.jobs.cancel(cmd.jobId, ctx.actor.name, cmd.reason ?? null),
  'job.retry': (cmd, ctx) => ctx.jobs.retry(cmd.jobId),
}

/** Runs a validated command through its handler; settles once the command has taken effect. */
export async function dispatch(cmd: Exclude<Command, { type: 'ping' }>, ctx: CommandContext): Promise<unknown> {
  // The map is exhaustive over the union; TypeScript cannot narrow a correlated lookup, so it is called by type
  const handler = handlers[cmd.type] as (c: typeof cmd, ctx: CommandContext) => unknown
  return handler(cmd, ctx)
}
