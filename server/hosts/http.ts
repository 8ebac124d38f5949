import { Hono } from 'hono'
import type { AuthEnv } from '../auth/index.ts'
import type { FleetResponse, HostEntry } from '../protocol/index.ts'
import type { Fleet } from './fleet.ts'
import type { Hosts } from './registry.ts'

/** `GET /api/hosts` (every host's entry) and `GET /api/fleet` (the overview's figures and sparklines). Mounted behind the read check. */
export function hostRoutes(hosts: Hosts, fleet: Fleet): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>()
  app.get('/api/hosts', (c) => c.json<HostEntry[]>(hosts.list()))
  app.get('/api/fleet', async (c) => c.json<FleetResponse>(await fleet.withSparks()))
  return app
}
