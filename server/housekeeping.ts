import type { Tokens } from './auth/index.ts'
import type { Health } from './health.ts'
import type { Hosts } from './hosts/index.ts'
import type { Jobs } from './jobs/index.ts'
import type { Logger } from './log.ts'
import type { Store } from './store/index.ts'

export interface HousekeepingDeps {
  store: Store
  /** Whether this hub does the work that must run once for all hubs on the data. */
  singleton: { readonly held: boolean }
  tokens: Tokens
  jobs: Jobs
  hosts: Hosts
  /** With several hubs, which hosts some hub still holds: another hub's hosts go offline when none does. */
  holds?: { unheld(hosts: readonly string[]): Promise<string[]> }
  /** What holds connections open for a token (streams, control sockets, agents): closed when it is revoked. */
  revocable: readonly { closeFor(tokenIds: ReadonlySet<number>): number }[]
  health: Health
  log: Logger
  jobLostMs: number
  /** Counts a failure for `/api/stats`. */
  onError(): void
}

const MAINTAIN_EVERY_MS = 60_000
/** A failed housekeeping run is tried again this soon. */
const MAINTAIN_RETRY_MS = 5000
/** How often the hub looks for tokens revoked by `vigil token revoke` in another process. */
const REVOCATION_CHECK_MS = 500
/** How often the lease holder looks for hosts whose hub died (a hold lapses 15 s after its hub last renewed it). */
const LAPSE_CHECK_MS = 5000

/**
 * The hub's timers: history housekeeping (closing hours, retention, expired sessions) every minute, revocations
 * made by other processes enforced within half a second, jobs whose heartbeats stopped marked `lost`, and (with
 * several hubs) the hosts of a hub that died marked offline.
 */
export function startHousekeeping(deps: HousekeepingDeps): { stop(): void } {
  const { store, tokens, jobs, hosts, health, log } = deps
  // One run at a time: a slow one (a large hour to close on a busy database) is not overtaken by the next
  let running = false
  let retryTimer: NodeJS.Timeout | null = null
  const maintain = async () => {
    if (running) return
    running = true
    try {
      if (deps.singleton.held) {
        await store.maintain(Date.now())
        await tokens.prune(Date.now())
      }
      await hosts.persistSeen()
      health.clear('maintenance')
    } catch (err) {
      deps.onError()
      health.report('maintenance', `history housekeeping failed: ${(err as Error).message}`)
      log.error('prune failed', { err })
      // Tried again soon, not in a minute: the database may only have been restarting
      retryTimer ??= setTimeout(() => {
        retryTimer = null
        void maintain()
      }, MAINTAIN_RETRY_MS)
      retryTimer.unref()
    } finally {
      running = false
    }
  }
  void maintain()
  const maintainTimer = setInterval(maintain, MAINTAIN_EVERY_MS)

  /** Ends what a newly revoked token holds open. */
  const enforceRevocations = async () => {
    try {
      const fresh = await tokens.refreshRevoked()
      if (fresh.size === 0) return
      log.info('tokens revoked', { closed: deps.revocable.map((r) => r.closeFor(fresh)) })
    } catch (err) {
      log.error('revocation check failed', { err })
    }
  }
  const revocationTimer = setInterval(() => {
    if (tokens.changedElsewhere()) void enforceRevocations()
  }, REVOCATION_CHECK_MS)

  const lostTimer = setInterval(
    () => {
      if (!deps.singleton.held) return
      jobs.checkLost(Date.now()).catch((err: unknown) => log.error('lost-job check failed', { err }))
    },
    Math.min(5000, deps.jobLostMs / 2),
  )

  // One hub announces it (the lease holder); every hub takes the announcement
  const lapseTimer = setInterval(() => {
    const { holds } = deps
    if (!holds || !deps.singleton.held) return
    holds
      .unheld(hosts.onlineElsewhere())
      .then((gone) => {
        for (const name of gone) hosts.lapsed(name)
      })
      .catch((err: unknown) => log.error('looking for hosts whose hub died failed', { err }))
  }, LAPSE_CHECK_MS)

  return {
    stop() {
      clearInterval(lapseTimer)
      clearInterval(maintainTimer)
      if (retryTimer) clearTimeout(retryTimer)
      clearInterval(revocationTimer)
      clearInterval(lostTimer)
    },
  }
}
