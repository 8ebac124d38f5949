import { linuxProbe } from './linux.ts'
import type { Probe } from './probe.ts'
import { siProbe } from './si-probe.ts'

export { describeMetric, prometheusName } from './catalog.ts'
export type { GroupStats } from './group.ts'
export { CLK_TCK, pageSize, scanProcesses } from './linux.ts'
export { machineInfo, readMachineId } from './machine.ts'
export type { FastReading, Probe, SlowReading } from './probe.ts'
export { mountSegment, segment } from './rates.ts'
export { Sampler, type SamplerOptions, type SamplerSink } from './sampler.ts'

/** The cheapest probe for this platform: /proc on Linux, systeminformation elsewhere. */
export function defaultProbe(): Probe {
  return process.platform === 'linux' ? linuxProbe() : siProbe()
}
