import { Hono } from 'hono'
import type { AuthEnv } from '../auth/index.ts'
import type { Agents } from './agents.ts'

/** `GET /api/agent`: the agents' WebSocket upgrade, which checks Origin, token, host and machine itself. Mount before the read check. */
export function agentRoutes(agents: Agents): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>()
  const [guard, check, upgrade] = agents.handlers()
  app.get('/api/agent', guard, check, upgrade)
  return app
}
