import { AppError } from '../errors.ts'
import type { Hosts } from '../hosts/index.ts'
import type { Role } from '../protocol/index.ts'
import type { NamedSample, Store } from '../store/index.ts'

/** Roles that may push samples: reporters (scripts, jobs, OpenTelemetry SDKs), agents (remote hosts) and admins. */
export const INGEST_ROLES: readonly Role[] = ['reporter', 'agent', 'admin']
/** Names under these prefixes are Vigil's own; only agents, which report a host's system metrics, may write them. */
const RESERVED = /^(cpu|mem|load|net|disk|fs|temp|proc|vigil|job)\./
const MAX_FUTURE_MS = 60_000

export interface AdmitDeps {
  store: Pick<Store, 'acceptsFrom' | 'countSeries'>
  /** Who may speak for a host: an agent token posts only for the host it is bound to. */
  hosts: Pick<Hosts, 'speaksFor'>
  maxSeriesPerHost: number
}

/**
 * The rules every push of samples for a host meets, `POST /api/metrics` and OTLP alike: an agent token speaks
 * only for its own host, Vigil's own names are for agents, a sample is no older than raw retention and at most
 * 60 s ahead, and the host stays within `VIGIL_MAX_SERIES`. Throws the refusal (`forbidden`, `invalid`,
 * `cardinality_limit`); `where(i)` names a sample in a message.
 */
export async function admitSamples(
  deps: AdmitDeps,
  who: { role: Role; tokenId: number | undefined },
  host: string,
  samples: readonly NamedSample[],
  where: (i: number) => string,
  now = Date.now(),
): Promise<void> {
  const agent = who.role === 'agent'
  const refusal = agent && who.tokenId !== undefined ? deps.hosts.speaksFor(host, who.tokenId) : null
  if (refusal) throw new AppError('forbidden', refusal.message)
  const oldest = deps.store.acceptsFrom(now)
  for (const [i, s] of samples.entries()) {
    if (!agent && RESERVED.test(s.name)) {
      throw new AppError('invalid', `${where(i)}.name: ${s.name} is reserved for Vigil's own metrics`)
    }
    if (s.ts < oldest) {
      const hours = (now - oldest) / 3_600_000
      throw new AppError(
        'invalid',
        `${where(i)}.ts: ${s.ts} is too old; samples may be at most ${hours} hours old (raw retention)`,
      )
    }
    if (s.ts > now + MAX_FUTURE_MS) {
      const msg = `${where(i)}.ts: ${s.ts} is in the future; at most ${MAX_FUTURE_MS / 1000} s ahead is allowed`
      throw new AppError('invalid', msg)
    }
  }
  const { have, added } = await deps.store.countSeries(host, new Set(samples.map((s) => s.name)))
  if (have + added > deps.maxSeriesPerHost) {
    const msg = `Host ${host} has ${have} series; ${added} more would pass the limit of ${deps.maxSeriesPerHost}`
    throw new AppError('cardinality_limit', msg)
  }
}
