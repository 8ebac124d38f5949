import { type ChildProcess, type SpawnOptionsWithStdioTuple, spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { ROOT } from '../paths.ts'

/** `vigil serve` as a real child process, once it printed its URL. */
export interface ServeProcess {
  child: ChildProcess
  url: string
  exited: Promise<number | null>
  stdout(): string
  stderr(): string
}

/**
 * Which `vigil` a test runs: the source through tsx (false), this checkout's build (true, as `npm start` runs it),
 * or an installed `vigil` executable by its path (what `npm install -g` put in a prefix's `bin`).
 */
export type Cli = boolean | string

/** A `vigil <command>` child of the `cli` given. */
function vigil(command: string, args: string[], env: Record<string, string>, cli: Cli): ChildProcess {
  const opts: SpawnOptionsWithStdioTuple<'ignore', 'pipe', 'pipe'> = {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  }
  if (typeof cli === 'string') return spawn(cli, [command, ...args], opts)
  const entry = cli ? [join(ROOT, 'dist/server/main.js')] : ['--import', 'tsx', join(ROOT, 'server/main.ts')]
  return spawn(process.execPath, [...entry, command, ...args], opts)
}

/** `vigil serve` as a real child process; resolves once it prints its URL. */
export function spawnServe(
  args: string[],
  env: Record<string, string> = {},
  built: Cli = false,
): Promise<ServeProcess> {
  const child = vigil('serve', args, env, built)
  let err = ''
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  let out = ''
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /Vigil dashboard: (https?:\/\/\S+?)\/\n/.exec(out)
      if (m?.[1]) resolve({ child, url: m[1], exited, stdout: () => out, stderr: () => err })
    })
    exited.then((code) => reject(new Error(`vigil serve exited with ${code} before listening:\n${err}`)))
  })
}

/** `vigil token create` with the built CLI (or an installed one) against a data dir; returns the secret it prints. */
export function createToken(dataDir: string, role: string, name: string, bin?: string): string {
  const args = ['token', 'create', '--role', role, '--name', name, '--data-dir', dataDir]
  const r = bin
    ? spawnSync(bin, args, { encoding: 'utf8' })
    : spawnSync(process.execPath, [join(ROOT, 'dist/server/main.js'), ...args], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`vigil token create failed: ${r.stderr}`)
  return r.stdout.trim()
}

/** `vigil agent` as a real child process, from source through tsx (or the built CLI); output kept for the test. */
export interface AgentProcess {
  child: ChildProcess
  exited: Promise<number | null>
  stderr(): string
  /** Resolves once the agent logged that the hub welcomed it `n` times in all. */
  connected(n?: number, timeoutMs?: number): Promise<void>
}

export function spawnAgent(args: string[], env: Record<string, string> = {}, built: Cli = false): AgentProcess {
  const child = vigil('agent', args, env, built)
  child.stdout?.resume()
  let err = ''
  const waiters: (() => void)[] = []
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString()
    for (const w of waiters) w()
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return {
    child,
    exited,
    stderr: () => err,
    connected(n = 1, timeoutMs = 60_000) {
      const count = () => err.split('connected to the hub').length - 1
      if (count() >= n) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`agent not connected ${n} times after ${timeoutMs} ms:\n${err}`)),
          timeoutMs,
        )
        const check = () => {
          if (count() < n) return
          clearTimeout(timer)
          resolve()
        }
        waiters.push(check)
        exited.then(() => {
          clearTimeout(timer)
          reject(new Error(`agent exited before connecting:\n${err}`))
        })
      })
    },
  }
}

/** `vigil run` as a real child process, to its end: its exit code and what it wrote to stderr. */
export function spawnRun(url: string, token: string, args: string[], command: string[], cli: Cli = false) {
  const child = vigil('run', ['--url', url, '--token', token, ...args, '--', ...command], {}, cli)
  child.stdout?.resume()
  let err = ''
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString()
  })
  return new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, stderr: err })),
  )
}
