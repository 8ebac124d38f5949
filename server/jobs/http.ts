import { zValidator } from '@hono/zod-validator'
import { type Context, Hono, type MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { z } from 'zod'
import { type AuthEnv, authenticate, READ_ROLES, requireRole, type Tokens } from '../auth/index.ts'
import { CommandError } from '../control/commands.ts'
import { errorBody, invalidAs400, issueMessage } from '../http.ts'
import {
  FinishJob,
  HeartbeatBody,
  JobsQuery,
  LogBatchQuery,
  LogLineIn,
  LogsQuery,
  NewJob,
  ProgressUpdate,
  type Role,
} from '../protocol.ts'
import type { Jobs } from './jobs.ts'

/** Roles that may report jobs: reporters for their own, operators and admins for any. */
const INGEST_ROLES: readonly Role[] = ['reporter', 'operator', 'admin']
const JOB_READ_ROLES: readonly Role[] = [...READ_ROLES, 'reporter']
const MAX_LOG_BODY = 1024 * 1024
const MAX_BODY = 64 * 1024
const LogBatch = z.array(LogLineIn).max(10_000)

function limit(bytes: number): MiddlewareHandler<AuthEnv> {
  return bodyLimit({
    maxSize: bytes,
    onError: (c) => c.json(errorBody('payload_too_large', `Body over ${bytes} bytes`), 413),
  })
}

/** A job refusal as HTTP: 404 `not_found` or 409 `conflict`; anything else is a bug for `onError`. */
function refusal(c: Context<AuthEnv>, err: unknown) {
  if (!(err instanceof CommandError)) throw err
  return err.code === 'not_found'
    ? c.json(errorBody('not_found', err.message), 404)
    : c.json(errorBody('conflict', err.message), 409)
}

/** Runs a job operation and answers with its result, or with its refusal. */
function answer(c: Context<AuthEnv>, run: () => object, status: 200 | 201 = 200) {
  try {
    return c.json(run(), status)
  } catch (err) {
    return refusal(c, err)
  }
}

/** Parses a log batch: a JSON array, or NDJSON (one line object per line) when the content type says so. */
async function readLines(c: Context<AuthEnv>): Promise<{ lines: z.infer<typeof LogBatch> } | { error: string }> {
  const body = await c.req.text()
  let raw: unknown
  try {
    raw = (c.req.header('content-type') ?? '').includes('ndjson')
      ? body
          .split('\n')
          .filter((l) => l.trim() !== '')
          .map((l) => JSON.parse(l))
      : JSON.parse(body)
  } catch {
    return { error: 'Body is not valid JSON (or NDJSON)' }
  }
  const parsed = LogBatch.safeParse(raw)
  if (!parsed.success) return { error: issueMessage(parsed.error) }
  return { lines: parsed.data }
}

/**
 * The jobs API: ingest (`POST`) for reporters, operators and admins, reads for viewers too. A reporter token may
 * only touch the jobs it created.
 */
export function jobRoutes(jobs: Jobs, tokens: Tokens, allowAnonymous: boolean): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>()
  app.use('/api/jobs', authenticate(tokens, allowAnonymous))
  app.use('/api/jobs/*', authenticate(tokens, allowAnonymous))

  const ownJob: MiddlewareHandler<AuthEnv> = async (c, next) => {
    if (c.get('identity').role !== 'reporter') return next()
    const id = c.req.param('id') ?? ''
    let owner: number | null
    try {
      owner = jobs.ownerOf(id)
    } catch {
      return c.json(errorBody('not_found', `No job ${id}`), 404)
    }
    if (owner !== c.get('principal')?.tokenId) {
      return c.json(errorBody('forbidden', 'This token may only touch the jobs it created'), 403)
    }
    await next()
  }
  const ingest = requireRole(INGEST_ROLES, 'report jobs')
  const read = requireRole(JOB_READ_ROLES, 'read jobs')

  app.post('/api/jobs', ingest, limit(MAX_BODY), zValidator('json', NewJob, invalidAs400), (c) =>
    answer(c, () => jobs.create(c.req.valid('json'), c.get('principal')?.tokenId ?? null), 201),
  )
  app.post(
    '/api/jobs/:id/progress',
    ingest,
    ownJob,
    limit(MAX_BODY),
    zValidator('json', ProgressUpdate, invalidAs400),
    (c) => answer(c, () => jobs.progress(c.req.param('id'), c.req.valid('json'))),
  )
  app.post(
    '/api/jobs/:id/logs',
    ingest,
    ownJob,
    limit(MAX_LOG_BODY),
    zValidator('query', LogBatchQuery, invalidAs400),
    async (c) => {
      const body = await readLines(c)
      if ('error' in body) return c.json(errorBody('invalid', body.error), 400)
      return answer(c, () => jobs.appendLogs(c.req.param('id'), c.req.valid('query').batch, body.lines))
    },
  )
  app.post('/api/jobs/:id/heartbeat', ingest, ownJob, limit(MAX_BODY), async (c) => {
    // The body is optional: a bare heartbeat, or one with the process tree's resources
    const text = await c.req.text()
    let body: unknown = {}
    try {
      if (text.trim() !== '') body = JSON.parse(text)
    } catch {
      return c.json(errorBody('invalid', 'Body is not valid JSON'), 400)
    }
    const parsed = HeartbeatBody.safeParse(body)
    if (!parsed.success) return c.json(errorBody('invalid', issueMessage(parsed.error)), 400)
    return answer(c, () => jobs.heartbeat(c.req.param('id'), parsed.data))
  })
  app.post('/api/jobs/:id/finish', ingest, ownJob, limit(MAX_BODY), zValidator('json', FinishJob, invalidAs400), (c) =>
    answer(c, () => jobs.finish(c.req.param('id'), c.req.valid('json'))),
  )

  app.get('/api/jobs', read, zValidator('query', JobsQuery, invalidAs400), (c) =>
    c.json({ jobs: jobs.list(c.req.valid('query')) }),
  )
  app.get('/api/jobs/:id', read, ownJob, (c) => answer(c, () => jobs.get(c.req.param('id'))))
  app.get('/api/jobs/:id/logs', read, ownJob, zValidator('query', LogsQuery, invalidAs400), (c) => {
    const q = c.req.valid('query')
    return answer(c, () => jobs.logs(c.req.param('id'), q.after, q.limit))
  })
  return app
}
