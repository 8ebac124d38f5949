import { spawn } from 'node:child_process'
import { constants } from 'node:os'
import { parseArgs } from 'node:util'
import { MAX_LINE_BYTES } from '../jobs/index.ts'
import type { LogLineIn, ProgressUpdate } from '../protocol/index.ts'
import { parseDirective } from './directives.ts'
import { LineSplitter } from './lines.ts'
import { Reporter } from './reporter.ts'
import { groupMeter } from './resources.ts'

const FLUSH_MS = 250
/**
 * A batch also goes out once its text reaches this size: encoded, even text that JSON escapes six times over
 * (control characters) stays under the hub's 1 MiB body limit.
 */
const FLUSH_BYTES = 128 * 1024
const HEARTBEAT_MS = 2000
/** After the command ends, how long the report may keep retrying an unreachable hub. */
const CATCH_UP_MS = 5 * 60_000
/** After vigil run itself gets SIGINT or SIGTERM, how long the report may still wait for the hub. */
const INTERRUPTED_CATCH_UP_MS = 5000

export const RUN_HELP = `Usage: vigil run [--name N] [--url U] [--token T] [--progress-regex R] [--grace S] [--wait-retry S] -- <command> [args…]

Runs a command as a tracked job: creates the job on the hub, streams stdout and stderr line by line, reads
progress directives, heartbeats every 2 s, and exits with the command's exit code. While the hub is unreachable
the command keeps running and the report is buffered and sent when the hub is back, for up to 5 minutes after the
command ends (5 seconds once vigil run itself got SIGINT or SIGTERM, which it also passes to the command).

Directives (lines the command prints; they set progress and are not logged):
  ::progress 42                  percent
  ::progress 420/1000 rows       current/total and unit
  ::step 2/5 Restore tables      step index/count and name

Options:
  --name N            job name (default: the command line)
  --url U             hub URL (default VIGIL_URL, else http://127.0.0.1:8686)
  --token T           reporter or operator token (default VIGIL_TOKEN)
  --progress-regex R  a regex with named groups percent, or current and total (and unit)
  --grace S           seconds between SIGINT, SIGTERM and SIGKILL when the job is cancelled (default 10)
  --wait-retry S      after a failure or cancel, wait up to S seconds for an operator's job.retry and run again
`

/** Resolves once no process is left in the group. */
async function groupGone(pgid: number): Promise<void> {
  for (;;) {
    try {
      process.kill(-pgid, 0)
    } catch {
      return
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** `vigil run … -- cmd args…`; resolves with the exit code to leave with. */
export async function runCommand(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const dash = argv.indexOf('--')
  const own = dash < 0 ? argv : argv.slice(0, dash)
  const command = dash < 0 ? [] : argv.slice(dash + 1)
  if (own.includes('--help') || own.includes('-h')) {
    process.stdout.write(RUN_HELP)
    return 0
  }
  let values: {
    name?: string
    url?: string
    token?: string
    'progress-regex'?: string
    grace?: string
    'wait-retry'?: string
  }
  try {
    values = parseArgs({
      args: own,
      options: {
        name: { type: 'string' },
        url: { type: 'string' },
        token: { type: 'string' },
        'progress-regex': { type: 'string' },
        grace: { type: 'string' },
        'wait-retry': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }).values
  } catch (err) {
    process.stderr.write(`vigil run: ${(err as Error).message}\n\n${RUN_HELP}`)
    return 2
  }
  const [cmd, ...args] = command
  if (!cmd) {
    process.stderr.write(`vigil run: no command given after --\n\n${RUN_HELP}`)
    return 2
  }
  const grace = values.grace === undefined ? 10 : Number(values.grace)
  if (!(grace > 0 && grace <= 3600)) {
    process.stderr.write('vigil run: --grace is seconds, more than 0 and at most 3600\n')
    return 2
  }
  const waitRetry = values['wait-retry'] === undefined ? 0 : Number(values['wait-retry'])
  if (!(waitRetry >= 0 && waitRetry <= 86_400)) {
    process.stderr.write('vigil run: --wait-retry is seconds, 0 to 86400\n')
    return 2
  }
  let custom: RegExp | null = null
  try {
    custom = values['progress-regex'] ? new RegExp(values['progress-regex']) : null
  } catch (err) {
    process.stderr.write(`vigil run: --progress-regex: ${(err as Error).message}\n`)
    return 2
  }
  const url = values.url ?? env.VIGIL_URL ?? 'http://127.0.0.1:8686'
  let reporter = new Reporter(url, values.token ?? env.VIGIL_TOKEN, (m) => process.stderr.write(`${m}\n`))
  const created = reporter.create(values.name ?? command.join(' ').slice(0, 200), command).then(
    // The dashboard's page of the job, to open in a browser
    (job) => process.stderr.write(`vigil run: job ${job.id}: ${url.replace(/\/+$/, '')}/jobs/${job.id}\n`),
    (err: Error) => {
      // Refused for good (a bad token, say): the command still runs, unreported
      reporter.stop()
      process.stderr.write(`vigil run: could not create the job, so it is not reported: ${err.message}\n`)
    },
  )
  // Ctrl-C or a TERM to vigil run goes to the whole command, which runs in its own process group, and means
  // the user wants out: no long wait for an unreachable hub or for a retry afterwards
  let signalGroup: (sig: NodeJS.Signals) => void = () => {}
  let interrupt = () => {}
  const interrupted = new Promise<void>((resolve) => {
    interrupt = resolve
  })
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      signalGroup(sig)
      interrupt()
    })
  }
  const run = { cmd, args, grace, custom, interrupted, onGroup: (fn: typeof signalGroup) => (signalGroup = fn) }

  let result = await execute(run, reporter, created)
  while (waitRetry > 0 && result.state !== 'succeeded') {
    const next = await waitForRetry(reporter, waitRetry, interrupted)
    if (next === null) break
    process.stderr.write(`vigil run: retry requested: running the command again as job ${next}\n`)
    reporter = reporter.forJob(next)
    result = await execute(run, reporter, Promise.resolve())
  }
  return result.exitCode
}

/** Heartbeats a finished job for up to `seconds`, waiting for a `job.retry`; the new job's id, or null. */
async function waitForRetry(reporter: Reporter, seconds: number, interrupted: Promise<void>): Promise<string | null> {
  process.stderr.write(`vigil run: waiting up to ${seconds} s for a retry (job.retry)\n`)
  let stop = false
  const stopped = interrupted.then(() => {
    stop = true
    return null
  })
  const until = Date.now() + seconds * 1000
  while (!stop && Date.now() < until) {
    const hb = await Promise.race([reporter.heartbeat(null), stopped])
    if (hb?.retry) return hb.retry.jobId
    await Promise.race([new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS)), stopped])
  }
  return null
}

interface RunSpec {
  cmd: string
  args: string[]
  grace: number
  custom: RegExp | null
  /** Settles when vigil run itself gets SIGINT or SIGTERM. */
  interrupted: Promise<void>
  /** Points Ctrl-C forwarding at this run's process group. */
  onGroup(fn: (sig: NodeJS.Signals) => void): void
}

/** Runs the command once, reporting to `reporter`'s job; resolves with the exit code and the final state. */
async function execute(
  spec: RunSpec,
  reporter: Reporter,
  created: Promise<unknown>,
): Promise<{ exitCode: number; state: 'succeeded' | 'failed' | 'cancelled' }> {
  const { cmd, args, grace, custom } = spec
  // A retried job starts queued: the first report moves it to running
  reporter.progress({})
  // The command starts at once, whether or not the hub answers: its output is buffered until it does
  const child = spawn(cmd, args, { stdio: ['inherit', 'pipe', 'pipe'], detached: true })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve))

  let pending: LogLineIn[] = []
  let pendingBytes = 0
  let progress: ProgressUpdate | null = null
  const flush = () => {
    if (progress) reporter.progress(progress)
    progress = null
    reporter.logs(pending)
    pending = []
    pendingBytes = 0
  }
  const flushTimer = setInterval(flush, FLUSH_MS)
  /** A line for the hub: joined to the last pending text when it came in the same read of the same stream. */
  const add = (stream: 'stdout' | 'stderr', text: string, ts: number) => {
    // Longer than the hub keeps: sent one character over, so the hub cuts it and marks it cut
    const kept = text.length > MAX_LINE_BYTES ? text.slice(0, MAX_LINE_BYTES + 1) : text
    const last = pending.at(-1)
    // Every line ends in LF, so an empty last line is still a line when the hub splits the text
    if (last && last.stream === stream && last.ts === ts) last.text += `${kept}\n`
    else pending.push({ stream, text: `${kept}\n`, ts })
    pendingBytes += kept.length + 1
    if (pendingBytes >= FLUSH_BYTES) flush()
  }
  const read = (stream: NodeJS.ReadableStream, name: 'stdout' | 'stderr', echo: NodeJS.WritableStream) => {
    let ts = 0
    const lines = new LineSplitter((text) => {
      const directive = parseDirective(text, custom)
      if (!directive) return add(name, text, ts)
      const merged: ProgressUpdate = { ...progress, ...directive }
      // A count replaces an earlier percent in the same flush: the hub derives the percent from it
      if (directive.current !== undefined && directive.percent === undefined) delete merged.percent
      progress = merged
    })
    stream.setEncoding('utf8')
    stream.on('data', (chunk: string) => {
      // Echoed as it came; every line of one read shares its time
      echo.write(chunk)
      ts = Date.now()
      lines.push(chunk)
      if (reporter.congested) {
        stream.pause()
        void reporter.relieved().then(() => stream.resume())
      }
    })
    return new Promise<void>((resolve) =>
      stream.once('end', () => {
        ts = Date.now()
        lines.end()
        resolve()
      }),
    )
  }
  const outputDone = Promise.all([
    read(child.stdout as NodeJS.ReadableStream, 'stdout', process.stdout),
    read(child.stderr as NodeJS.ReadableStream, 'stderr', process.stderr),
  ])

  let cancelBy: string | null = null
  const escalation: NodeJS.Timeout[] = []
  const signalGroup = (sig: NodeJS.Signals) => {
    if (child.pid === undefined) return
    try {
      process.kill(-child.pid, sig)
    } catch {
      // the group is gone already
    }
  }
  spec.onGroup(signalGroup)
  const escalate = (by: string) => {
    if (cancelBy !== null) return
    cancelBy = by
    process.stderr.write(`vigil run: cancel requested by ${by}: SIGINT, then SIGTERM after ${grace} s, then SIGKILL\n`)
    signalGroup('SIGINT')
    escalation.push(setTimeout(() => signalGroup('SIGTERM'), grace * 1000))
    escalation.push(setTimeout(() => signalGroup('SIGKILL'), 2 * grace * 1000))
  }
  const measure = child.pid === undefined ? () => null : groupMeter(child.pid)
  const heartbeat = setInterval(async () => {
    const hb = await reporter.heartbeat(measure())
    if (hb?.cancelRequested) escalate(hb.cancelRequested.by)
  }, HEARTBEAT_MS)

  /**
   * Reports the end, waiting up to CATCH_UP_MS for an unreachable hub, and no more than INTERRUPTED_CATCH_UP_MS
   * after a signal to vigil run; then gives up on the report.
   */
  const report = async (state: 'succeeded' | 'failed' | 'cancelled', exitCode: number) => {
    const reported = (async () => {
      await created
      reporter.finish(state, exitCode)
      await reporter.flushed()
      return true
    })()
    const later = (ms: number) => new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms).unref())
    const deadline = Promise.race([later(CATCH_UP_MS), spec.interrupted.then(() => later(INTERRUPTED_CATCH_UP_MS))])
    if (!(await Promise.race([reported, deadline]))) {
      reporter.stop()
      process.stderr.write('vigil run: the hub stayed unreachable; the end of this job was not reported\n')
    }
  }

  const outcome = await Promise.race([exited, spawnError])
  if (outcome instanceof Error) {
    clearInterval(heartbeat)
    clearInterval(flushTimer)
    pending.push({ stream: 'system', text: `could not start ${cmd}: ${outcome.message}` })
    flush()
    process.stderr.write(`vigil run: ${cmd}: ${outcome.message}\n`)
    await report('failed', 127)
    return { exitCode: 127, state: 'failed' }
  }
  await outputDone
  // Cancelled means the whole process tree is gone, not just the direct child (the escalation goes on meanwhile)
  if (cancelBy !== null && child.pid !== undefined) await groupGone(child.pid)
  for (const t of escalation) clearTimeout(t)
  clearInterval(heartbeat)
  clearInterval(flushTimer)
  const exitCode = outcome.code ?? 128 + (outcome.signal ? constants.signals[outcome.signal] : 0)
  if (cancelBy !== null) pending.push({ stream: 'system', text: `cancelled by ${cancelBy}; exit code ${exitCode}` })
  flush()
  const state = cancelBy !== null ? 'cancelled' : exitCode === 0 ? 'succeeded' : 'failed'
  await report(state, exitCode)
  return { exitCode, state }
}
