const BASE_MS = 1000
const CAP_MS = 30_000

/**
 * Reconnect delays for every client that dials the hub (the dashboard's stream and control socket, `vigil agent`).
 * Full jitter: a random wait between 0 and the capped exponential step (1 s base, 30 s cap).
 */
export function backoffMs(attempt: number, random = Math.random): number {
  return Math.round(random() * Math.min(CAP_MS, BASE_MS * 2 ** attempt))
}
