import { resolve } from 'node:path'
import { z } from 'zod'
import { ConfigError, machineHostname, parseSettings, type SettingsTable } from '../config.ts'
import { HostName, MachineId, SAMPLE_LIMITS } from '../protocol/index.ts'

/** `vigil agent`'s settings: each from its environment variable, overridden by its flag. */
export const agentSettings = {
  hub: {
    env: 'VIGIL_URL',
    flag: 'hub',
    // One hub, or a comma list of the hubs of a cluster: on a broken connection the agent dials the next
    schema: z
      .string()
      .transform((v) =>
        v
          .split(',')
          .map((u) => u.trim())
          .filter((u) => u !== ''),
      )
      .pipe(
        z
          .array(
            z.url({
              protocol: /^(wss?|https?)$/,
              message: 'each hub URL is ws://, wss://, http:// or https:// host:port',
            }),
          )
          .min(1, 'at least one hub URL')
          .max(16),
      )
      .optional(),
  },
  token: { env: 'VIGIL_TOKEN', flag: 'token', schema: z.string().min(1).max(200).optional(), shownDefault: '(none)' },
  hostname: {
    env: 'VIGIL_HOSTNAME',
    flag: 'hostname',
    schema: HostName.optional(),
    shownDefault: "the machine's host name",
  },
  spoolDir: { env: 'VIGIL_SPOOL_DIR', flag: 'spool-dir', schema: z.string().min(1).default('./data/spool') },
  spoolMaxBytes: {
    env: 'VIGIL_SPOOL_MAX_BYTES',
    flag: 'spool-max-bytes',
    schema: z.coerce
      .number()
      .int()
      .min(1024)
      .max(2 ** 40)
      .default(64 * 1024 * 1024),
  },
  spoolMaxAgeH: {
    env: 'VIGIL_SPOOL_MAX_AGE_H',
    flag: 'spool-max-age-h',
    schema: z.coerce
      .number()
      .min(0.001)
      .max(24 * 365)
      .default(24),
  },
  hubCa: { env: 'VIGIL_HUB_CA', flag: 'hub-ca', schema: z.string().min(1).optional() },
  machineId: {
    env: 'VIGIL_MACHINE_ID',
    flag: 'machine-id',
    schema: MachineId.optional(),
    shownDefault: '/etc/machine-id, else one kept in the spool',
  },
  sampleMs: {
    env: 'VIGIL_SAMPLE_MS',
    flag: 'sample-ms',
    schema: z.coerce.number().int().min(SAMPLE_LIMITS.fast.min).max(SAMPLE_LIMITS.fast.max).default(1000),
  },
  slowSampleMs: {
    env: 'VIGIL_SLOW_SAMPLE_MS',
    flag: 'slow-sample-ms',
    schema: z.coerce.number().int().min(SAMPLE_LIMITS.slow.min).max(SAMPLE_LIMITS.slow.max).default(10_000),
  },
} as const satisfies SettingsTable

export interface AgentConfig {
  /** Each hub's WebSocket endpoint, `ws(s)://host:port/api/agent`, in the order given: tried in turn. */
  hubUrls: string[]
  token: string
  hostname: string
  spoolDir: string
  spoolMaxBytes: number
  spoolMaxAgeMs: number
  hubCa: string | null
  machineId: string | null
  sampleMs: number
  slowSampleMs: number
}

/** The hub URL as the agent dials it: http(s) becomes ws(s), and the path is the agent endpoint. */
export function agentEndpoint(hub: string): string {
  const u = new URL(hub)
  u.protocol = u.protocol === 'https:' || u.protocol === 'wss:' ? 'wss:' : 'ws:'
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/api/agent`
  u.search = ''
  u.hash = ''
  return u.toString()
}

/**
 * Parses `vigil agent`'s environment and flags; the hub and the token are required.
 * @example loadAgentConfig(process.env, ['--hub', 'https://hub:8686', '--hub-ca', 'hub.pem'])
 */
export function loadAgentConfig(env: Record<string, string | undefined>, argv: readonly string[]): AgentConfig {
  const s = parseSettings(agentSettings, env, argv)
  if (s.hub === undefined)
    throw new ConfigError('VIGIL_URL (--hub) is required: the hub to report to, such as ws://hub:8686')
  if (s.token === undefined) {
    throw new ConfigError('VIGIL_TOKEN (--token) is required: an agent token (vigil token create --role agent)')
  }
  if (s.hubCa !== undefined && !s.hub.every((u) => /^(wss|https):/.test(u))) {
    throw new ConfigError('--hub-ca trusts a certificate for wss:// (or https://) hubs; a hub URL given is not one')
  }
  return {
    hubUrls: s.hub.map(agentEndpoint),
    token: s.token,
    hostname: s.hostname ?? machineHostname(),
    spoolDir: resolve(s.spoolDir),
    spoolMaxBytes: s.spoolMaxBytes,
    spoolMaxAgeMs: Math.round(s.spoolMaxAgeH * 3_600_000),
    hubCa: s.hubCa === undefined ? null : resolve(s.hubCa),
    machineId: s.machineId ?? null,
    sampleMs: s.sampleMs,
    slowSampleMs: s.slowSampleMs,
  }
}
