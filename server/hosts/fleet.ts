import type { HubBus } from '../bus/index.ts'
import {
  FLEET_SPARK_POINTS,
  FLEET_SPARK_STEP_MS,
  type FleetEvent,
  type FleetHost,
  type FleetResponse,
  type FleetSpark,
  type HostEntry,
  type SeriesPoint,
} from '../protocol/index.ts'
import type { Store } from '../store/index.ts'

/** One host's overview figures and its sparkline rings (a slot per step, overwritten as time goes round). */
interface Row {
  host: FleetHost
  slotTs: Float64Array
  cpu: Float64Array
  mem: Float64Array
  disk: Float64Array
  /** History read into the rings once, for a host not seen since start; set while the read is under way. */
  seeded: Promise<void> | null
}

/** How long after a period's boundary the fleet event goes: time for the ticks of that second to arrive. */
const FLUSH_AFTER_BOUNDARY_MS = 100

const round = (n: number, places = 2) => Math.round(n * 10 ** places) / 10 ** places

function newRow(
  entry: Pick<HostEntry, 'host' | 'state' | 'local' | 'lastSeenAt' | 'agentVersion' | 'clockSkewMs'>,
): Row {
  const ring = () => new Float64Array(FLEET_SPARK_POINTS).fill(Number.NaN)
  return {
    host: {
      host: entry.host,
      state: entry.state,
      local: entry.local,
      ts: null,
      cpuPct: null,
      memPct: null,
      diskPct: null,
      netBytesPerS: null,
      diskBytesPerS: null,
      load1: null,
      lastSeenAt: entry.lastSeenAt,
      agentVersion: entry.agentVersion,
      clockSkewMs: entry.clockSkewMs,
      droppedTicks: 0,
    },
    slotTs: ring(),
    cpu: ring(),
    mem: ring(),
    disk: ring(),
    seeded: null,
  }
}

/**
 * The fleet overview's feed: each host's latest figures (CPU, memory, fullest filesystem, network and disk bytes/s,
 * load, state), kept from its ticks, and one `fleet` event a second at most, in all, with the hosts that changed.
 * A page watching 200 hosts takes one small event a second instead of every tick of every host.
 */
export class Fleet {
  readonly #rows = new Map<string, Row>()
  readonly #changed = new Set<string>()
  readonly #bus: HubBus
  readonly #store: Store
  #timer: NodeJS.Timeout | null = null
  #flushedSlot = -1
  readonly #periodMs: number
  readonly #onError: (err: unknown) => void

  constructor(
    bus: HubBus,
    store: Store,
    hosts: readonly HostEntry[],
    opts: { periodMs: number; onError(err: unknown): void },
  ) {
    this.#bus = bus
    this.#store = store
    this.#periodMs = opts.periodMs
    this.#onError = opts.onError
    for (const h of hosts) this.host(h)
    this.#schedule()
  }

  /**
   * Flushes just after each period's boundary: ticks are stamped on the second, so a flush then carries the ticks
   * of that second with the least wait, instead of up to a period's worth. One flush per period at most, whatever
   * the timer's lateness.
   */
  #schedule(): void {
    const phase = (Date.now() - FLUSH_AFTER_BOUNDARY_MS) % this.#periodMs
    this.#timer = setTimeout(() => {
      const slot = Math.floor((Date.now() - FLUSH_AFTER_BOUNDARY_MS) / this.#periodMs)
      if (slot !== this.#flushedSlot) {
        this.#flushedSlot = slot
        this.#flush()
      }
      this.#schedule()
    }, this.#periodMs - phase)
  }

  /**
   * A host's entry changed: its state, agent, skew or gaps go out with the next event, unless `announce` is false
   * (another hub keeps the host, and its own fleet events carry it).
   */
  host(entry: HostEntry, announce = true): void {
    const row = this.#rows.get(entry.host) ?? newRow(entry)
    this.#rows.set(entry.host, row)
    const h = row.host
    h.state = entry.state
    h.local = entry.local
    h.lastSeenAt = entry.lastSeenAt
    h.agentVersion = entry.agentVersion
    h.clockSkewMs = entry.clockSkewMs
    h.droppedTicks = entry.gaps.reduce((n, g) => n + g.ticks, 0)
    if (announce) this.#changed.add(entry.host)
  }

  /**
   * Another hub's `fleet` event, with the hosts it keeps: their figures and sparklines are held here too, for
   * this hub's `/api/fleet` and the snapshot a stream opens with. Not announced again.
   */
  remote(hosts: readonly FleetHost[]): void {
    for (const fh of hosts) {
      let row = this.#rows.get(fh.host)
      if (!row) {
        row = newRow(fh)
        this.#rows.set(fh.host, row)
      }
      Object.assign(row.host, fh)
      if (fh.ts !== null) this.#record(row, fh.ts)
    }
  }

  /** A tick of a host: the figures it carries replace the ones held (a fast tick has no filesystems, a slow one no CPU). */
  tick(host: string, ts: number, values: Readonly<Record<string, number>>): void {
    const row = this.#rows.get(host)
    if (!row) return
    const h = row.host
    let net = 0
    let hasNet = false
    let disk = Number.NEGATIVE_INFINITY
    for (const name in values) {
      const v = values[name] as number
      if (name.startsWith('net.') && name.endsWith('_bytes_per_s')) {
        hasNet = true
        net += v
      } else if (name.startsWith('fs.') && name.endsWith('.used_pct') && v > disk) disk = v
    }
    const cpu = values['cpu.usage_pct']
    if (cpu !== undefined) h.cpuPct = cpu
    const used = values['mem.used_bytes']
    const total = values['mem.total_bytes']
    if (used !== undefined && total !== undefined && total > 0) h.memPct = round((used / total) * 100)
    if (disk > Number.NEGATIVE_INFINITY) h.diskPct = disk
    if (hasNet) h.netBytesPerS = Math.round(net)
    const read = values['disk.read_bytes_per_s']
    const written = values['disk.write_bytes_per_s']
    if (read !== undefined || written !== undefined) h.diskBytesPerS = Math.round((read ?? 0) + (written ?? 0))
    const load = values['load.1m']
    if (load !== undefined) h.load1 = load
    if (h.ts === null || ts > h.ts) h.ts = ts
    h.lastSeenAt = Math.max(h.lastSeenAt ?? 0, Date.now())
    this.#record(row, ts)
    this.#changed.add(host)
  }

  /** The current figures of every host, for a stream that opens on `fleet`. */
  snapshot(): FleetHost[] {
    return [...this.#rows.values()].map((r) => ({ ...r.host }))
  }

  /** Every host's figures and five minutes of sparklines, read from history once for hosts not seen since start. */
  async withSparks(now = Date.now()): Promise<FleetResponse> {
    const rows = [...this.#rows.values()]
    await Promise.all(
      rows.map((r) => {
        // A failed read is tried again by the next request
        r.seeded ??= this.#seed(r, now).catch((err: unknown) => {
          r.seeded = null
          throw err
        })
        return r.seeded
      }),
    )
    return { hosts: rows.map((r) => ({ ...r.host, spark: this.#spark(r, now) })) }
  }

  close(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
  }

  #record(row: Row, ts: number): void {
    const slot = Math.floor(ts / FLEET_SPARK_STEP_MS)
    const k = slot % FLEET_SPARK_POINTS
    const slotTs = slot * FLEET_SPARK_STEP_MS
    if (row.slotTs[k] !== slotTs) {
      row.slotTs[k] = slotTs
      row.cpu[k] = Number.NaN
      row.mem[k] = Number.NaN
      row.disk[k] = Number.NaN
    }
    const h = row.host
    if (h.cpuPct !== null) row.cpu[k] = h.cpuPct
    if (h.memPct !== null) row.mem[k] = h.memPct
    if (h.diskPct !== null) row.disk[k] = h.diskPct
  }

  #spark(row: Row, now: number): FleetSpark {
    const last = Math.floor(now / FLEET_SPARK_STEP_MS)
    const out: FleetSpark = { ts: [], cpuPct: [], memPct: [], diskPct: [] }
    const value = (a: Float64Array, k: number) => (Number.isNaN(a[k] as number) ? null : (a[k] as number))
    for (let slot = last - FLEET_SPARK_POINTS + 1; slot <= last; slot++) {
      const k = slot % FLEET_SPARK_POINTS
      const ts = slot * FLEET_SPARK_STEP_MS
      out.ts.push(ts)
      const here = row.slotTs[k] === ts
      out.cpuPct.push(here ? value(row.cpu, k) : null)
      out.memPct.push(here ? value(row.mem, k) : null)
      out.diskPct.push(here ? value(row.disk, k) : null)
    }
    return out
  }

  /** Fills a host's rings from history: after a restart, the overview's sparklines are whole at once. */
  async #seed(row: Row, now: number): Promise<void> {
    const host = row.host.host
    const from = now - FLEET_SPARK_POINTS * FLEET_SPARK_STEP_MS
    const read = async (metric: string) => {
      const r = await this.#store.range(metric, host, from, now, FLEET_SPARK_POINTS * 2)
      return r.seriesFound ? r.points : []
    }
    const disks = (await this.#store.metricNames()).filter(
      (m) => m.host === host && m.name.startsWith('fs.') && m.name.endsWith('.used_pct'),
    )
    const [cpu, memTotal, memUsed, ...disk] = await Promise.all([
      read('cpu.usage_pct'),
      read('mem.total_bytes'),
      read('mem.used_bytes'),
      ...disks.map((m) => read(m.name)),
    ])
    const put = (ring: Float64Array, ts: number, v: number, keep: (old: number, v: number) => number) => {
      const slot = Math.floor(ts / FLEET_SPARK_STEP_MS)
      const k = slot % FLEET_SPARK_POINTS
      if (row.slotTs[k] !== slot * FLEET_SPARK_STEP_MS) {
        row.slotTs[k] = slot * FLEET_SPARK_STEP_MS
        row.cpu[k] = Number.NaN
        row.mem[k] = Number.NaN
        row.disk[k] = Number.NaN
      }
      const old = ring[k] as number
      ring[k] = Number.isNaN(old) ? v : keep(old, v)
    }
    // A slot a live tick filled already keeps its value
    const live = (old: number) => old
    for (const [ts, avg] of cpu as SeriesPoint[]) put(row.cpu, ts, avg, live)
    const totals = new Map((memTotal as SeriesPoint[]).map(([ts, avg]) => [Math.floor(ts / FLEET_SPARK_STEP_MS), avg]))
    for (const [ts, avg] of memUsed as SeriesPoint[]) {
      const total = totals.get(Math.floor(ts / FLEET_SPARK_STEP_MS))
      if (total) put(row.mem, ts, round((avg / total) * 100), live)
    }
    for (const points of disk) for (const [ts, avg] of points) put(row.disk, ts, avg, Math.max)
  }

  #flush(): void {
    if (this.#changed.size === 0) return
    const event: FleetEvent = { ts: Date.now(), hosts: [] }
    for (const host of this.#changed) {
      const row = this.#rows.get(host)
      if (row) event.hosts.push({ ...row.host })
    }
    this.#changed.clear()
    try {
      this.#bus.publish('fleet', 'fleet', event)
    } catch (err) {
      this.#onError(err)
    }
  }
}
