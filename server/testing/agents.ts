import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach } from 'vitest'
import { type AgentProcess, spawnAgent } from './process.ts'

/**
 * `vigil agent` children a test starts, each with a spool dir of its own (or one it is given, to restart an agent
 * on its spool); all killed after the test, and their dirs removed.
 */
export function useAgentProcesses() {
  const agents: AgentProcess[] = []
  const dirs: string[] = []
  afterEach(async () => {
    for (const a of agents.splice(0)) {
      a.child.kill('SIGKILL')
      await a.exited
    }
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  })
  const spoolDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-spool-'))
    dirs.push(dir)
    return dir
  }
  return {
    spoolDir,
    /** An agent reporting `hostname` to `url` with `token` (given as VIGIL_TOKEN, as the docs say). */
    start(url: string, token: string, hostname: string, extra: string[] = [], spool = spoolDir()): AgentProcess {
      const a = spawnAgent(['--hub', url, '--hostname', hostname, '--spool-dir', spool, ...extra], {
        VIGIL_TOKEN: token,
      })
      agents.push(a)
      return a
    },
  }
}

/** The gaps between consecutive ticks that are not one interval (give or take a late tick): holes in history. */
export function holes(times: number[], intervalMs = 1000): [number, number][] {
  const out: [number, number][] = []
  for (let i = 1; i < times.length; i++) {
    const d = (times[i] as number) - (times[i - 1] as number)
    if (d > intervalMs * 1.5 || d < intervalMs * 0.5) out.push([times[i - 1] as number, times[i] as number])
  }
  return out
}
