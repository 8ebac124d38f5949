export interface ProcessInfo {
  pid: number
  name: string
  cpuPct: number
  memBytes: number
}

export interface HostEvent {
  host: string
  ts: number
  info: { platform: string; release: string; arch: string; cores: number; memTotalBytes: number; bootTime: number }
  processes: { count: number; topCpu: ProcessInfo[]; topMem: ProcessInfo[] }
}
