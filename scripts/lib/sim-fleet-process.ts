import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { ROOT } from '../../server/paths.ts'

/** A line `sim-fleet.ts` reports on stdout (see there). */
export interface SimMessage {
  type: 'ready' | 'welcome' | 'replayed' | 'ticks'
  host: number
  at: number
  ticks: number
  sent: number[][]
}

/**
 * Simulated agents (`scripts/lib/sim-fleet.ts`) in a process of their own: hosts `sim-<first>` on, with the
 * tokens in `tokensFile`, trying `urls` in turn. Each line it reports goes to `onMessage`.
 */
export function spawnSimFleet(
  opts: { urls: string[]; tokensFile: string; agents: number; metrics: number; dir: string; first?: number },
  onMessage: (msg: SimMessage) => void,
): ChildProcess {
  const args = ['--url', opts.urls.join(','), '--tokens', opts.tokensFile, '--agents', String(opts.agents)]
  args.push('--metrics', String(opts.metrics), '--dir', opts.dir, '--first', String(opts.first ?? 0))
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/lib/sim-fleet.ts'), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString()
    let nl = out.indexOf('\n')
    while (nl >= 0) {
      onMessage(JSON.parse(out.slice(0, nl)) as SimMessage)
      out = out.slice(nl + 1)
      nl = out.indexOf('\n')
    }
  })
  return child
}
