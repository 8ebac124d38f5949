import { Hono } from 'hono'
import type { AuthEnv } from '../auth/index.ts'
import { describeRoute, validate } from '../openapi/index.ts'
import { AlertsQuery, NotificationsQuery } from '../protocol/index.ts'
import type { Alerts } from './alerts.ts'

/**
 * The alert reads, for viewers and above (mounted behind the read check): alerts with their history, rules,
 * channels (their URL's host and header names only, never the URL or a header's value), silences, and every
 * notification with its delivery attempts.
 */
export function alertRoutes(alerts: Alerts): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>()
  app.get(
    '/api/alerts',
    describeRoute({
      tag: 'alerts',
      summary: 'Alerts',
      response: { description: '`{alerts}`: current and recent, each with its history' },
    }),
    validate('query', AlertsQuery),
    async (c) => c.json({ alerts: await alerts.list(c.req.valid('query')) }),
  )
  app.get(
    '/api/alerts/rules',
    describeRoute({
      tag: 'alerts',
      summary: 'Alert rules',
      response: { description: '`{rules: [{rule, updatedAt, updatedBy}]}` by name' },
    }),
    async (c) => c.json({ rules: await alerts.config.rules() }),
  )
  app.get(
    '/api/alerts/channels',
    describeRoute({
      tag: 'alerts',
      summary: 'Notification channels',
      description: 'URLs and headers redacted.',
      response: { description: '`{channels: [{name, kind, urlHost, headers, minSeverity, updatedAt, updatedBy}]}`' },
    }),
    async (c) => c.json({ channels: await alerts.config.channels() }),
  )
  app.get(
    '/api/alerts/silences',
    describeRoute({
      tag: 'alerts',
      summary: 'Silences',
      response: { description: '`{silences}`: on now, and ended in the last day' },
    }),
    async (c) => c.json({ silences: await alerts.silences.list() }),
  )
  app.get(
    '/api/alerts/notifications',
    describeRoute({
      tag: 'alerts',
      summary: 'Notifications and their attempts',
      response: { description: '`{notifications}`: each with its delivery attempts and their status' },
    }),
    validate('query', NotificationsQuery),
    async (c) => {
      const q = c.req.valid('query')
      return c.json({ notifications: await alerts.notifications(q.alertId, q.limit) })
    },
  )
  return app
}
