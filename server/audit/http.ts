import { Hono } from 'hono'
import { type AuthEnv, COMMAND_ROLES, requireRole } from '../auth/index.ts'
import { describeRoute, validate } from '../openapi/index.ts'
import { AuditQuery } from '../protocol/index.ts'
import type { Audit } from './audit.ts'

/** `GET /api/audit`: operators and admins page through the audit log, newest first. Mounted behind the read check. */
export function auditRoutes(audit: Audit): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>()
  app.get(
    '/api/audit',
    describeRoute({
      tag: 'audit',
      summary: 'The audit log',
      response: {
        description:
          '`{entries: [{id, ts, actor, role, remote, command, args, outcome, errorCode}]}`, newest first; `before` is an entry id',
      },
    }),
    requireRole(COMMAND_ROLES, 'read the audit log'),
    validate('query', AuditQuery),
    async (c) => {
      const q = c.req.valid('query')
      return c.json({ entries: await audit.list(q.limit, q.before) })
    },
  )
  return app
}
