/**
 * Private Redis, PostgreSQL and Prometheus servers for the cluster tests (`npm run test:cluster`), from the Debian packages'
 * binaries: each in a temp dir of its own, on a free loopback port, started and stopped by the test, so a test
 * may kill one with SIGKILL and start it again on the same port and data without disturbing anything else. No
 * system service is used or needed. A missing binary fails at once, naming the package to install.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, connect as netConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'

const PG_ROOT = '/usr/lib/postgresql'
const READY_TIMEOUT_MS = 30_000

/** A free TCP port on loopback, as the kernel hands one out. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    })
  })
}

async function waitUntil(what: string, ready: () => Promise<boolean>, p: ChildProcess): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (p.exitCode !== null || p.signalCode !== null) throw new Error(`${what} exited while starting`)
    if (await ready()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`${what} not ready after ${READY_TIMEOUT_MS} ms`)
}

function exited(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve()
  return new Promise((r) => p.once('exit', () => r()))
}

/** A server the test owns: `kill()` is SIGKILL, `start()` brings it back on the same port with the same data. */
export interface PrivateServer {
  readonly port: number
  readonly dir: string
  /** The server process's pid while it runs (for CPU figures), else null. */
  readonly pid: number | null
  start(): Promise<void>
  kill(): Promise<void>
  /** Stops it (if running) and removes its dir. */
  stop(): Promise<void>
}

/** The start, SIGKILL and stop of a server process; `launch` spawns it and resolves once it answers. */
function privateServer(
  port: number,
  dir: string,
  stopSignal: NodeJS.Signals,
  launch: () => Promise<ChildProcess>,
): PrivateServer {
  let child: ChildProcess | null = null
  return {
    port,
    dir,
    get pid() {
      return child?.pid ?? null
    },
    async start() {
      child = await launch()
    },
    async kill() {
      if (!child) return
      child.kill('SIGKILL')
      await exited(child)
      child = null
    },
    async stop() {
      if (child) {
        child.kill(stopSignal)
        await exited(child)
        child = null
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export interface PrivateRedis extends PrivateServer {
  readonly url: string
}

/** `redis-server --save '' --appendonly no` on a free port: the bus of the cluster tests. */
export async function startRedis(): Promise<PrivateRedis> {
  const bin = findBinary('redis-server', 'redis-server')
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'vigil-redis-'))
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]
  const server: PrivateRedis = Object.assign(
    privateServer(port, dir, 'SIGTERM', async () => {
      const child = spawn(bin, args, { stdio: 'ignore' })
      await waitUntil(`redis-server on port ${port}`, () => redisPing(port), child)
      return child
    }),
    { url: `redis://127.0.0.1:${port}` },
  )
  await server.start()
  return server
}

/** One inline command over a raw socket (`SET k 1`), answered with the server's first reply line; 1 s at most. */
export function redisCommand(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = netConnect(port, '127.0.0.1', () => sock.write(`${line}\r\n`))
    let got = ''
    sock.setTimeout(1000, () => {
      sock.destroy()
      reject(new Error(`no answer from port ${port} within 1000 ms`))
    })
    sock.once('error', reject)
    sock.on('data', (d) => {
      got += d.toString('latin1')
      const end = got.indexOf('\r\n')
      if (end >= 0) {
        sock.destroy()
        resolve(got.slice(0, end))
      }
    })
  })
}

/** True once the server answers PING. */
const redisPing = (port: number) =>
  redisCommand(port, 'PING').then(
    (line) => line === '+PONG',
    () => false,
  )

/** A client of its own on `url` for the length of `fn`, ended after it whatever happens. */
export async function withPgClient<T>(url: string, fn: (c: pg.Client) => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs })
  c.on('error', () => {})
  try {
    await c.connect()
    return await fn(c)
  } finally {
    await c.end().catch(() => {})
  }
}

export interface PrivatePostgres extends PrivateServer {
  /** The URL of the server's `postgres` database, as the superuser `vigil` (trust auth, loopback only). */
  readonly url: string
  /** Creates a fresh, empty database and returns its URL. */
  createDatabase(name?: string): Promise<string>
}

/**
 * `initdb` and `postgres` from `/usr/lib/postgresql/<newest>/bin`, in a temp dir, on a free port, listening on
 * loopback only with trust auth for the superuser `vigil`. PostgreSQL refuses to run as root: under root both run
 * as the `postgres` user, on a dir that user owns. `fsync` is off: a SIGKILL of the server loses nothing that way
 * (the kernel keeps the written pages), only a machine crash would, which no test makes.
 */
export async function startPostgres(): Promise<PrivatePostgres> {
  const binDir = findPgBin()
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pg-'))
  const data = join(dir, 'data')
  const ids = process.getuid?.() === 0 ? postgresUser() : null
  if (ids) chownSync(dir, ids.uid, ids.gid)
  const asOwner = { ...(ids ?? {}), env: { ...process.env, HOME: dir, LC_ALL: 'C' } }
  execFileSync(
    join(binDir, 'initdb'),
    ['-D', data, '-U', 'vigil', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions'],
    { ...asOwner, stdio: 'pipe' },
  )
  const url = `postgres://vigil@127.0.0.1:${port}/postgres`
  const args = ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1']
  args.push('-c', 'fsync=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200')
  let made = 0
  // SIGINT is PostgreSQL's fast shutdown: clients disconnected, no wait for them
  const base = privateServer(port, dir, 'SIGINT', async () => {
    // A killed server's backends notice within a moment and exit; until then a new postmaster refuses the data
    // dir, so the start is retried
    for (let attempt = 0; ; attempt++) {
      const child = spawn(join(binDir, 'postgres'), args, { ...asOwner, stdio: 'ignore' })
      try {
        await waitUntil(`postgres on port ${port}`, () => pgReady(url), child)
        return child
      } catch (err) {
        child.kill('SIGKILL')
        if (attempt >= 20) throw err
        await new Promise((r) => setTimeout(r, 250))
      }
    }
  })
  const server: PrivatePostgres = Object.assign(base, {
    url,
    async createDatabase(name = `vigil_${process.pid}_${++made}`) {
      await withPgClient(url, (c) => c.query(`CREATE DATABASE "${name}"`))
      return `postgres://vigil@127.0.0.1:${port}/${name}`
    },
  })
  await server.start()
  return server
}

/** True once the server takes a connection and answers a query. */
const pgReady = (url: string) =>
  withPgClient(url, (c) => c.query('SELECT 1'), 1000).then(
    () => true,
    () => false,
  )

function findPgBin(): string {
  const versions = existsSync(PG_ROOT)
    ? readdirSync(PG_ROOT)
        .filter((v) => existsSync(join(PG_ROOT, v, 'bin', 'postgres')))
        .sort((a, b) => Number(b) - Number(a))
    : []
  const newest = versions[0]
  if (newest === undefined)
    throw new Error(
      `PostgreSQL binaries not found in ${PG_ROOT}/*/bin: install the Debian package postgresql (apt-get install postgresql)`,
    )
  return join(PG_ROOT, newest, 'bin')
}

function postgresUser(): { uid: number; gid: number } {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
    return { uid, gid }
  } catch {
    throw new Error('no postgres user to run PostgreSQL as (not as root): install the Debian package postgresql')
  }
}

export interface PrivatePrometheus extends PrivateServer {
  readonly url: string
  /** An instant query through Prometheus' HTTP API: the result vector of `/api/v1/query`. */
  query(promql: string, at?: number): Promise<{ metric: Record<string, string>; value: [number, string] }[]>
}

/**
 * `prometheus` (the Debian package's server) with `config` (prometheus.yml's text) on a free port, its TSDB in a
 * temp dir; ready once `/-/ready` answers 200.
 */
export async function startPrometheus(config: string): Promise<PrivatePrometheus> {
  const bin = findBinary('prometheus', 'prometheus')
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'vigil-prometheus-'))
  writeFileSync(join(dir, 'prometheus.yml'), config)
  const url = `http://127.0.0.1:${port}`
  const args = [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ]
  const ready = async () => {
    try {
      return (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) })).status === 200
    } catch {
      return false
    }
  }
  const server: PrivatePrometheus = Object.assign(
    privateServer(port, dir, 'SIGTERM', async () => {
      const child = spawn(bin, args, { stdio: 'ignore' })
      await waitUntil(`prometheus on port ${port}`, ready, child)
      return child
    }),
    {
      url,
      async query(promql: string, at?: number) {
        const q = new URLSearchParams({ query: promql, ...(at === undefined ? {} : { time: String(at / 1000) }) })
        const res = await fetch(`${url}/api/v1/query?${q}`)
        const body = (await res.json()) as { status: string; error?: string; data: { result: unknown } }
        if (body.status !== 'success') throw new Error(`prometheus query ${promql}: ${body.error}`)
        return body.data.result as { metric: Record<string, string>; value: [number, string] }[]
      },
    },
  )
  await server.start()
  return server
}

/** A binary on PATH; throws at once, naming the Debian package that has it, when it is missing. */
export function findBinary(name: string, pkg: string): string {
  const bin = findOnPath(name)
  if (!bin) throw new Error(`${name} not found: install the Debian package ${pkg} (apt-get install ${pkg})`)
  return bin
}

function findOnPath(name: string): string | null {
  for (const d of (process.env.PATH ?? '').split(':').concat('/usr/sbin', '/usr/bin')) {
    if (d && existsSync(join(d, name))) return join(d, name)
  }
  return null
}
