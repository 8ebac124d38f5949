#!/usr/bin/env node
import { ConfigError, loadConfig, settingsHelp } from './config.ts'
import type { Hub } from './hub.ts'
import { stderrLogger } from './log.ts'
import { VERSION } from './paths.ts'

// Each command loads only its own code: `vigil agent` and `vigil run` stay small processes beside the work they watch

const USAGE = `vigil ${VERSION}: realtime ops monitoring

Usage:
  vigil serve [options]    run the hub (dashboard, API, SSE) on 127.0.0.1:8686
  vigil token create --role <viewer|operator|admin|reporter|agent> [--name N]
  vigil token list
  vigil token revoke <name>
  vigil run [--name N] [--url U] [--token T] [--progress-regex R] [--grace S] [--wait-retry S] -- <command> [args…]
  vigil agent --hub <url> --token <agent token> [--hostname <name>] [--spool-dir <dir>] [--hub-ca <pem>]
  vigil --version          print the version
  vigil <command> --help   help for a command
`

const SERVE_HELP = `Usage: vigil serve [options]

Runs the hub: samples this machine, keeps history in SQLite in the data dir, serves the dashboard,
the HTTP API and the SSE stream. Each option also reads from its environment variable; a flag wins.

Options (flag, variable, default):
${settingsHelp()}
`

/** Exits within this long after SIGINT or SIGTERM, drained or not. */
const SHUTDOWN_DEADLINE_MS = 2000

async function serve(args: string[]): Promise<number> {
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
  const { startHub } = await import('./hub.ts')
  let hub: Hub
  try {
    hub = await startHub(config)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`vigil: ${err.message}\n`)
    return 2
  }
  stderrLogger.info(`vigil ${VERSION} listening on ${hub.url}`, { dataDir: config.dataDir, sampleMs: config.sampleMs })
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

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE)
    return command === undefined ? 2 : 0
  }
  if (command === '--version') {
    process.stdout.write(`${VERSION}\n`)
    return 0
  }
  if (command === 'serve') return serve(rest)
  if (command === 'token') return (await import('./auth/index.ts')).tokenCommand(rest, process.env)
  if (command === 'run') return (await import('./run/index.ts')).runCommand(rest, process.env)
  if (command === 'agent') return (await import('./agent/index.ts')).agentCommand(rest, process.env)
  process.stderr.write(`vigil: unknown command ${JSON.stringify(command)}\n\n${USAGE}`)
  return 2
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    stderrLogger.error('fatal', { err })
    process.exit(1)
  },
)
