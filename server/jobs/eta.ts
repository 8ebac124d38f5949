/** What the ETA keeps between progress updates of one job. */
export interface EtaState {
  at: number
  percent: number
  /** Smoothed percent per millisecond. */
  rate: number | null
  samples: number
  since: number
}

const ALPHA = 0.3
/** The ETA is shown once the rate rests on this many updates spread over at least this long. */
const MIN_SAMPLES = 3
const MIN_SPAN_MS = 2000

/**
 * Folds one progress reading into an exponentially smoothed rate and returns the time left, or null while the
 * rate is not yet meaningful (too few readings, too short a span, or no progress).
 */
export function nextEta(
  prev: EtaState | null,
  percent: number | null,
  now: number,
): { state: EtaState | null; etaMs: number | null } {
  if (percent === null) return { state: prev, etaMs: null }
  if (!prev) return { state: { at: now, percent, rate: null, samples: 1, since: now }, etaMs: null }
  const dt = now - prev.at
  if (dt <= 0) return { state: prev, etaMs: null }
  const instant = (percent - prev.percent) / dt
  const rate = prev.rate === null ? instant : ALPHA * instant + (1 - ALPHA) * prev.rate
  const state: EtaState = { at: now, percent, rate, samples: prev.samples + 1, since: prev.since }
  const meaningful = state.samples >= MIN_SAMPLES && now - state.since >= MIN_SPAN_MS && rate > 0
  return { state, etaMs: meaningful ? Math.round((100 - percent) / rate) : null }
}
