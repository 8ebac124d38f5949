import { Hono } from 'hono'
import type { AuthEnv } from '../auth/index.ts'
import { describeRoute } from '../openapi/index.ts'
import type { Agents } from './agents.ts'

/** `GET /api/agent`: the agents' WebSocket upgrade, which checks Origin, token, host and machine itself. Mount before the read check. */
export function agentRoutes(agents: Agents): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>()
  const [guard, check, upgrade] = agents.handlers()
  app.get(
    '/api/agent',
    describeRoute({
      tag: 'agents',
      summary: 'The agent channel (WebSocket)',
      description:
        '`vigil agent` dials in here; docs/protocols.md. The upgrade checks the agent token and the host it speaks for.',
      response: { status: 101, description: 'Switching to WebSocket' },
      errors: ['conflict', 'too_many_connections'],
      roles: ['agent'],
    }),
    guard,
    check,
    upgrade,
  )
  return app
}
