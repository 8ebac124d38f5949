import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll } from 'vitest'
import { launchChromium } from '../../scripts/lib/chromium.ts'
import { ROOT } from '../../server/paths.ts'
import { createToken, type ServeProcess, spawnServe } from '../../server/testing/process.ts'

/** A built `vigil serve` on a fresh data dir and a headless Chromium, for one test file. */
export interface E2eHub {
  readonly browser: Browser
  readonly server: ServeProcess
  readonly dataDir: string
  /** The page of the hub's own host (it runs as `e2e-hub`): where its charts are. */
  readonly hostPage: string
  /** SIGKILLs the hub; returns its port so `restart` can bring it back there. */
  kill(): Promise<string>
  restart(port: string): Promise<void>
  /** `vigil token create` against the hub's data dir; returns the secret. */
  createToken(role: string, name: string): string
  /** POSTs JSON to the hub as a new token of `role` named `name`. */
  poster(role: string, name: string): (path: string, body: unknown) => Promise<Response>
  /** `vigil run` (built) against the hub as a reporter: `--name`, then the command. */
  run(name: string, command: string[]): { exited: Promise<number | null>; stderr(): string }
}

/** The host name the e2e hubs sample themselves under. */
export const HUB_HOST = 'e2e-hub'

/** Starts the hub and the browser before the file's tests and stops both after them. */
export function useE2eHub(serveArgs: string[]): E2eHub {
  let browser: Browser
  let server: ServeProcess
  let dataDir = ''
  const args = () => ['--data-dir', dataDir, '--hostname', HUB_HOST, ...serveArgs]

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'vigil-e2e-'))
    server = await spawnServe([...args(), '--port', '0'], {}, true)
    browser = await launchChromium()
  })

  afterAll(async () => {
    await browser?.close()
    server?.child.kill('SIGTERM')
    await server?.exited
    rmSync(dataDir, { recursive: true, force: true })
  })

  return {
    get browser() {
      return browser
    },
    get server() {
      return server
    },
    get dataDir() {
      return dataDir
    },
    get hostPage() {
      return `${server.url}/hosts/${HUB_HOST}`
    },
    async kill() {
      const port = new URL(server.url).port
      server.child.kill('SIGKILL')
      await server.exited
      return port
    },
    async restart(port) {
      server = await spawnServe([...args(), '--port', port], {}, true)
    },
    createToken: (role, name) => createToken(dataDir, role, name),
    poster(role, name) {
      const headers = {
        authorization: `Bearer ${createToken(dataDir, role, name)}`,
        'content-type': 'application/json',
      }
      return (path, body) => fetch(`${server.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) })
    },
    run(name, command) {
      const token = createToken(dataDir, 'reporter', `runner-${name.replace(/\W+/g, '-')}-${Date.now()}`)
      const child = spawn(
        process.execPath,
        [join(ROOT, 'dist/server/main.js'), 'run', '--url', server.url, '--name', name, '--', ...command],
        { env: { ...process.env, VIGIL_TOKEN: token }, stdio: ['ignore', 'ignore', 'pipe'] },
      )
      let err = ''
      child.stderr?.on('data', (d: Buffer) => {
        err += d.toString()
      })
      return { exited: new Promise((resolve) => child.once('exit', resolve)), stderr: () => err }
    },
  }
}
