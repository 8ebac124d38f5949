import { z } from 'zod'

export interface ProcessInfo {
  pid: number
  name: string
  cpuPct: number
  memBytes: number
}

export const HostInfo = z.strictObject({
  platform: z.string().max(64),
  release: z.string().max(256),
  arch: z.string().max(64),
  cores: z.number().int().min(0).max(100_000),
  memTotalBytes: z.number().nonnegative(),
  bootTime: z.number().int().nonnegative(),
})
export type HostInfo = z.infer<typeof HostInfo>

const Process = z.strictObject({
  pid: z.number().int().nonnegative(),
  name: z.string().max(256),
  cpuPct: z.number().nonnegative(),
  memBytes: z.number().nonnegative(),
})
/** A host's process table as the slow group reads it: the count, and the top few by CPU and by memory. */
export const Processes = z.strictObject({
  count: z.number().int().nonnegative(),
  topCpu: z.array(Process).max(50),
  topMem: z.array(Process).max(50),
})
export type Processes = z.infer<typeof Processes>

/**
 * A host's network interfaces and mounted filesystems by their real names, as the slow group reads them. A metric
 * name holds only a segment of each (`/var/lib` → `var_lib`); `/metrics` labels series with the real one.
 */
export const Devices = z.strictObject({
  interfaces: z.array(z.string().min(1).max(256)).max(1000),
  mounts: z.array(z.string().min(1).max(4096)).max(1000),
})
export type Devices = z.infer<typeof Devices>

/** What a slow-group tick reads of the host beside its values. */
export interface HostSnapshot {
  processes: Processes
  devices: Devices
}

/** What an agent's disk spool holds: ticks not yet acknowledged by a hub, and what a full spool had to drop. */
export const SpoolStatus = z.strictObject({
  ticks: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  oldestTs: z.number().int().nonnegative().nullable(),
  droppedTicks: z.number().int().nonnegative(),
})
export type SpoolStatus = z.infer<typeof SpoolStatus>

/** Ticks a host's agent had to drop (its spool was full): the span they covered and how many. */
export interface HostGap {
  from: number
  to: number
  ticks: number
  reportedAt: number
}

/** A host's entry in `GET /api/hosts`, and the `host` event on the `hosts` topic whenever it changes. */
export interface HostEntry {
  host: string
  /** When this entry last changed. */
  ts: number
  state: 'online' | 'offline'
  /** True for the hub's own host, sampled in its process. */
  local: boolean
  /**
   * While online, the name (`VIGIL_HOSTNAME`) of the hub its agent is connected to, or whose own host it is;
   * null while offline. With several hubs every hub lists every host, wherever its agent is.
   */
  hub: string | null
  lastSeenAt: number | null
  agentVersion: string | null
  info: HostInfo | null
  processes: Processes | null
  /** Its interfaces and mounts by their real names, from its latest slow tick; null until one arrives. */
  devices: Devices | null
  /** The agent's backlog and dropped ticks, as it last reported them; null for the hub's own host. */
  spool: SpoolStatus | null
  /** The agent's clock minus the hub's, measured over the connection; null until measured. */
  clockSkewMs: number | null
  /** Spans lost because the agent's spool was full, newest first. */
  gaps: HostGap[]
  /** The latest replay that finished: the span of history it filled, so open charts re-read it. */
  backfill: { from: number; to: number; ticks: number; at: number } | null
}
