import { Hono } from 'hono'
import type { AuthEnv } from '../auth/index.ts'
import { describeRoute } from '../openapi/index.ts'
import type { FleetResponse, HostEntry } from '../protocol/index.ts'
import type { Fleet } from './fleet.ts'
import type { Hosts } from './registry.ts'

/** `GET /api/hosts` (every host's entry) and `GET /api/fleet` (the overview's figures and sparklines). Mounted behind the read check. */
export function hostRoutes(hosts: Hosts, fleet: Fleet): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>()
  app.get(
    '/api/hosts',
    describeRoute({
      tag: 'hosts',
      summary: 'Every host',
      response: { description: '`[host entry]`: state, hub, info, processes, devices, spool, gaps' },
    }),
    (c) => c.json<HostEntry[]>(hosts.list()),
  )
  app.get(
    '/api/fleet',
    describeRoute({
      tag: 'hosts',
      summary: 'The fleet overview',
      response: { description: "Every host's latest figures and sparklines" },
    }),
    async (c) => c.json<FleetResponse>(await fleet.withSparks()),
  )
  return app
}
