import { AppError } from '../errors.ts'
import type { Jobs } from '../jobs/index.ts'
import type { Command, CommandType, Identity } from '../protocol/index.ts'
import type { SamplingControl } from './sampling.ts'

export interface CommandContext {
  actor: Identity
  sampling: SamplingControl
  jobs: Jobs
  /** This hub's host name: the only host whose sampling it controls until agents exist. */
  host: string
}

type Handled = Exclude<CommandType, 'ping'>
type Handlers = { [K in Handled]: (cmd: Extract<Command, { type: K }>, ctx: CommandContext) => unknown }

function checkHost(host: string | undefined, ctx: CommandContext): void {
  if (host !== undefined && host !== ctx.host) throw new AppError('not_found', `No host ${host}`)
}

/** Every command's handler. The compiler refuses a command type without one. */
export const handlers: Handlers = {
  'sampling.set': (cmd, ctx) => {
    checkHost(cmd.host, ctx)
    return ctx.sampling.set(cmd.group, cmd.intervalMs, cmd.ttlMs, ctx.actor.name)
  },
  'sampling.pause': (_cmd, ctx) => ctx.sampling.pause(ctx.actor.name),
  'sampling.resume': (_cmd, ctx) => ctx.sampling.resume(ctx.actor.name),
  // Accepted means requested: the job shows `cancelling` until its runner confirms `cancelled`
  'job.cancel': (cmd, ctx) => ctx.jobs.cancel(cmd.jobId, ctx.actor.name, cmd.reason ?? null),
  'job.retry': (cmd, ctx) => ctx.jobs.retry(cmd.jobId),
}

/** Runs a validated command through its handler. */
export function dispatch(cmd: Exclude<Command, { type: 'ping' }>, ctx: CommandContext): unknown {
  // The map is exhaustive over the union; TypeScript cannot narrow a correlated lookup, so it is called by type
  const handler = handlers[cmd.type] as (c: typeof cmd, ctx: CommandContext) => unknown
  return handler(cmd, ctx)
}
