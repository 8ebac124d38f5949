/** The fleet overview's feed. Free of zod: the dashboard imports its values. */

/** A skew past this is shown on the host's entry: its samples' times are the agent's, as they are. */
export const CLOCK_SKEW_WARN_MS = 2000

/** One host's line in the fleet overview: the figures a row shows, from its latest ticks. */
export interface FleetHost {
  host: string
  state: 'online' | 'offline'
  local: boolean
  /** The newest tick these figures come from. */
  ts: number | null
  cpuPct: number | null
  memPct: number | null
  /** The fullest filesystem's used percent. */
  diskPct: number | null
  netBytesPerS: number | null
  diskBytesPerS: number | null
  load1: number | null
  lastSeenAt: number | null
  agentVersion: string | null
  clockSkewMs: number | null
  /** Ticks this host's agent dropped, over the gaps it reported. */
  droppedTicks: number
}

/** The `fleet` event: at most one a second in all, with every host that changed since the last one. */
export interface FleetEvent {
  ts: number
  hosts: FleetHost[]
}

/** Five minutes of a host's main figures for the overview's sparklines, one point per FLEET_SPARK_STEP_MS. */
export interface FleetSpark {
  ts: number[]
  cpuPct: (number | null)[]
  memPct: (number | null)[]
  diskPct: (number | null)[]
}

export const FLEET_SPARK_STEP_MS = 5000
export const FLEET_SPARK_POINTS = 60

/** `GET /api/fleet`: every host's figures and sparklines. */
export interface FleetResponse {
  hosts: (FleetHost & { spark: FleetSpark })[]
}
