/**
 * The package as a user installs it: `npm pack` (which builds at `prepack`), `npm install -g` of the tarball into
 * a temp prefix, then the installed `vigil` serves, reports as an agent and runs a job, and the systemd units
 * verify against it. `npm run test:package`; it needs the npm registry (or npm's cache) and a C++ toolchain, as
 * better-sqlite3 compiles on install.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT, VERSION } from '../server/paths.ts'
import type { HealthResponse, HostEntry, Job } from '../server/protocol/index.ts'
import { createToken, type ServeProcess, spawnAgent, spawnRun, spawnServe } from '../server/testing/process.ts'
import { findBinary } from '../server/testing/services.ts'

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
let dir = ''
let bin = ''

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-package-'))
  const packed = execFileSync(npm, ['pack', '--pack-destination', dir, '--silent'], { cwd: ROOT, encoding: 'utf8' })
  const tarball = join(dir, packed.trim().split('\n').at(-1) ?? '')
  execFileSync(npm, ['install', '-g', '--prefix', join(dir, 'prefix'), tarball, '--no-audit', '--no-fund'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  bin = join(dir, 'prefix', 'bin', 'vigil')
}, 600_000)

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('installed from the npm pack tarball', () => {
  it('packs the build, the migrations, the units and the docs, and no test code', () => {
    const listed = JSON.parse(
      execFileSync(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' }),
    ) as {
      files: { path: string }[]
    }[]
    const paths = (listed[0]?.files ?? []).map((f) => f.path)
    for (const p of [
      'dist/server/main.js',
      'dist/web/index.html',
      'db/migrations/meta/_journal.json',
      'db/migrations-pg/meta/_journal.json',
      'contrib/systemd/vigil.service',
      'contrib/systemd/vigil-agent.service',
      'contrib/systemd/vigil.sysusers.conf',
      'docs/configuration.md',
      'README.md',
      'LICENSE',
    ]) {
      expect(paths, p).toContain(p)
    }
    expect(paths.filter((p) => /\.test\.|\/testing\/|\.map$|_snapshot\.json$|^(server|web)\//.test(p))).toEqual([])
  })

  it('prints its version', () => {
    const r = spawnSync(bin, ['--version'], { encoding: 'utf8' })
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 0, stdout: `${VERSION}\n` })
  })

  it('serves the dashboard and /api/health on port 0, takes an agent’s reports and a vigil run job', async () => {
    const data = join(dir, 'data')
    let hub: ServeProcess | null = null
    const agent = { stop: () => {} }
    try {
      hub = await spawnServe(['--port', '0', '--data-dir', data], {}, bin)
      const health = await fetch(`${hub.url}/api/health`)
      expect(health.status).toBe(200)
      expect(((await health.json()) as HealthResponse).status).toBe('ok')
      const page = await fetch(`${hub.url}/`)
      expect(page.status).toBe(200)
      expect(await page.text()).toContain('<title>Vigil</title>')

      const agentToken = createToken(data, 'agent', 'edge', bin)
      const a = spawnAgent(
        ['--hub', hub.url, '--token', agentToken, '--hostname', 'edge-pkg', '--spool-dir', join(dir, 'spool')],
        {},
        bin,
      )
      agent.stop = () => a.child.kill('SIGTERM')
      await a.connected()
      const viewer = createToken(data, 'viewer', 'reads', bin)
      const read = async <T>(path: string) =>
        (await (await fetch(`${hub?.url}${path}`, { headers: { authorization: `Bearer ${viewer}` } })).json()) as T
      await expect
        .poll(async () => (await read<HostEntry[]>('/api/hosts')).find((h) => h.host === 'edge-pkg')?.state)
        .toBe('online')

      const reporter = createToken(data, 'reporter', 'ci', bin)
      const run = await spawnRun(hub.url, reporter, ['--name', 'pkg-job'], ['sh', '-c', 'echo packaged'], bin)
      expect(run.code).toBe(0)
      const jobs = await read<{ jobs: Job[] }>('/api/jobs')
      expect(jobs.jobs.map((j) => [j.name, j.state, j.exitCode])).toEqual([['pkg-job', 'succeeded', 0]])
    } finally {
      agent.stop()
      hub?.child.kill('SIGTERM')
      await hub?.exited
    }
  })

  it('has systemd units that systemd-analyze verifies against the installed vigil', () => {
    const analyze = findBinary('systemd-analyze', 'systemd')
    const units = join(dir, 'units')
    mkdirSync(units, { recursive: true })
    for (const unit of ['vigil.service', 'vigil-agent.service']) {
      const text = readFileSync(join(dir, 'prefix/lib/node_modules/vigil/contrib/systemd', unit), 'utf8')
      expect(text).toMatch(/^ExecStart=vigil (serve|agent)$/m)
      // As systemd finds `vigil` on its search path; here it is in the temp prefix
      writeFileSync(join(units, unit), text.replace(/^ExecStart=vigil /m, `ExecStart=${bin} `))
    }
    const r = spawnSync(analyze, ['verify', 'vigil.service', 'vigil-agent.service'], { cwd: units, encoding: 'utf8' })
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 0, stdout: '', stderr: '' })
  })
})
