import type { IncomingMessage } from 'node:http'
import { upgradeWebSocket } from '@hono/node-server'
import type { MiddlewareHandler } from 'hono'
import type { WebSocket } from 'ws'
import type { Audit } from '../audit/index.ts'
import { type AuthEnv, resolveIdentity, type Tokens } from '../auth/index.ts'
import type { SamplingTarget } from '../control/index.ts'
import { issueMessage, refuse } from '../errors.ts'
import { clientOf } from '../http.ts'
import { AGENT_CLOSE, AGENT_HOST_HEADER, AGENT_MACHINE_HEADER, HostName, MachineId } from '../protocol/index.ts'
import { heartbeat, upgradeGuard } from '../websocket.ts'
import { type AgentIdentity, AgentSession, type SessionDeps } from './session.ts'

/** Which hub holds each host's agent, when several hubs share a fleet (see `ClusterLink`). */
export interface HostHolds {
  /** Holds the host for this hub; a refusal when another machine's agent holds it on another hub. */
  claim(host: string, machineId: string): Promise<{ code: 'conflict'; message: string } | null>
  /** Lets the host go; resolves true when its agent is on another hub already. */
  release(host: string): Promise<boolean>
}

export interface AgentsOptions extends SessionDeps {
  tokens: Tokens
  audit: Audit
  allowedOrigins: ReadonlySet<string>
  holds?: HostHolds
}

/**
 * The agent channel's hub side: checks each upgrade (agent token, the host it speaks for, its machine), keeps one
 * session per host, pings every `heartbeatMs` and drops a peer that missed a pong, so a silent host is offline
 * within two heartbeats, and carries settings to the agents.
 */
export class Agents {
  readonly #opts: AgentsOptions
  readonly #pending = new WeakMap<IncomingMessage, AgentIdentity>()
  readonly #sessions = new Map<string, AgentSession>()
  readonly #stopHeartbeat: () => void

  constructor(opts: AgentsOptions) {
    this.#opts = opts
    this.#stopHeartbeat = heartbeat(opts.heartbeatMs, () => this.#sessions.values())
  }

  /** The route's handlers: Origin (403), credentials (401), role (403), host and machine (400, 403, 409), upgrade. */
  handlers(): [MiddlewareHandler<AuthEnv>, MiddlewareHandler<AuthEnv>, MiddlewareHandler<AuthEnv>] {
    const { tokens, hosts } = this.#opts
    const check: MiddlewareHandler<AuthEnv> = async (c, next) => {
      const r = await resolveIdentity(tokens, false, c.req.header('authorization'), undefined)
      if ('status' in r || r.principal === null) {
        return refuse(c, 'unauthorized', 'status' in r ? r.message : 'An agent token is required')
      }
      const { principal } = r
      const remote = clientOf(c).address
      const audited = (outcome: 'refused' | 'accepted', args: Record<string, unknown>, errorCode: string | null) =>
        this.#opts.audit.record({
          actor: principal.name,
          role: principal.role,
          remote,
          command: 'agent.connect',
          args,
          outcome,
          errorCode,
        })
      if (principal.role !== 'agent') {
        await audited('refused', {}, 'forbidden')
        return refuse(c, 'forbidden', `Role ${principal.role} may not connect as an agent; use a token of role agent`)
      }
      const host = HostName.safeParse(c.req.header(AGENT_HOST_HEADER))
      if (!host.success) return refuse(c, 'invalid', `${AGENT_HOST_HEADER}: ${issueMessage(host.error)}`)
      const machine = MachineId.safeParse(c.req.header(AGENT_MACHINE_HEADER))
      if (!machine.success) return refuse(c, 'invalid', `${AGENT_MACHINE_HEADER}: ${issueMessage(machine.error)}`)
      const refusal =
        hosts.claim(host.data, principal.tokenId, machine.data) ??
        (await this.#opts.holds?.claim(host.data, machine.data)) ??
        null
      if (refusal) {
        await audited('refused', { host: host.data, machineId: machine.data }, refusal.code)
        return refuse(c, refusal.code, refusal.message)
      }
      // Binding a token to a host (its first connection) is audited; reconnects are not
      const known = hosts.get(host.data)
      if (!known || known.agentVersion === null)
        await audited('accepted', { host: host.data, machineId: machine.data }, null)
      this.#pending.set(c.env.incoming, {
        host: host.data,
        machineId: machine.data,
        tokenId: principal.tokenId,
        tokenName: principal.name,
        remote,
      })
      await next()
    }
    return [upgradeGuard(this.#opts.allowedOrigins), check, upgradeWebSocket(() => ({}))]
  }

  /** Takes a socket whose upgrade `handlers()` checked; false for any other. */
  readonly accept = (ws: WebSocket, req: IncomingMessage): boolean => {
    const id = this.#pending.get(req)
    if (!id) return false
    this.#pending.delete(req)
    const session = new AgentSession(ws, id, this.#opts)
    session.onClose = () => {
      if (this.#sessions.get(id.host) !== session) return
      this.#sessions.delete(id.host)
      const { hosts, holds } = this.#opts
      if (!holds) return hosts.disconnected(id.host)
      // Offline, unless its agent has moved to another hub, which announced it online there already
      void holds.release(id.host).then((movedOn) => {
        if (!this.#sessions.has(id.host)) hosts.disconnected(id.host, movedOn)
      })
    }
    const old = this.#sessions.get(id.host)
    this.#sessions.set(id.host, session)
    // The same machine connected again (its old socket not yet known dead): the new one takes over
    old?.ws.close(AGENT_CLOSE.replaced, 'replaced by a new connection from the same machine')
    return true
  }

  /** How settings reach a host's agent: at once when it is connected, else at its next hello. */
  target(host: string): SamplingTarget {
    return {
      configure: (s) => this.#sessions.get(host)?.configure(s) ?? Promise.resolve(false),
    }
  }

  /** Closes the sockets of revoked tokens with 1008: their agents stop. */
  closeFor(tokenIds: ReadonlySet<number>): number {
    let closed = 0
    for (const session of this.#sessions.values()) {
      if (!tokenIds.has(session.id.tokenId)) continue
      session.ws.close(AGENT_CLOSE.policy, 'token revoked')
      closed++
    }
    return closed
  }

  /** Closes every socket with 1001: agents reconnect, to this hub once it is back or to another. */
  close(): void {
    this.#stopHeartbeat()
    for (const session of this.#sessions.values()) {
      // Offline now, while the store is open: the sockets' close events come after it has gone
      session.onClose = () => {}
      session.stop()
      if (session.welcomed) this.#opts.hosts.disconnected(session.id.host)
      session.ws.close(AGENT_CLOSE.goingAway, 'hub shutting down')
    }
    this.#sessions.clear()
  }
}
