import { Hono } from 'hono'
import type { AuthEnv } from '../auth/index.ts'
import type { HostEvent } from '../protocol/index.ts'
import type { Hosts } from './registry.ts'

/** `GET /api/hosts`: the latest `host` event of every host. Mounted behind the read check. */
export function hostRoutes(hosts: Hosts): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>()
  app.get('/api/hosts', (c) => c.json<HostEvent[]>(hosts.list()))
  return app
}
