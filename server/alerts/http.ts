import { Hono } from 'hono'
import type { AuthEnv } from '../auth/index.ts'
import type { AlertConfig } from './config.ts'

/**
 * `GET /api/alerts/rules` and `GET /api/alerts/channels`: for viewers and above (mounted behind the read check).
 * Channels show their URL's host and their header names, never the URL or a header's value.
 */
export function alertRoutes(config: AlertConfig): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>()
  app.get('/api/alerts/rules', async (c) => c.json({ rules: await config.rules() }))
  app.get('/api/alerts/channels', async (c) => c.json({ channels: await config.channels() }))
  return app
}
