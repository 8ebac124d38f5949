import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import { Hono } from 'hono'
import { type AuthEnv, COMMAND_ROLES } from '../auth/index.ts'
import { refuse } from '../errors.ts'
import { clientOf } from '../http.ts'
import { type ConnectionCaps, RETRY_AFTER_S, refusalMessage } from '../limits/index.ts'
import { describeRoute, validate } from '../openapi/index.ts'
import { StreamQuery } from '../protocol/index.ts'
import type { Streams } from './streams.ts'

/**
 * `GET /api/stream`: the SSE stream. Mounted behind the read check; the `audit` topic needs a command role too.
 * The stream takes the Node response over, so the route answers RESPONSE_ALREADY_SENT.
 */
export function streamRoutes(streams: Streams, caps: ConnectionCaps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>()
  app.get(
    '/api/stream',
    describeRoute({
      tag: 'stream',
      summary: 'The live stream (SSE)',
      description: 'Topics of events with ids; resume with `Last-Event-ID`. docs/protocols.md.',
      response: { description: 'Server-Sent Events', type: 'text/event-stream' },
      errors: ['too_many_connections'],
    }),
    validate('query', StreamQuery),
    (c) => {
      const q = c.req.valid('query')
      const { role } = c.get('identity')
      if (q.topics.includes('audit') && !COMMAND_ROLES.includes(role)) {
        return refuse(c, 'forbidden', `Role ${role} may not read the audit topic`)
      }
      const header = c.req.header('last-event-id')
      const raw = header !== undefined && header !== '' ? header.trim() : q.lastEventId
      if (raw !== undefined && !/^\d{1,16}$/.test(raw)) {
        return refuse(c, 'invalid', 'Last-Event-ID must be a decimal event id')
      }
      const tokenId = c.get('principal')?.tokenId ?? null
      const slot = caps.acquire(clientOf(c).address, tokenId)
      if (typeof slot !== 'function') {
        c.header('retry-after', String(RETRY_AFTER_S))
        return refuse(c, 'too_many_connections', refusalMessage('streams', slot))
      }
      c.env.outgoing.once('close', slot)
      streams.open(c.env.outgoing, {
        topics: q.topics,
        lastEventId: raw === undefined ? null : Number(raw),
        tokenId,
        tail: q.tail,
      })
      return RESPONSE_ALREADY_SENT
    },
  )
  return app
}
