#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8'
import { VERSION } from './paths.ts'

// Each command loads only its own code: `vigil agent` and `vigil run` stay small processes beside the work they watch

const USAGE = `vigil ${VERSION}: realtime ops monitoring

Usage:
  vigil serve [options]    run the hub (dashboard, API, SSE) on 127.0.0.1:8686
  vigil token create --role <viewer|operator|admin|reporter|agent> [--name N]
  vigil token list
  vigil token revoke <name>
  vigil run [--name N] [--url U] [--token T] [--progress-regex R] [--grace S] [--wait-retry S] -- <command> [args…]
  vigil agent --hub <url>[,<url>…] --token <agent token> [--hostname <name>] [--spool-dir <dir>] [--hub-ca <pem>]
  vigil --version          print the version
  vigil <command> --help   help for a command
`

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
  if (command === 'serve') return (await import('./serve.ts')).serve(rest)
  if (command === 'token') return (await import('./auth/index.ts')).tokenCommand(rest, process.env)
  if (command === 'run') return (await import('./run/index.ts')).runCommand(rest, process.env)
  if (command === 'agent') {
    // An agent does a few milliseconds of work a second: the interpreter is plenty, and leaving out the optimizing
    // tiers (their compilers and code) keeps it about 8 MiB smaller
    for (const flag of ['--no-opt', '--no-maglev', '--no-sparkplug']) setFlagsFromString(flag)
    return (await import('./agent/index.ts')).agentCommand(rest, process.env)
  }
  process.stderr.write(`vigil: unknown command ${JSON.stringify(command)}\n\n${USAGE}`)
  return 2
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  async (err: unknown) => {
    const { stderrLogger } = await import('./log.ts')
    stderrLogger.error('fatal', { err })
    process.exit(1)
  },
)
