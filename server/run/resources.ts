import { performance } from 'node:perf_hooks'
import { CLK_TCK, pageSize, scanProcesses } from '../sampler/index.ts'

/** CPU (percent of one core) and resident memory of a whole process group. */
export interface GroupResources {
  cpuPct: number
  rssBytes: number
}

/**
 * Measures a process group between calls by summing /proc over its members; null off Linux and on the first call.
 * Processes that ended between two calls take their CPU time with them, so a short-lived child may be missed.
 */
export function groupMeter(pgid: number): () => GroupResources | null {
  if (process.platform !== 'linux') return () => null
  const page = pageSize()
  let prev: { at: number; ticks: Map<number, number> } | null = null
  return () => {
    const at = performance.now()
    const ticks = new Map<number, number>()
    let rssBytes = 0
    for (const [pid, p] of scanProcesses(page)) {
      if (p.pgrp !== pgid) continue
      ticks.set(pid, p.ticks)
      rssBytes += p.rssBytes
    }
    const before = prev
    prev = { at, ticks }
    if (!before || at <= before.at) return null
    let delta = 0
    for (const [pid, t] of ticks) delta += t - (before.ticks.get(pid) ?? t)
    const cpuPct = (delta / CLK_TCK / ((at - before.at) / 1000)) * 100
    return { cpuPct: Math.round(cpuPct * 10) / 10, rssBytes }
  }
}
