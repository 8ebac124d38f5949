import { hostname } from 'node:os'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { z } from 'zod'
import { isAddressOrRange } from './http.ts'
import { HostName } from './protocol/index.ts'

/** A comma-separated setting as its trimmed, non-empty items, each checked by `items`. */
function commaList<T extends z.ZodType<unknown, string[]>>(items: T) {
  return z
    .string()
    .default('')
    .transform((s) =>
      s
        .split(',')
        .map((o) => o.trim())
        .filter((o) => o !== ''),
    )
    .pipe(items)
}

/**
 * PostgreSQL for everything durable (history, events, tokens and sessions, audit, settings, hosts, jobs and their
 * logs) instead of the data dir's SQLite file: the hub and `vigil token` honour it.
 */
export const databaseUrlSetting = {
  env: 'VIGIL_DATABASE_URL',
  flag: 'database-url',
  schema: z
    .url({ protocol: /^postgres(ql)?$/, message: 'a postgres:// URL such as postgres://vigil@db.internal/vigil' })
    .optional(),
  shownDefault: 'none: SQLite in the data dir',
} as const satisfies Setting

/** Redis Streams as the bus, shared by every hub of a cluster; needs VIGIL_DATABASE_URL. */
export const redisUrlSetting = {
  env: 'VIGIL_REDIS_URL',
  flag: 'redis-url',
  schema: z.url({ protocol: /^rediss?$/, message: 'a redis:// URL such as redis://redis.internal:6379' }).optional(),
  shownDefault: 'none: the bus is in the process',
} as const satisfies Setting

/** Each setting: its environment variable, its flag, and its schema. The one table both sources are read from. */
const settings = {
  host: { env: 'VIGIL_HOST', flag: 'host', schema: z.string().min(1).default('127.0.0.1') },
  port: { env: 'VIGIL_PORT', flag: 'port', schema: z.coerce.number().int().min(0).max(65_535).default(8686) },
  dataDir: { env: 'VIGIL_DATA_DIR', flag: 'data-dir', schema: z.string().min(1).default('./data') },
  hostname: {
    env: 'VIGIL_HOSTNAME',
    flag: 'hostname',
    schema: HostName.optional(),
    shownDefault: "the machine's host name",
  },
  sampleMs: {
    env: 'VIGIL_SAMPLE_MS',
    flag: 'sample-ms',
    schema: z.coerce.number().int().min(100).max(60_000).default(1000),
  },
  slowSampleMs: {
    env: 'VIGIL_SLOW_SAMPLE_MS',
    flag: 'slow-sample-ms',
    schema: z.coerce.number().int().min(1000).max(600_000).default(10_000),
  },
  heartbeatMs: {
    env: 'VIGIL_SSE_HEARTBEAT_MS',
    flag: 'sse-heartbeat-ms',
    schema: z.coerce.number().int().min(10).max(300_000).default(15_000),
  },
  retryMs: {
    env: 'VIGIL_SSE_RETRY_MS',
    flag: 'sse-retry-ms',
    schema: z.coerce.number().int().min(100).max(600_000).default(2000),
  },
  clientBufferBytes: {
    env: 'VIGIL_SSE_BUFFER_BYTES',
    flag: 'sse-buffer-bytes',
    schema: z.coerce.number().int().min(16_384).max(268_435_456).default(1_048_576),
  },
  replayS: { env: 'VIGIL_REPLAY_S', flag: 'replay-s', schema: z.coerce.number().int().min(1).max(86_400).default(900) },
  allowedOrigins: {
    env: 'VIGIL_ALLOWED_ORIGINS',
    flag: 'allowed-origins',
    schema: commaList(
      z.array(z.url({ protocol: /^https?$/, message: 'a comma list of origins such as https://ops.example.com' })),
    ),
  },
  trustedProxies: {
    env: 'VIGIL_TRUSTED_PROXIES',
    flag: 'trusted-proxies',
    schema: commaList(
      z.array(
        z
          .string()
          .refine(isAddressOrRange, 'a comma list of proxy addresses or CIDR ranges such as 127.0.0.1,10.0.0.0/8'),
      ),
    ),
  },
  wsRate: { env: 'VIGIL_WS_RATE', flag: 'ws-rate', schema: z.coerce.number().min(1).max(100_000).default(20) },
  wsBurst: { env: 'VIGIL_WS_BURST', flag: 'ws-burst', schema: z.coerce.number().int().min(1).max(100_000).default(40) },
  wsPingMs: {
    env: 'VIGIL_WS_PING_MS',
    flag: 'ws-ping-ms',
    schema: z.coerce.number().int().min(50).max(300_000).default(25_000),
  },
  agentHeartbeatMs: {
    env: 'VIGIL_AGENT_HEARTBEAT_MS',
    flag: 'agent-heartbeat-ms',
    schema: z.coerce.number().int().min(100).max(300_000).default(5000),
  },
  jobLostMs: {
    env: 'VIGIL_JOB_LOST_MS',
    flag: 'job-lost-ms',
    schema: z.coerce.number().int().min(1000).max(3_600_000).default(30_000),
  },
  jobLogTail: {
    env: 'VIGIL_JOB_LOG_LINES',
    flag: 'job-log-lines',
    schema: z.coerce.number().int().min(100).max(10_000_000).default(100_000),
  },
  rawRetentionH: {
    env: 'VIGIL_RAW_RETENTION_H',
    flag: 'raw-retention-h',
    schema: z.coerce
      .number()
      .min(0.01)
      .max(24 * 365)
      .default(24 * 7),
  },
  retention1mD: {
    env: 'VIGIL_1M_RETENTION_D',
    flag: '1m-retention-d',
    schema: z.coerce.number().min(0.01).max(3650).default(90),
  },
  retention1hD: {
    env: 'VIGIL_1H_RETENTION_D',
    flag: '1h-retention-d',
    schema: z.coerce.number().min(0.01).max(36_500).default(730),
  },
  maxConnPerIp: {
    env: 'VIGIL_MAX_CONN_PER_IP',
    flag: 'max-conn-per-ip',
    schema: z.coerce.number().int().min(1).max(1_000_000).default(100),
  },
  maxConnPerToken: {
    env: 'VIGIL_MAX_CONN_PER_TOKEN',
    flag: 'max-conn-per-token',
    schema: z.coerce.number().int().min(1).max(1_000_000).default(100),
  },
  authFailuresPerMin: {
    env: 'VIGIL_AUTH_FAILURES_PER_MIN',
    flag: 'auth-failures-per-min',
    schema: z.coerce.number().min(1).max(100_000).default(10),
  },
  tlsCert: {
    env: 'VIGIL_TLS_CERT',
    flag: 'tls-cert',
    schema: z.string().min(1).optional(),
  },
  tlsKey: {
    env: 'VIGIL_TLS_KEY',
    flag: 'tls-key',
    schema: z.string().min(1).optional(),
  },
  selfSigned: {
    env: 'VIGIL_SELF_SIGNED',
    flag: 'self-signed',
    boolean: true,
    schema: z.stringbool().default(false),
  },
  accessLog: {
    env: 'VIGIL_ACCESS_LOG',
    flag: 'access-log',
    boolean: true,
    schema: z.stringbool().default(false),
  },
  maxSeriesPerHost: {
    env: 'VIGIL_MAX_SERIES',
    flag: 'max-series',
    schema: z.coerce.number().int().min(1).max(10_000_000).default(10_000),
  },
  databaseUrl: databaseUrlSetting,
  redisUrl: redisUrlSetting,
} as const satisfies SettingsTable

type Settings = typeof settings
export type Config = Readonly<
  Omit<Parsed<Settings>, 'hostname'> & {
    /** The host name the hub's own sampler reports under: `--hostname`, else the machine's. */
    hostname: string
  }
>

/** The machine's host name as a Vigil host name: the first label kept as it is, characters it refuses replaced. */
export function machineHostname(): string {
  const name = hostname()
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
  return name === '' ? 'localhost' : name.slice(0, 253)
}

/** Raised for a setting that does not parse; the message names the variable and the flag. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** One setting: its environment variable, its flag, its schema, and how `--help` shows its default. */
export interface Setting {
  env: string
  flag: string
  schema: z.ZodType
  boolean?: true
  shownDefault?: string
}
export type SettingsTable = Readonly<Record<string, Setting>>
export type Parsed<T extends SettingsTable> = { -readonly [K in keyof T]: z.output<T[K]['schema']> }

/**
 * Parses the environment, overridden by flags, against a settings table: every value checked by its schema, and
 * an invalid one named by its variable or flag. The one place that reads either.
 * @example parseSettings(settings, process.env, ['--port', '0'])
 */
export function parseSettings<T extends SettingsTable>(
  table: T,
  env: Record<string, string | undefined>,
  argv: readonly string[],
): Parsed<T> {
  const options = Object.fromEntries(
    Object.values(table).map((s) => [s.flag, { type: s.boolean ? ('boolean' as const) : ('string' as const) }]),
  ) as Record<string, { type: 'string' | 'boolean' }>
  let flags: Record<string, string | boolean | undefined>
  try {
    flags = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values
  } catch (err) {
    throw new ConfigError((err as Error).message)
  }
  const out: Record<string, unknown> = {}
  for (const [key, s] of Object.entries(table)) {
    const flag = flags[s.flag]
    const fromFlag = flag === true ? 'true' : flag
    const raw = typeof fromFlag === 'string' ? fromFlag : env[s.env] === '' ? undefined : env[s.env]
    const parsed = s.schema.safeParse(raw)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]?.message ?? 'invalid value'
      const source = typeof fromFlag === 'string' ? `--${s.flag}` : `${s.env} (--${s.flag})`
      throw new ConfigError(`${source}=${JSON.stringify(raw)} is invalid: ${issue}`)
    }
    out[key] = parsed.data
  }
  return out as Parsed<T>
}

/**
 * Parses the hub's environment, overridden by flags, into a frozen config.
 * @example loadConfig(process.env, ['--port', '0'])
 */
export function loadConfig(env: Record<string, string | undefined>, argv: readonly string[] = []): Config {
  const parsed = parseSettings(settings, env, argv)
  const config: { -readonly [K in keyof Config]: Config[K] } = {
    ...parsed,
    dataDir: resolve(parsed.dataDir),
    hostname: parsed.hostname ?? machineHostname(),
  }
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    throw new ConfigError('VIGIL_TLS_CERT (--tls-cert) and VIGIL_TLS_KEY (--tls-key) go together: set both or neither')
  }
  if (config.redisUrl !== undefined && config.databaseUrl === undefined) {
    throw new ConfigError(
      'VIGIL_REDIS_URL (--redis-url) needs VIGIL_DATABASE_URL (--database-url): hubs that share a bus must share their history, jobs and tokens too',
    )
  }
  if (config.selfSigned && config.tlsCert !== undefined) {
    throw new ConfigError('--self-signed makes its own certificate: drop it, or drop VIGIL_TLS_CERT and VIGIL_TLS_KEY')
  }
  return Object.freeze(config)
}

/**
 * Where `vigil token` keeps tokens: PostgreSQL when the flag or VIGIL_DATABASE_URL names one, else the data dir.
 * @throws ConfigError for a URL that is not postgres://
 */
export function tokenStoreFrom(
  env: Record<string, string | undefined>,
  flags: { 'database-url'?: string | undefined; 'data-dir'?: string | undefined },
): { databaseUrl: string } | { dataDir: string } {
  const table = { databaseUrl: databaseUrlSetting }
  const argv = flags['database-url'] === undefined ? [] : [`--database-url=${flags['database-url']}`]
  const { databaseUrl } = parseSettings(table, env, argv)
  return databaseUrl === undefined ? { dataDir: dataDirFrom(env, flags['data-dir']) } : { databaseUrl }
}

/** The data dir for commands that need nothing else (`vigil token …`): the flag, else VIGIL_DATA_DIR, else ./data. */
export function dataDirFrom(env: Record<string, string | undefined>, flag: string | undefined): string {
  return resolve(flag ?? (env[settings.dataDir.env] || settings.dataDir.schema.parse(undefined)))
}

/** A settings table for `--help` and the README: flag, variable, default. The hub's unless another is given. */
export function settingsHelp(table: SettingsTable = settings): string {
  return Object.values(table)
    .map((s) => {
      const def = s.shownDefault ?? s.schema.parse(undefined)
      return `  --${s.flag.padEnd(18)} ${s.env.padEnd(24)} default ${def ?? '(none)'}`
    })
    .join('\n')
}
