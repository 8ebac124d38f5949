import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ROOT } from './paths.ts'
import { spawnServe } from './testing/process.ts'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'vigil-cli-'))
  dirs.push(d)
  return d
}

function vigil(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'server/main.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
  })
}

describe('vigil CLI', () => {
  it('ends open streams and exits 0 on SIGTERM, with the history flushed for the next start', async () => {
    const dir = tempDir()
    const p = await spawnServe(['--port', '0', '--data-dir', dir, '--sample-ms', '100'])
    const res = await fetch(`${p.url}/api/stream?topics=metrics`)
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    let text = ''
    while (!/id: \d+\nevent: metrics/.test(text)) text += new TextDecoder().decode((await reader.read()).value)

    p.child.kill('SIGTERM')
    let done = false
    while (!done) done = (await reader.read()).done
    expect(await p.exited).toBe(0)
    expect(p.stderr()).toContain('SIGTERM: shutting down')

    const again = await spawnServe(['--port', '0', '--data-dir', dir, '--sample-ms', '100'])
    const series = await fetch(`${again.url}/api/series?metric=mem.used_bytes&from=0&points=10000`)
    expect(series.status).toBe(200)
    expect(((await series.json()) as { points: unknown[] }).points.length).toBeGreaterThan(0)
    again.child.kill('SIGINT')
    expect(await again.exited).toBe(0)
  })

  it('refuses to start on a bad VIGIL_SAMPLE_MS with a message naming it, exit code 2', () => {
    const r = vigil(['serve'], { VIGIL_SAMPLE_MS: 'fast' })
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/^vigil: VIGIL_SAMPLE_MS \(--sample-ms\)="fast" is invalid/)
  })

  it('refuses to start with Redis but no PostgreSQL, exit code 2, saying why', () => {
    const dir = tempDir()
    const r = vigil(['serve', '--port', '0', '--data-dir', dir], { VIGIL_REDIS_URL: 'redis://127.0.0.1:6379' })
    expect(r.stderr).toBe(
      'vigil: VIGIL_REDIS_URL (--redis-url) needs VIGIL_DATABASE_URL (--database-url): hubs that share a bus must share their history, jobs and tokens too\n',
    )
    expect(r.status).toBe(2)
  })

  it('refuses a database URL that is not postgres://, exit code 2, naming the variable', () => {
    const r = vigil(['serve', '--port', '0'], { VIGIL_DATABASE_URL: 'mysql://db/vigil' })
    expect(r.stderr).toMatch(
      /^vigil: VIGIL_DATABASE_URL \(--database-url\)="mysql:\/\/db\/vigil" is invalid: a postgres:\/\/ URL/,
    )
    expect(r.status).toBe(2)
  })

  it('prints help for serve listing every variable', () => {
    const r = vigil(['serve', '--help'])
    expect(r.status).toBe(0)
    for (const v of [
      'VIGIL_HOST',
      'VIGIL_PORT',
      'VIGIL_DATA_DIR',
      'VIGIL_SAMPLE_MS',
      'VIGIL_SLOW_SAMPLE_MS',
      'VIGIL_SSE_HEARTBEAT_MS',
      'VIGIL_SSE_RETRY_MS',
      'VIGIL_RAW_RETENTION_H',
      'VIGIL_1M_RETENTION_D',
      'VIGIL_1H_RETENTION_D',
      'VIGIL_MAX_SERIES',
    ]) {
      expect(r.stdout).toContain(v)
    }
  })

  it('answers an unknown command with usage and exit code 2', () => {
    const r = vigil(['frobnicate'])
    expect(r.status).toBe(2)
    expect(r.stderr).toContain('vigil: unknown command "frobnicate"')
  })
})
