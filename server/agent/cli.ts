import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { ConfigError, settingsHelp } from '../config.ts'
import { type Logger, stderrLogger } from '../log.ts'
import { VERSION } from '../paths.ts'
import { SamplingSettings as SamplingSchema, type SamplingSettings } from '../protocol/index.ts'
import { defaultProbe, machineInfo, readMachineId, Sampler } from '../sampler/index.ts'
import { agentSettings, loadAgentConfig } from './config.ts'
import { HubLink } from './link.ts'
import { Spool } from './spool.ts'

const AGENT_HELP = `Usage: vigil agent --hub <url>[,<url>…] --token <agent token> [--hostname <name>] [--spool-dir <dir>] [--hub-ca <pem>]

Samples this host (the fast and slow groups and the top processes, as the hub does) and reports it to a hub over
an outbound WebSocket. Every tick is numbered and kept in a disk spool until the hub has stored it, so a hub
outage or a restart of either side loses nothing; past the spool's bounds the oldest ticks go, and the gap is
reported. Reconnects with backoff (1 s base, 30 s cap, full jitter); stops when the hub refuses or revokes the
token. The hub URL may be ws://, wss://, http:// or https://; a comma list of a cluster's hubs is tried in turn,
the next one after each broken or failed connection.

Options (flag, variable, default):
${settingsHelp(agentSettings)}
`

/** The agent's machine id: the flag, else the machine's, else one made once and kept in the spool. */
function machineIdOf(given: string | null, spool: Spool): string {
  const id = given ?? readMachineId() ?? spool.meta('machine_id')
  if (id) return id
  const made = randomUUID()
  spool.setMeta('machine_id', made)
  return made
}

/** The settings the agent last ran (from the hub), else those of its flags. */
function startingSettings(spool: Spool, fallback: SamplingSettings): SamplingSettings {
  const saved = spool.meta('sampling')
  if (!saved) return fallback
  const parsed = SamplingSchema.safeParse(JSON.parse(saved))
  return parsed.success ? parsed.data : fallback
}

/** Logs a sampler fault once when it starts and once when it clears, not on every tick. */
function faultLogger(log: Logger): (group: string, faults: readonly string[]) => void {
  const last = new Map<string, string>()
  return (group, faults) => {
    const now = faults.join('; ')
    if ((last.get(group) ?? '') === now) return
    last.set(group, now)
    if (now === '') log.info(`sampler ${group}: every metric read again`)
    else log.warn(`sampler ${group}: metrics missing`, { faults: now })
  }
}

/**
 * `vigil agent`: runs until SIGINT or SIGTERM (exit 0), or until the hub refuses or revokes its token (exit 1).
 * A bad setting is exit 2.
 */
export async function agentCommand(args: string[], env: Record<string, string | undefined>): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(AGENT_HELP)
    return 0
  }
  const log = stderrLogger
  let config: ReturnType<typeof loadAgentConfig>
  let ca: Buffer | null = null
  try {
    config = loadAgentConfig(env, args)
    if (config.hubCa) ca = readFileSync(config.hubCa)
  } catch (err) {
    if (!(err instanceof ConfigError) && !(err as { code?: string }).code) throw err
    process.stderr.write(`vigil agent: ${(err as Error).message}\n`)
    return 2
  }
  const spool = new Spool(config.spoolDir, { maxBytes: config.spoolMaxBytes, maxAgeMs: config.spoolMaxAgeMs })
  let link: HubLink | null = null
  let sampling = startingSettings(spool, { fastMs: config.sampleMs, slowMs: config.slowSampleMs, paused: false })
  const faults = faultLogger(log)
  const sampler = new Sampler(
    defaultProbe(),
    { sampleMs: sampling.fastMs, slowSampleMs: sampling.slowMs },
    {
      metrics(ts, intervalMs, values, snapshot) {
        // Committed to the spool before it is sent: a tick the hub never saw is never lost
        const tick = spool.append({ ts, intervalMs, values, ...(snapshot ? { processes: snapshot.processes } : {}) })
        link?.live(tick)
        if (snapshot) link?.devices(snapshot.devices)
      },
      faults,
      clock(behindMs) {
        if (behindMs > 0) faults('clock', [`the wall clock went back ${Math.round(behindMs / 1000)} s`])
      },
    },
    (group, err) => log.error(`sampler ${group} tick failed`, { err }),
  )
  link = new HubLink({
    urls: config.hubUrls,
    token: config.token,
    host: config.hostname,
    machineId: machineIdOf(config.machineId, spool),
    ca,
    agentVersion: VERSION,
    info: machineInfo(),
    spool,
    sampling: () => sampling,
    configure(s) {
      sampling = s
      sampler.configure(s)
    },
    log,
  })
  log.info(`vigil agent ${VERSION} reporting ${config.hostname} to ${config.hubUrls.join(', ')}`, {
    spool: config.spoolDir,
  })
  sampler.configure(sampling)
  link.start()

  const signalled = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'))
    process.once('SIGTERM', () => resolve('SIGTERM'))
  })
  const outcome = await Promise.race([signalled.then((signal) => ({ signal })), link.done.then((stop) => ({ stop }))])
  link.stop()
  await sampler.stop()
  spool.close()
  if ('signal' in outcome) {
    log.info(`${outcome.signal}: agent stopped`)
    return 0
  }
  log.error(`vigil agent stopped: ${outcome.stop.message}`)
  return 1
}
