import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { z } from 'zod'
import { isAddressOrRange } from './http.ts'

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

/** Each setting: its environment variable, its flag, and its schema. The one table both sources are read from. */
const settings = {
  host: { env: 'VIGIL_HOST', flag: 'host', schema: z.string().min(1).default('127.0.0.1') },
  port: { env: 'VIGIL_PORT', flag: 'port', schema: z.coerce.number().int().min(0).max(65_535).default(8686) },
  dataDir: { env: 'VIGIL_DATA_DIR', flag: 'data-dir', schema: z.string().min(1).default('./data') },
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
} as const

type Settings = typeof settings
export type Config = Readonly<{ [K in keyof Settings]: z.output<Settings[K]['schema']> }>

/** Raised for a setting that does not parse; the message names the variable and the flag. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

/**
 * Parses the environment, overridden by flags, into a frozen config. The one place that reads either.
 * @example loadConfig(process.env, ['--port', '0'])
 */
export function loadConfig(env: Record<string, string | undefined>, argv: readonly string[] = []): Config {
  const options = Object.fromEntries(
    Object.values(settings).map((s) => [s.flag, { type: 'boolean' in s ? ('boolean' as const) : ('string' as const) }]),
  ) as Record<string, { type: 'string' | 'boolean' }>
  let flags: Record<string, string | boolean | undefined>
  try {
    flags = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values
  } catch (err) {
    throw new ConfigError((err as Error).message)
  }
  const out: Record<string, unknown> = {}
  for (const [key, s] of Object.entries(settings)) {
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
  const config = out as { -readonly [K in keyof Config]: Config[K] }
  config.dataDir = resolve(config.dataDir)
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    throw new ConfigError('VIGIL_TLS_CERT (--tls-cert) and VIGIL_TLS_KEY (--tls-key) go together: set both or neither')
  }
  if (config.selfSigned && config.tlsCert !== undefined) {
    throw new ConfigError('--self-signed makes its own certificate: drop it, or drop VIGIL_TLS_CERT and VIGIL_TLS_KEY')
  }
  return Object.freeze(config)
}

/** The data dir for commands that need nothing else (`vigil token …`): the flag, else VIGIL_DATA_DIR, else ./data. */
export function dataDirFrom(env: Record<string, string | undefined>, flag: string | undefined): string {
  return resolve(flag ?? (env[settings.dataDir.env] || settings.dataDir.schema.parse(undefined)))
}

/** The settings table for `--help` and the README: variable, flag, default. */
export function settingsHelp(): string {
  return Object.values(settings)
    .map((s) => {
      const def = s.schema.parse(undefined)
      return `  --${s.flag.padEnd(18)} ${s.env.padEnd(24)} default ${def ?? '(none)'}`
    })
    .join('\n')
}
