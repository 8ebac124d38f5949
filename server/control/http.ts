import { Hono } from 'hono'
import type { AuthEnv } from '../auth/index.ts'
import type { ConfigEvent } from '../protocol/index.ts'
import type { Control } from './control.ts'
import type { SamplingControl } from './sampling.ts'

/** `GET /api/control`: the WebSocket upgrade, which checks Origin and credentials itself. Mount before the read check. */
export function controlRoutes(control: Control): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>()
  const [checkUpgrade, upgrade] = control.handlers()
  app.get('/api/control', checkUpgrade, upgrade)
  return app
}

/** `GET /api/config`: the sampling settings in force. Mounted behind the read check. */
export function configRoutes(sampling: SamplingControl): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>()
  app.get('/api/config', (c) => c.json<ConfigEvent>(sampling.current()))
  return app
}
