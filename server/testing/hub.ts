import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type Database from 'better-sqlite3'
import { EventSource } from 'eventsource'
import { afterEach } from 'vitest'
import { loadConfig } from '../config.ts'
import { type Hub, type HubOptions, startHub } from '../hub.ts'
import { silentLogger } from '../log.ts'

/** A real hub on port 0 with a real SQLite file in a fresh temp dir; `restart` reopens the same dir. */
export interface TestHub {
  hub: Hub
  dir: string
  restart(env?: Record<string, string>): Promise<Hub>
  stop(): Promise<void>
}

export async function startTestHub(env: Record<string, string> = {}, opts: HubOptions = {}): Promise<TestHub> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-test-'))
  const configFor = (extra: Record<string, string>) =>
    loadConfig({ VIGIL_PORT: '0', VIGIL_DATA_DIR: dir, VIGIL_SAMPLE_MS: '100', ...env, ...extra })
  const t: TestHub = {
    hub: await startHub(configFor({}), { log: silentLogger, ...opts }),
    dir,
    async restart(extra = {}) {
      await t.hub.close()
      t.hub = await startHub(configFor(extra), { log: silentLogger, ...opts })
      return t.hub
    },
    async stop() {
      await t.hub.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
  return t
}

export interface Received {
  id: string
  type: string
  data: unknown
}

/** A real EventSource that records every named event it is told to listen for. */
export class Collector {
  readonly es: EventSource
  readonly events: Received[] = []
  #waiters: (() => void)[] = []

  constructor(url: string, types: string[], headers: Record<string, string> = {}) {
    this.es = new EventSource(url, {
      fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, ...headers } }),
    })
    for (const type of types) {
      this.es.addEventListener(type, (e) => {
        this.events.push({ id: e.lastEventId, type, data: JSON.parse(e.data) })
        for (const w of this.#waiters) w()
      })
    }
  }

  ids(type?: string): number[] {
    return this.events.filter((e) => type === undefined || e.type === type).map((e) => Number(e.id))
  }

  /** Resolves once `pred` holds, checking on every event; rejects after `timeoutMs`. */
  waitFor(pred: (events: Received[]) => boolean, timeoutMs = 10_000): Promise<void> {
    if (pred(this.events)) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== check)
        reject(new Error(`timed out after ${timeoutMs} ms with ${this.events.length} events`))
      }, timeoutMs)
      const check = () => {
        if (!pred(this.events)) return
        clearTimeout(timer)
        this.#waiters = this.#waiters.filter((w) => w !== check)
        resolve()
      }
      this.#waiters.push(check)
    })
  }

  close(): void {
    this.es.close()
  }
}

/** The SQLite connection of a hub on the data dir, for faking what the machine can't give (a full disk). */
export function sqliteOf(hub: Hub): Database.Database {
  if (!hub.db) throw new Error('this hub runs on PostgreSQL, not on a SQLite file')
  return hub.db.sqlite
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Hubs and live `metrics` collectors a test starts, closed and stopped after it. */
export function useTestHubs() {
  const hubs: TestHub[] = []
  const collectors: Collector[] = []
  afterEach(async () => {
    for (const c of collectors.splice(0)) c.close()
    for (const h of hubs.splice(0)) await h.stop()
  })
  return {
    async start(env: Record<string, string> = {}, opts: HubOptions = {}): Promise<TestHub> {
      const t = await startTestHub(env, opts)
      hubs.push(t)
      return t
    },
    metrics(url: string): Collector {
      const c = new Collector(`${url}/api/stream?topics=metrics`, ['metrics'])
      collectors.push(c)
      return c
    },
  }
}
