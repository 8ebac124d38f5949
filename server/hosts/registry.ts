import { desc, eq, gte } from 'drizzle-orm'
import type { HubBus } from '../bus/index.ts'
import type { Devices, HostEntry, HostGap, HostInfo, Processes, SpoolStatus } from '../protocol/index.ts'
import type { Sql, Tables } from '../store/index.ts'

/** Why an agent may not speak as a host: the token belongs to another (`forbidden`), or another machine is it (`conflict`). */
export interface ClaimRefusal {
  code: 'forbidden' | 'conflict'
  message: string
}

export interface HostsOptions {
  /** The hub's own host name (`VIGIL_HOSTNAME`). */
  local: string
  info: HostInfo
  machineId: string | null
  /** Whether a token id is active, so a host bound to a revoked token can be taken over by its replacement. */
  tokenActive(tokenId: number): boolean
  /** Gaps older than this are no longer listed (raw retention: their span has aged out anyway). */
  gapsKeptMs: number
  /** A change that could not be announced (storage failing): the entry is changed all the same. */
  onError(err: unknown): void
}

interface HostState {
  entry: HostEntry
  tokenId: number | null
  machineId: string | null
  /** This hub keeps the entry: it is its own host, or its agent is connected here. Else another hub does. */
  here: boolean
}

/** Gaps listed per host, newest first. */
const GAPS_LISTED = 20

type Row = Tables['hosts']['$inferSelect']

const parse = <T>(json: string | null): T | null => (json === null ? null : (JSON.parse(json) as T))

/**
 * Every host the hub knows, its own and each agent's: whether it is online, who may speak for it, what its agent
 * last reported. Every change is a `host` event on the `hosts` topic, with the whole entry.
 */
export class Hosts {
  readonly #sql: Sql
  readonly #bus: HubBus
  readonly #opts: HostsOptions
  readonly #hosts = new Map<string, HostState>()
  readonly #listeners: ((entry: HostEntry, announced: boolean) => void)[] = []

  private constructor(sql: Sql, bus: HubBus, opts: HostsOptions) {
    this.#sql = sql
    this.#bus = bus
    this.#opts = opts
  }

  /** Marks the hub's own host, then reads every known host with its recent gaps. */
  static async open(sql: Sql, bus: HubBus, opts: HostsOptions): Promise<Hosts> {
    const h = new Hosts(sql, bus, opts)
    const { hosts, hostGaps } = sql.t
    const now = Date.now()
    // A host that was local under another name (VIGIL_HOSTNAME changed) is just a host that went quiet
    await sql.db.update(hosts).set({ local: false }).where(eq(hosts.local, true))
    await sql.db
      .insert(hosts)
      .values({
        name: opts.local,
        local: true,
        machineId: opts.machineId,
        info: JSON.stringify(opts.info),
        firstSeenAt: now,
      })
      .onConflictDoUpdate({
        target: hosts.name,
        set: { local: true, machineId: opts.machineId, info: JSON.stringify(opts.info), lastSeenAt: now },
      })
    const gaps = await sql.db
      .select()
      .from(hostGaps)
      .where(gte(hostGaps.toTs, now - opts.gapsKeptMs))
      .orderBy(desc(hostGaps.toTs))
    for (const row of await sql.db.select().from(hosts)) {
      const listed = gaps
        .filter((g) => g.host === row.name)
        .slice(0, GAPS_LISTED)
        .map((g) => ({ from: g.fromTs, to: g.toTs, ticks: g.ticks, reportedAt: g.reportedAt }))
      h.#hosts.set(row.name, h.#fromRow(row, listed, now))
    }
    return h
  }

  #fromRow(row: Row, gaps: HostGap[], now: number): HostState {
    // Only this hub's own host is known to be up: another hub's says so in its next announcement. Known by name:
    // another hub starting at the same time on a shared database may have just cleared its row's flag
    const mine = row.name === this.#opts.local
    return {
      tokenId: row.tokenId,
      machineId: row.machineId,
      here: mine,
      entry: {
        host: row.name,
        ts: now,
        state: mine ? 'online' : 'offline',
        local: mine || row.local,
        hub: mine ? this.#opts.local : null,
        lastSeenAt: mine ? now : row.lastSeenAt,
        agentVersion: row.agentVersion,
        info: parse<HostInfo>(row.info),
        processes: null,
        devices: parse<Devices>(row.devices),
        spool: parse<SpoolStatus>(row.spool),
        clockSkewMs: mine ? 0 : null,
        gaps,
        backfill: parse<HostEntry['backfill']>(row.backfill),
      },
    }
  }

  /** A write that no caller waits for (a status figure): a failure is counted, the entry changed all the same. */
  #persist(write: PromiseLike<unknown>): void {
    Promise.resolve(write).catch((err: unknown) => this.#opts.onError(err))
  }

  /** Called with the entry after every change: `announced` is false for another hub's, which that hub announced. */
  onChange(listener: (entry: HostEntry, announced: boolean) => void): void {
    this.#listeners.push(listener)
  }

  /**
   * Another hub's announcement of a host it keeps (its own, or one whose agent is connected to it): taken as it
   * is, not announced again. Ignored for a host this hub keeps, whose entry only this hub changes.
   */
  remote(entry: HostEntry): void {
    const h = this.#hosts.get(entry.host)
    if (h?.here) {
      // Said offline elsewhere while its agent is here (a late word from the hub it left, or its hold lost with
      // Redis): this hub says again that it is online
      if (entry.state === 'offline' && h.entry.state === 'online') this.#change(h, {})
      return
    }
    const state = h ?? { entry: { ...entry }, tokenId: null, machineId: null, here: false }
    if (h) Object.assign(h.entry, entry)
    else this.#hosts.set(entry.host, state)
    for (const l of this.#listeners) l(state.entry, false)
  }

  /**
   * Announces every host this hub keeps (its own, and its agents'), as they are now: for hubs that started since
   * and missed the announcements made before.
   */
  announceHere(): void {
    for (const h of this.#hosts.values()) if (h.here) this.#change(h, {})
  }

  /** Hosts another hub says are online: to look up in the cluster's holds, since a dead hub says nothing more. */
  onlineElsewhere(): string[] {
    const names: string[] = []
    for (const h of this.#hosts.values()) if (!h.here && h.entry.state === 'online') names.push(h.entry.host)
    return names
  }

  /** A host another hub said was online and no hub holds any more (that hub died): offline, announced. */
  lapsed(name: string): void {
    const h = this.#hosts.get(name)
    if (!h || h.here || h.entry.state === 'offline') return
    this.#change(h, { state: 'offline', hub: null })
  }

  get localHost(): string {
    return this.#opts.local
  }

  get(name: string): HostEntry | undefined {
    return this.#hosts.get(name)?.entry
  }

  list(): HostEntry[] {
    return [...this.#hosts.values()].map((h) => h.entry).sort((a, b) => a.host.localeCompare(b.host))
  }

  /**
   * Whether an agent with this token, on this machine, may speak as `name`. A token speaks for the one host it
   * was bound to; a host bound to another active token is that token's; an online host belongs to its machine.
   */
  claim(name: string, tokenId: number, machineId: string): ClaimRefusal | null {
    if (name === this.#opts.local) {
      return { code: 'conflict', message: `Host ${name} is this hub's own host, sampled in its process` }
    }
    const refusal = this.speaksFor(name, tokenId)
    if (refusal) return refusal
    const h = this.#hosts.get(name)
    if (!h) return null
    if (h.entry.state === 'online' && h.machineId !== null && h.machineId !== machineId) {
      return { code: 'conflict', message: `Host ${name} is online from another machine (machine id ${h.machineId})` }
    }
    return null
  }

  /**
   * Whether an agent token may speak for `name` (over its channel, or in `POST /api/metrics`): not when it is bound
   * to another host, nor when the host is bound to another token that is still active.
   */
  speaksFor(name: string, tokenId: number): ClaimRefusal | null {
    for (const h of this.#hosts.values()) {
      if (h.tokenId === tokenId && h.entry.host !== name) {
        return { code: 'forbidden', message: `This token speaks for host ${h.entry.host} only, not ${name}` }
      }
    }
    const h = this.#hosts.get(name)
    if (h?.entry.local) return { code: 'forbidden', message: `Host ${name} is this hub's own host` }
    if (h && h.tokenId !== null && h.tokenId !== tokenId && this.#opts.tokenActive(h.tokenId)) {
      return { code: 'forbidden', message: `Host ${name} is bound to another agent token` }
    }
    return null
  }

  /** An agent's socket for `name` is open and introduced itself: the host is online, bound to its token. */
  async connected(
    name: string,
    agent: { tokenId: number; machineId: string; agentVersion: string; info: HostInfo; spool: SpoolStatus },
  ): Promise<HostEntry> {
    const { hosts } = this.#sql.t
    const now = Date.now()
    const set = {
      local: false,
      tokenId: agent.tokenId,
      machineId: agent.machineId,
      agentVersion: agent.agentVersion,
      info: JSON.stringify(agent.info),
      spool: JSON.stringify(agent.spool),
      lastSeenAt: now,
    }
    await this.#sql.db
      .insert(hosts)
      .values({ name, firstSeenAt: now, ...set })
      .onConflictDoUpdate({ target: hosts.name, set })
    const h =
      this.#hosts.get(name) ?? this.#fromRow({ name, backfill: null, devices: null, firstSeenAt: now, ...set }, [], now)
    this.#hosts.set(name, h)
    h.tokenId = agent.tokenId
    h.machineId = agent.machineId
    h.here = true
    return this.#change(h, {
      state: 'online',
      local: false,
      hub: this.#opts.local,
      lastSeenAt: now,
      agentVersion: agent.agentVersion,
      info: agent.info,
      spool: agent.spool,
    })
  }

  /**
   * The agent's socket closed (or went silent and was dropped): offline at once. `movedOn` when its agent is on
   * another hub already, which keeps (and has announced) the entry from now on: this hub just lets it go.
   */
  disconnected(name: string, movedOn = false): void {
    const h = this.#hosts.get(name)
    if (!h?.here || h.entry.local) return
    h.here = false
    if (movedOn) return
    const lastSeenAt = h.entry.lastSeenAt ?? Date.now()
    const { hosts } = this.#sql.t
    this.#persist(this.#sql.db.update(hosts).set({ lastSeenAt }).where(eq(hosts.name, name)))
    this.#change(h, { state: 'offline', hub: null })
  }

  /** A tick or message arrived from the host. Not announced by itself: the fleet overview carries it. */
  seen(name: string, at = Date.now()): void {
    const h = this.#hosts.get(name)
    if (h && (h.entry.lastSeenAt ?? 0) < at) h.entry.lastSeenAt = at
  }

  processes(name: string, ts: number, processes: Processes): void {
    const h = this.#hosts.get(name)
    if (h) this.#change(h, { processes }, ts)
  }

  /**
   * The host's interface and mount names: kept in the hosts table, so `/metrics` labels carry them from the next
   * start on, before the agent says them again; written and announced only when they differ from what is held.
   */
  devices(name: string, devices: Devices): void {
    const h = this.#hosts.get(name)
    const json = JSON.stringify(devices)
    if (!h || JSON.stringify(h.entry.devices) === json) return
    const { hosts } = this.#sql.t
    this.#persist(this.#sql.db.update(hosts).set({ devices: json }).where(eq(hosts.name, name)))
    this.#change(h, { devices })
  }

  spool(name: string, spool: SpoolStatus): void {
    const h = this.#hosts.get(name)
    if (!h) return
    const was = h.entry.spool
    h.entry.spool = spool
    // The figures move with every tick; announced when something an operator acts on changes
    if (was && was.droppedTicks === spool.droppedTicks && (was.ticks === 0) === (spool.ticks === 0)) return
    const { hosts } = this.#sql.t
    this.#persist(
      this.#sql.db
        .update(hosts)
        .set({ spool: JSON.stringify(spool) })
        .where(eq(hosts.name, name)),
    )
    this.#change(h, {})
  }

  /** Records a gap the agent reported, once per spool and first sequence number. */
  async gap(
    name: string,
    spoolId: string,
    g: { fromSeq: number; toSeq: number; from: number; to: number; ticks: number },
  ): Promise<void> {
    const h = this.#hosts.get(name)
    if (!h) return
    const reportedAt = Date.now()
    const { hostGaps } = this.#sql.t
    const inserted = await this.#sql.db
      .insert(hostGaps)
      .values({
        host: name,
        spoolId,
        fromSeq: g.fromSeq,
        toSeq: g.toSeq,
        fromTs: g.from,
        toTs: g.to,
        ticks: g.ticks,
        reportedAt,
      })
      .onConflictDoNothing()
      .returning({ host: hostGaps.host })
    if (inserted.length === 0) return
    const gaps = [{ from: g.from, to: g.to, ticks: g.ticks, reportedAt }, ...h.entry.gaps].slice(0, GAPS_LISTED)
    this.#change(h, { gaps })
  }

  /** A replay finished: open charts of the host re-read `[from, to]`. */
  backfilled(name: string, b: { from: number; to: number; ticks: number }): void {
    const h = this.#hosts.get(name)
    if (!h) return
    const backfill = { ...b, at: Date.now() }
    const { hosts } = this.#sql.t
    this.#persist(
      this.#sql.db
        .update(hosts)
        .set({ backfill: JSON.stringify(backfill) })
        .where(eq(hosts.name, name)),
    )
    this.#change(h, { backfill })
  }

  /** The agent's clock against the hub's; announced when it moves by more than a quarter second. */
  clockSkew(name: string, ms: number): void {
    const h = this.#hosts.get(name)
    if (!h) return
    const was = h.entry.clockSkewMs
    h.entry.clockSkewMs = ms
    if (was === null || Math.abs(was - ms) > 250) this.#change(h, {})
  }

  /** Writes every host's last-seen time, so a restart shows it; run by housekeeping. */
  async persistSeen(): Promise<void> {
    const { hosts } = this.#sql.t
    for (const h of this.#hosts.values()) {
      if (h.entry.lastSeenAt === null) continue
      await this.#sql.db.update(hosts).set({ lastSeenAt: h.entry.lastSeenAt }).where(eq(hosts.name, h.entry.host))
    }
  }

  #change(h: HostState, patch: Partial<HostEntry>, ts = Date.now()): HostEntry {
    Object.assign(h.entry, patch)
    h.entry.ts = ts
    for (const l of this.#listeners) l(h.entry, true)
    try {
      this.#bus.publish('hosts', 'host', h.entry)
    } catch (err) {
      this.#opts.onError(err)
    }
    return h.entry
  }
}
