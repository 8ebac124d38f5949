import { ConfigError, loadConfig, settingsHelp } from './config.ts'
import { type Hub, startHub } from './hub.ts'
import { stderrLogger } from './log.ts'
import { VERSION } from './paths.ts'

const SERVE_HELP = `Usage: vigil serve [options]

Runs the hub: samples this machine, keeps history in SQLite in the data dir, serves the dashboard,
the HTTP API and the SSE stream. Each option also reads from its environment variable; a flag wins.

Options (flag, variable, default):
${settingsHelp()}
`

/** Exits within this long after SIGINT or SIGTERM, drained or not. */
const SHUTDOWN_DEADLINE_MS = 2000

/** `vigil serve`: runs the hub until SIGINT or SIGTERM; exit 2 on a bad setting. */
export async function serve(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(SERVE_HELP)
    return 0
  }
  let config: ReturnType<typeof loadConfig>
  try {
    config = loadConfig(process.env, args)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`vigil: ${err.message}\n`)
    return 2
  }
  let hub: Hub
  try {
    hub = await startHub(config)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`vigil: ${err.message}\n`)
    return 2
  }
  stderrLogger.info(`vigil ${VERSION} listening on ${hub.url}`, { data: hub.dataAt, sampleMs: config.sampleMs })
  process.stdout.write(`Vigil dashboard: ${hub.url}/\n`)
  if (hub.firstLoginUrl) {
    process.stdout.write(
      `First start: an admin token was created. Log in once with this link (valid 24 h, single use):\n  ${hub.firstLoginUrl}\n`,
    )
  }

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      stderrLogger.info(`${signal}: shutting down`)
      setTimeout(() => {
        stderrLogger.error(`shutdown took longer than ${SHUTDOWN_DEADLINE_MS} ms; exiting anyway`)
        process.exit(1)
      }, SHUTDOWN_DEADLINE_MS).unref()
      hub.close().then(resolve, (err: unknown) => {
        stderrLogger.error('shutdown failed', { err })
        process.exit(1)
      })
    }
    process.once('SIGINT', () => stop('SIGINT'))
    process.once('SIGTERM', () => stop('SIGTERM'))
  })
  return 0
}
