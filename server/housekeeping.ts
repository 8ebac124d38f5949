import type { Tokens } from './auth/index.ts'
import type { Control } from './control/index.ts'
import type { Health } from './health.ts'
import type { Jobs } from './jobs/index.ts'
import type { Logger } from './log.ts'
import type { Store } from './store/index.ts'
import type { Streams } from './stream/index.ts'

export interface HousekeepingDeps {
  store: Store
  tokens: Tokens
  jobs: Jobs
  streams: Streams
  control: Control
  health: Health
  log: Logger
  jobLostMs: number
  /** Counts a failure for `/api/stats`. */
  onError(): void
}

const MAINTAIN_EVERY_MS = 60_000
/** How often the hub looks for tokens revoked by `vigil token revoke` in another process. */
const REVOCATION_CHECK_MS = 500

/**
 * The hub's timers: history housekeeping (closing hours, retention, expired sessions) every minute, revocations
 * made by other processes enforced within half a second, and jobs whose heartbeats stopped marked `lost`.
 */
export function startHousekeeping(deps: HousekeepingDeps): { stop(): void } {
  const { store, tokens, jobs, streams, control, health, log } = deps
  const maintain = () => {
    try {
      store.maintain(Date.now())
      tokens.prune(Date.now())
      health.clear('maintenance')
    } catch (err) {
      deps.onError()
      health.report('maintenance', `history housekeeping failed: ${(err as Error).message}`)
      log.error('prune failed', { err })
    }
  }
  maintain()
  const maintainTimer = setInterval(maintain, MAINTAIN_EVERY_MS)

  let revoked = tokens.revokedIds()
  /** Ends what a newly revoked token holds open. */
  const enforceRevocations = () => {
    const now = tokens.revokedIds()
    const fresh = new Set([...now].filter((id) => !revoked.has(id)))
    revoked = now
    if (fresh.size === 0) return
    log.info('tokens revoked', { streams: streams.endFor(fresh), sockets: control.closeFor(fresh) })
  }
  const revocationTimer = setInterval(() => {
    if (tokens.changedElsewhere()) enforceRevocations()
  }, REVOCATION_CHECK_MS)

  const lostTimer = setInterval(
    () => {
      try {
        jobs.checkLost(Date.now())
      } catch (err) {
        log.error('lost-job check failed', { err })
      }
    },
    Math.min(5000, deps.jobLostMs / 2),
  )

  return {
    stop() {
      clearInterval(maintainTimer)
      clearInterval(revocationTimer)
      clearInterval(lostTimer)
    },
  }
}
