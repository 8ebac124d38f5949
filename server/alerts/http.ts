import { zValidator } from '@hono/zod-validator'
import { Hono } from 'hono'
import type { AuthEnv } from '../auth/index.ts'
import { invalidAs400 } from '../errors.ts'
import { AlertsQuery, NotificationsQuery } from '../protocol/index.ts'
import type { Alerts } from './alerts.ts'

/**
 * The alert reads, for viewers and above (mounted behind the read check): alerts with their history, rules,
 * channels (their URL's host and header names only, never the URL or a header's value), silences, and every
 * notification with its delivery attempts.
 */
export function alertRoutes(alerts: Alerts): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>()
  app.get('/api/alerts', zValidator('query', AlertsQuery, invalidAs400), async (c) =>
    c.json({ alerts: await alerts.list(c.req.valid('query')) }),
  )
  app.get('/api/alerts/rules', async (c) => c.json({ rules: await alerts.config.rules() }))
  app.get('/api/alerts/channels', async (c) => c.json({ channels: await alerts.config.channels() }))
  app.get('/api/alerts/silences', async (c) => c.json({ silences: await alerts.silences.list() }))
  app.get('/api/alerts/notifications', zValidator('query', NotificationsQuery, invalidAs400), async (c) => {
    const q = c.req.valid('query')
    return c.json({ notifications: await alerts.notifications(q.alertId, q.limit) })
  })
  return app
}
