import { Hono } from 'hono'
import type { AuthEnv } from '../auth/index.ts'
import { refuse } from '../errors.ts'
import { describeRoute, validate } from '../openapi/index.ts'
import { type ConfigEvent, ConfigQuery, ROLES } from '../protocol/index.ts'
import type { Control } from './control.ts'
import type { Sampling } from './sampling.ts'

/** `GET /api/control`: the WebSocket upgrade, which checks Origin and credentials itself. Mount before the read check. */
export function controlRoutes(control: Control): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>()
  const [guard, check, upgrade] = control.handlers()
  app.get(
    '/api/control',
    describeRoute({
      tag: 'control',
      summary: 'The control channel (WebSocket)',
      description:
        'Commands with acknowledgements, audited; docs/protocols.md. The upgrade checks `Origin` and the credentials; any role may connect, and each command checks its own (operator or admin, some admin only).',
      response: { status: 101, description: 'Switching to WebSocket' },
      errors: ['too_many_connections'],
      roles: ROLES,
    }),
    guard,
    check,
    upgrade,
  )
  return app
}

/** `GET /api/config?host=`: a host's sampling settings, the hub's own by default. Mounted behind the read check. */
export function configRoutes(sampling: Sampling): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>()
  app.get(
    '/api/config',
    describeRoute({
      tag: 'control',
      summary: "A host's sampling settings",
      response: { description: '`{host, version, sampling: {fastMs, slowMs, paused}, changedBy, at, revertsAt?}`' },
      errors: ['not_found'],
    }),
    validate('query', ConfigQuery),
    (c) => {
      const { host } = c.req.valid('query')
      const control = host === undefined ? sampling.local : sampling.for(host)
      if (!control) return refuse(c, 'not_found', `No host ${host}`)
      return c.json<ConfigEvent>(control.current())
    },
  )
  return app
}
