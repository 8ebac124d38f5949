import type { Health } from '../health.ts'
import type { Hosts } from '../hosts/index.ts'
import type { Logger } from '../log.ts'
import { type Probe, Sampler } from '../sampler/index.ts'
import type { Pipeline } from './pipeline.ts'

export interface LocalAgentOptions {
  host: string
  sampleMs: number
  slowSampleMs: number
  probe: Probe
  pipeline: Pipeline
  hosts: Hosts
  health: Health
  log: Logger
  /** Replaces the wall clock; tests fake a jump. */
  clock?: () => number
}

/**
 * The agent that lives in the hub's process: the sampler of this machine, feeding the same pipeline as remote
 * agents, with its faults (probe calls, the clock) reported in `/api/health`.
 */
export function localAgent(opts: LocalAgentOptions): Sampler {
  const { host, pipeline, hosts, health, log } = opts
  return new Sampler(
    opts.probe,
    { sampleMs: opts.sampleMs, slowSampleMs: opts.slowSampleMs, ...(opts.clock ? { now: opts.clock } : {}) },
    {
      metrics(ts, intervalMs, values, snapshot) {
        pipeline.tick(host, ts, intervalMs, values)
        if (snapshot) {
          hosts.processes(host, ts, snapshot.processes)
          hosts.devices(host, snapshot.devices)
        }
      },
      clock(behindMs) {
        if (behindMs === 0) health.clear('clock')
        else {
          const s = Math.round(behindMs / 1000)
          health.report(
            'clock',
            `the wall clock went back ${s} s; sample times go on from the monotonic clock until it catches up`,
          )
        }
      },
      faults(group, faults) {
        if (faults.length === 0) health.clear(`sampler.${group}`)
        else health.report(`sampler.${group}`, `metrics missing this tick: ${faults.join('; ')}`)
      },
    },
    (group, err) => {
      health.report(`sampler.${group}`, `the ${group} reading failed: ${(err as Error).message}`)
      log.error(`sampler ${group} tick failed`, { err })
    },
  )
}
