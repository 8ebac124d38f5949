import { type Context, Hono, type MiddlewareHandler } from 'hono'
import { z } from 'zod'
import { type AuthEnv, authenticate, READ_ROLES, requireRole, type Tokens } from '../auth/index.ts'
import { issueMessage, refuse } from '../errors.ts'
import { describeRoute, limitBody, validate } from '../openapi/index.ts'
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
} from '../protocol/index.ts'
import type { Jobs } from './jobs.ts'

/** Roles that may report jobs: reporters for their own, operators and admins for any. */
const INGEST_ROLES: readonly Role[] = ['reporter', 'operator', 'admin']
const JOB_READ_ROLES: readonly Role[] = [...READ_ROLES, 'reporter']
const MAX_LOG_BODY = 1024 * 1024
const MAX_BODY = 64 * 1024
const LogBatch = z.array(LogLineIn).max(10_000)

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
    // An unknown job throws not_found, answered 404 like every refusal
    if ((await jobs.ownerOf(id)) !== c.get('principal')?.tokenId) {
      return refuse(c, 'forbidden', 'This token may only touch the jobs it created')
    }
    await next()
  }
  const ingest = requireRole(INGEST_ROLES, 'report jobs')
  const read = requireRole(JOB_READ_ROLES, 'read jobs')

  app.post(
    '/api/jobs',
    describeRoute({
      tag: 'jobs',
      summary: 'Start a job',
      response: { status: 201, description: 'The job' },
    }),
    ingest,
    limitBody(MAX_BODY),
    validate('json', NewJob),
    async (c) => c.json(await jobs.create(c.req.valid('json'), c.get('principal')?.tokenId ?? null), 201),
  )
  app.post(
    '/api/jobs/:id/progress',
    describeRoute({
      tag: 'jobs',
      summary: "Report a job's progress",
      response: { description: 'The job' },
      errors: ['not_found', 'conflict'],
    }),
    ingest,
    ownJob,
    limitBody(MAX_BODY),
    validate('json', ProgressUpdate),
    async (c) => c.json(await jobs.progress(c.req.param('id'), c.req.valid('json'))),
  )
  app.post(
    '/api/jobs/:id/logs',
    describeRoute({
      tag: 'jobs',
      summary: 'Append log lines',
      description:
        'A JSON array of `{text, stream?, ts?, level?}`, or NDJSON; a `batch` number not above the last one seen is a retry, acknowledged and not stored again. Stored before the answer.',
      response: { description: '`{duplicate, lines, lastSeq}`' },
      body: { schema: LogBatch, required: true, types: ['application/json', 'application/x-ndjson'] },
      errors: ['not_found', 'conflict'],
    }),
    ingest,
    ownJob,
    limitBody(MAX_LOG_BODY),
    validate('query', LogBatchQuery),
    async (c) => {
      const body = await readLines(c)
      if ('error' in body) return refuse(c, 'invalid', body.error)
      return c.json(await jobs.appendLogs(c.req.param('id'), c.req.valid('query').batch, body.lines))
    },
  )
  app.post(
    '/api/jobs/:id/heartbeat',
    describeRoute({
      tag: 'jobs',
      summary: "A job's heartbeat",
      description: "Keeps the job from being marked `lost`; the body, optional, carries its process tree's resources.",
      response: { description: '`{cancelRequested: {by, at, reason} | null, retry: {jobId} | null}`' },
      body: { schema: HeartbeatBody, required: false },
      errors: ['not_found', 'conflict'],
    }),
    ingest,
    ownJob,
    limitBody(MAX_BODY),
    async (c) => {
      // The body is optional: a bare heartbeat, or one with the process tree's resources
      const text = await c.req.text()
      let body: unknown = {}
      try {
        if (text.trim() !== '') body = JSON.parse(text)
      } catch {
        return refuse(c, 'invalid', 'Body is not valid JSON')
      }
      const parsed = HeartbeatBody.safeParse(body)
      if (!parsed.success) return refuse(c, 'invalid', issueMessage(parsed.error))
      return c.json(await jobs.heartbeat(c.req.param('id'), parsed.data))
    },
  )
  app.post(
    '/api/jobs/:id/finish',
    describeRoute({
      tag: 'jobs',
      summary: 'Finish a job',
      response: { description: 'The job' },
      errors: ['not_found', 'conflict'],
    }),
    ingest,
    ownJob,
    limitBody(MAX_BODY),
    validate('json', FinishJob),
    async (c) => c.json(await jobs.finish(c.req.param('id'), c.req.valid('json'))),
  )

  app.get(
    '/api/jobs',
    describeRoute({ tag: 'jobs', summary: 'List jobs', response: { description: '`{jobs: [job]}`, newest first' } }),
    read,
    validate('query', JobsQuery),
    async (c) => c.json({ jobs: await jobs.list(c.req.valid('query')) }),
  )
  app.get(
    '/api/jobs/:id',
    describeRoute({ tag: 'jobs', summary: 'A job', response: { description: 'The job' }, errors: ['not_found'] }),
    read,
    ownJob,
    async (c) => c.json(await jobs.get(c.req.param('id'))),
  )
  app.get(
    '/api/jobs/:id/logs',
    describeRoute({
      tag: 'jobs',
      summary: "Read a job's log",
      description: 'A page of lines after `after`, or the matches of `q`.',
      response: { description: '`{lines: [{seq, ts, stream, level, text, cut}], dropped}`' },
      errors: ['not_found'],
    }),
    read,
    ownJob,
    validate('query', LogsQuery),
    async (c) => {
      const q = c.req.valid('query')
      return c.json(await jobs.logs(c.req.param('id'), q.after, q.limit, q.q))
    },
  )
  return app
}
