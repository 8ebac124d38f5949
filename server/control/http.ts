import { zValidator } from '@hono/zod-validator'
import { Hono } from 'hono'
import type { AuthEnv } from '../auth/index.ts'
import { invalidAs400, refuse } from '../errors.ts'
import { type ConfigEvent, ConfigQuery } from '../protocol/index.ts'
import type { Control } from './control.ts'
import type { Sampling } from './sampling.ts'

/** `GET /api/control`: the WebSocket upgrade, which checks Origin and credentials itself. Mount before the read check. */
export function controlRoutes(control: Control): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>()
  const [guard, check, upgrade] = control.handlers()
  app.get('/api/control', guard, check, upgrade)
  return app
}

/** `GET /api/config?host=`: a host's sampling settings, the hub's own by default. Mounted behind the read check. */
export function configRoutes(sampling: Sampling): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>()
  app.get('/api/config', zValidator('query', ConfigQuery, invalidAs400), (c) => {
    const { host } = c.req.valid('query')
    const control = host === undefined ? sampling.local : sampling.for(host)
    if (!control) return refuse(c, 'not_found', `No host ${host}`)
    return c.json<ConfigEvent>(control.current())
  })
  return app
}
