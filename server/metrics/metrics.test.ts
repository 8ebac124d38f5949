import { readFileSync } from 'node:fs'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { afterEach, describe, expect, it } from 'vitest'
import type { Hub } from '../hub.ts'
import type { HostEntry, SeriesResponse } from '../protocol/index.ts'
import { parseNetDev } from '../sampler/linux.ts'
import { Collector, startTestHub, type TestHub } from '../testing/hub.ts'
import { SimAgent } from '../testing/sim-agent.ts'

let t: TestHub | null = null
afterEach(async () => {
  await t?.stop()
  t = null
})

const json = (token: string, body: unknown) => ({
  method: 'POST',
  headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
  body: typeof body === 'string' ? body : JSON.stringify(body),
})

async function hubWith(env: Record<string, string> = {}) {
  t = await startTestHub({ VIGIL_SAMPLE_MS: '60000', ...env })
  const url = t.hub.url
  const reporter = (await t.hub.tokens.create('reporter', 'etl')).token
  const post = (body: unknown, token = reporter) => fetch(`${url}/api/metrics`, json(token, body))
  return { hub: t.hub, url, reporter, post }
}

describe('custom metric ingest', () => {
  it('stores a reporter’s batch, lists it in the catalog, serves it as history and streams it live', async () => {
    const { hub, url, post } = await hubWith()
    const live = new Collector(`${url}/api/stream?topics=metrics`, ['metrics'])
    await live.waitFor((e) => e.length >= 0)
    const now = Date.now()
    const res = await post({
      samples: [
        { name: 'etl.rows_imported', ts: now - 2000, value: 100 },
        { name: 'etl.rows_imported', ts: now - 1000, value: 250 },
        { name: 'etl.queue_depth', value: 7 },
      ],
    })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ accepted: 3, host: hub.host })

    const catalog = (await (await fetch(`${url}/api/metrics/catalog`)).json()) as { name: string; group: string }[]
    expect(catalog.filter((c) => c.name.startsWith('etl.'))).toEqual([
      { name: 'etl.queue_depth', unit: '', group: 'custom', description: 'Custom metric' },
      { name: 'etl.rows_imported', unit: '', group: 'custom', description: 'Custom metric' },
    ])
    const seriesUrl = `${url}/api/series?metric=etl.rows_imported&from=${now - 5000}&to=${now}`
    const series = (await (await fetch(seriesUrl)).json()) as SeriesResponse
    expect(series.points).toEqual([
      [now - 2000, 100, 100, 100],
      [now - 1000, 250, 250, 250],
    ])
    await live.waitFor((e) =>
      e.some(
        (x) => (x.data as { values: object }).values && 'etl.queue_depth' in (x.data as { values: object }).values,
      ),
    )
    const event = live.events.find((x) => 'etl.queue_depth' in (x.data as { values: object }).values)
    expect(event?.data).toMatchObject({ host: hub.host, values: { 'etl.rows_imported': 250, 'etl.queue_depth': 7 } })
    live.es.close()
  })

  it('takes samples three hours old into hours already closed, and serves 1-minute rollups equal to a brute-force computation', async () => {
    const { url, post } = await hubWith()
    const hourStart = Math.floor((Date.now() - 3 * 3_600_000) / 3_600_000) * 3_600_000
    const samples = Array.from({ length: 720 }, (_, i) => ({
      name: 'etl.backfill',
      ts: hourStart + i * 5000 + (i % 3),
      value: Math.round(Math.sin(i / 10) * 10_000) / 100,
    }))
    for (let i = 0; i < samples.length; i += 240) {
      const res = await post({ samples: samples.slice(i, i + 240) })
      expect([res.status, await res.json()]).toEqual([200, { accepted: 240, host: t?.hub.host }])
    }
    const q = `${url}/api/series?metric=etl.backfill&from=${hourStart}&to=${hourStart + 3_599_999}&points=60`
    const series = (await (await fetch(q)).json()) as SeriesResponse
    expect([series.tier, series.stepMs, series.points.length]).toEqual(['1m', 60_000, 60])
    series.points.forEach(([ts, avg, min, max], k) => {
      const bucket = samples.filter((s) => s.ts >= hourStart + k * 60_000 && s.ts < hourStart + (k + 1) * 60_000)
      const values = bucket.map((s) => s.value)
      expect([ts, min, max]).toEqual([bucket[0]?.ts, Math.min(...values), Math.max(...values)])
      expect(Math.abs(avg - values.reduce((a, b) => a + b, 0) / values.length)).toBeLessThan(1e-9)
    })
  })

  it('answers bad names, bad values and out-of-window timestamps with 400 invalid and stores nothing', async () => {
    const { url, post } = await hubWith()
    const now = Date.now()
    const cases: [unknown, RegExp][] = [
      [{ samples: [{ name: 'Rows Imported', value: 1 }] }, /samples\.0\.name: metric names are dotted lower case/],
      [{ samples: [{ name: 'a.b', value: 'seven' }] }, /samples\.0\.value/],
      [{ samples: [{ name: 'a.b', value: null }] }, /samples\.0\.value/],
      ['{"samples":[{"name":"a.b","value":1e400}]}', /samples\.0\.value/],
      [{ samples: [{ name: 'a.b', value: 1, ts: 1.5 }] }, /samples\.0\.ts/],
      [{ samples: [{ name: 'a.b', value: 1, ts: now - 8 * 86_400_000 }] }, /samples\.0\.ts: \d+ is too old/],
      [{ samples: [{ name: 'a.b', value: 1, ts: now + 3_600_000 }] }, /samples\.0\.ts: \d+ is in the future/],
      [{ samples: [{ name: 'cpu.usage_pct', value: 1 }] }, /samples\.0\.name: cpu\.usage_pct is reserved/],
      [{ samples: [] }, /samples/],
      [{ samples: [{ name: 'a.b', value: 1 }], extra: true }, /extra|Unrecognized/],
      [{ host: 'bad host!', samples: [{ name: 'a.b', value: 1 }] }, /host/],
      ['not json', /JSON|json/i],
    ]
    for (const [body, message] of cases) {
      const res = await post(body)
      const out = (await res.json()) as { error: { code: string; message: string } }
      expect([res.status, out.error.code, body]).toEqual([400, 'invalid', body])
      expect(out.error.message).toMatch(message)
    }
    const catalog = (await (await fetch(`${url}/api/metrics/catalog`)).json()) as { name: string }[]
    expect(catalog.some((c) => c.name === 'a.b')).toBe(false)
  })

  it('answers new series past the per-host limit with 429 cardinality_limit, and still takes existing ones', async () => {
    const { post } = await hubWith({ VIGIL_MAX_SERIES: '3' })
    const batch = (names: string[]) => ({ host: 'etl-1', samples: names.map((name) => ({ name, value: 1 })) })
    expect((await post(batch(['q.a', 'q.b']))).status).toBe(200)
    const over = await post(batch(['q.c', 'q.d']))
    expect(over.status).toBe(429)
    expect(await over.json()).toEqual({
      error: { code: 'cardinality_limit', message: 'Host etl-1 has 2 series; 2 more would pass the limit of 3' },
    })
    expect((await post(batch(['q.a', 'q.b', 'q.c']))).status).toBe(200)
    expect((await post(batch(['q.a']))).status).toBe(200)
    expect((await post(batch(['q.e']))).status).toBe(429)
    expect((await post({ host: 'etl-2', samples: [{ name: 'q.e', value: 1 }] })).status).toBe(200)
  })

  it('answers a body over 1 MiB with 413 payload_too_large', async () => {
    const { post } = await hubWith()
    const res = await post(`{"samples":[${'{"name":"a.b","value":1},'.repeat(50_000)}{"name":"a.b","value":1}]}`)
    expect(res.status).toBe(413)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('payload_too_large')
  })

  it('refuses viewers, operators and anonymous visitors with 403 and lets agents write system names', async () => {
    const { url, post, hub } = await hubWith()
    const body = { host: 'edge-1', samples: [{ name: 'cpu.usage_pct', value: 12.5 }] }
    for (const role of ['viewer', 'operator'] as const) {
      const res = await post(body, (await hub.tokens.create(role)).token)
      expect([role, res.status, ((await res.json()) as { error: { code: string } }).error.code]).toEqual([
        role,
        403,
        'forbidden',
      ])
    }
    const anon = await fetch(`${url}/api/metrics`, { method: 'POST', body: JSON.stringify(body) })
    expect(anon.status).toBe(403)
    const agent = await post(body, (await hub.tokens.create('agent')).token)
    expect(agent.status).toBe(200)
    expect(await hub.store.countSeries('edge-1', ['cpu.usage_pct'])).toEqual({ have: expect.any(Number), added: 0 })
  })

  it('lets an agent token post only for the host it is bound to, never for another agent’s or the hub’s', async () => {
    const { post, hub } = await hubWith()
    const bound = (await hub.tokens.create('agent', 'edge-a-token')).token
    const a = new SimAgent({ url: hub.url, token: bound, host: 'edge-a' })
    await a.hello()
    a.close()
    const sample = (host: string) => ({ host, samples: [{ name: 'cpu.usage_pct', value: 1 }] })
    const answer = async (res: Response) => [
      res.status,
      ((await res.json()) as { error?: { message: string } }).error?.message,
    ]
    expect(await answer(await post(sample('edge-a'), bound))).toEqual([200, undefined])
    expect(await answer(await post(sample('edge-b'), bound))).toEqual([
      403,
      'This token speaks for host edge-a only, not edge-b',
    ])
    const other = (await hub.tokens.create('agent')).token
    expect(await answer(await post(sample('edge-a'), other))).toEqual([
      403,
      'Host edge-a is bound to another agent token',
    ])
    expect(await answer(await post(sample(hub.host), other))).toEqual([403, `Host ${hub.host} is this hub's own host`])
  })
})

describe('Prometheus exposition and CSV export', () => {
  it('serves /metrics that a Prometheus text-format parser reads, in base units, with labels for cores and interfaces and the hub’s own figures', async () => {
    const { url, post, hub } = await hubWith()
    hub.store.writeTick(
      hub.host,
      Date.now(),
      {
        'cpu.usage_pct': 12.5,
        'cpu.core.0.usage_pct': 10,
        'cpu.core.1.usage_pct': 15,
        'net.eth0.rx_bytes_per_s': 2048,
        'proc.count': 212,
      },
      null,
    )
    await post({
      samples: [
        { name: 'etl.rows_imported', value: 42 },
        { name: 'etl.batch_ms', value: 250 },
      ],
    })
    const res = await fetch(`${url}/metrics`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
    const text = await res.text()
    const families = new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]))
    // Percentages as ratios, milliseconds as seconds, rates per second, no `_count` on a gauge
    expect(families.get('vigil_cpu_usage_ratio')?.metrics).toEqual([{ labels: { host: hub.host }, value: '0.125' }])
    expect(families.get('vigil_cpu_core_usage_ratio')?.metrics).toEqual([
      { labels: { host: hub.host, core: '0' }, value: '0.1' },
      { labels: { host: hub.host, core: '1' }, value: '0.15' },
    ])
    expect(families.get('vigil_cpu_core_usage_ratio')?.help).toBe('CPU busy time, core <core> (ratio, 0 to 1)')
    expect(families.get('vigil_network_receive_bytes_per_second')?.metrics).toEqual([
      { labels: { host: hub.host, interface: 'eth0' }, value: '2048' },
    ])
    expect(families.get('vigil_etl_batch_seconds')?.metrics).toEqual([{ labels: { host: hub.host }, value: '0.25' }])
    expect(families.get('vigil_sampler_tick_seconds')?.help).toBe("Time the fast group's tick took (seconds)")
    expect(families.get('vigil_processes')?.metrics).toEqual([{ labels: { host: hub.host }, value: '212' }])
    expect([...families.keys()].filter((f) => /_pct$|_ms$|_per_s$|_count$/.test(f))).toEqual([])
    expect(families.get('vigil_etl_rows_imported')?.metrics).toEqual([{ labels: { host: hub.host }, value: '42' }])
    expect(families.get('vigil_clients')?.type).toBe('GAUGE')
    expect(families.get('vigil_dropped_clients_total')?.type).toBe('COUNTER')
    expect(families.get('vigil_storage_bytes')?.metrics.map((m) => m.labels?.tier)).toEqual(['raw', '1m', '1h'])
    // Every line is a comment, or `name{labels} value` per the format
    for (const line of text.trimEnd().split('\n')) {
      expect(line).toMatch(
        /^(# (HELP|TYPE) [a-z0-9_]+ .+|[a-z_][a-z0-9_]*(\{([a-z_]+="[^"\n]*",?)+\})? [-+0-9.eInfNa]+)$/,
      )
    }
    // OpenMetrics for a scraper that asks for it: a counter's family without `_total`, and the end marked
    const om = await fetch(`${url}/metrics`, {
      headers: { accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' },
    })
    expect(om.headers.get('content-type')).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8')
    const omText = await om.text()
    expect(omText.endsWith('\n# EOF\n')).toBe(true)
    expect(omText).toContain('# TYPE vigil_dropped_clients counter\nvigil_dropped_clients_total 0\n')
    expect(omText).toContain('# TYPE vigil_cpu_usage_ratio gauge\n')
    const reporter = await fetch(`${url}/metrics`, {
      headers: { authorization: `Bearer ${(await hub.tokens.create('reporter')).token}` },
    })
    expect(reporter.status).toBe(403)
  })

  it('exposes the kernel counters as _total counters, labelled with the real interface and mount names a host sent', async () => {
    const { url, hub } = await hubWith()
    const token = (await hub.tokens.create('agent', 'edge-a-token')).token
    const a = new SimAgent({ url: hub.url, token, host: 'edge-a' })
    await a.hello()
    const values = {
      'cpu.busy_seconds_total': 81234.56,
      'net.br_1a2b.rx_bytes_total': 123456789012,
      'net.eth9.tx_bytes_total': 5,
      'disk.read_ops_total': 777,
      'fs.mnt_my_disk.used_pct': 50,
      'fs.root.used_pct': 25,
    }
    a.send({ type: 'devices', devices: { interfaces: ['br-1A2b'], mounts: ['/', '/mnt/my "disk"\\'] } })
    a.ticks([{ seq: 1, ts: Date.now(), intervalMs: 1000, values }])
    await a.next('ack')
    a.close()
    const text = await (await fetch(`${url}/metrics`)).text()
    // The edge host's lines only: the hub samples its own host too
    const families = new Map(
      parsePrometheusTextFormat(text).map((f) => [
        f.name,
        { ...f, metrics: f.metrics.filter((m) => m.labels?.host === 'edge-a') },
      ]),
    )
    expect(families.get('vigil_cpu_seconds_total')).toEqual({
      name: 'vigil_cpu_seconds_total',
      help: 'CPU time spent <mode>, all cores, since boot (seconds)',
      type: 'COUNTER',
      metrics: [{ labels: { host: 'edge-a', mode: 'busy' }, value: '81234.56' }],
    })
    expect(families.get('vigil_network_receive_bytes_total')?.metrics).toEqual([
      { labels: { host: 'edge-a', interface: 'br-1A2b' }, value: '123456789012' },
    ])
    // An interface the host did not name keeps its segment
    expect(families.get('vigil_network_transmit_bytes_total')?.metrics).toEqual([
      { labels: { host: 'edge-a', interface: 'eth9' }, value: '5' },
    ])
    expect(families.get('vigil_disk_read_operations_total')?.type).toBe('COUNTER')
    // The real path, with its quotes and backslash escaped as the format has them
    expect(text).toContain('vigil_filesystem_used_ratio{host="edge-a",mount="/mnt/my \\"disk\\"\\\\"} 0.5\n')
    expect(text).toContain('vigil_filesystem_used_ratio{host="edge-a",mount="/"} 0.25\n')
    const hosts = (await (await fetch(`${url}/api/hosts`)).json()) as { host: string; devices: unknown }[]
    expect(hosts.find((h) => h.host === 'edge-a')?.devices).toEqual({
      interfaces: ['br-1A2b'],
      mounts: ['/', '/mnt/my "disk"\\'],
    })
    // Kept in the hosts table: after a restart the labels are right before the agent says the names again
    const again = (await t?.restart()) as Hub
    const after = await (await fetch(`${again.url}/metrics`)).text()
    expect(after).toContain('vigil_network_receive_bytes_total{host="edge-a",interface="br-1A2b"} 123456789012\n')
    expect(after).toContain('vigil_filesystem_used_ratio{host="edge-a",mount="/mnt/my \\"disk\\"\\\\"} 0.5\n')
  })

  it.runIf(process.platform === 'linux')(
    'labels the hub’s own filesystems with their mount paths and its interfaces as /proc/net/dev names them',
    async () => {
      const { url, hub } = await hubWith({ VIGIL_SAMPLE_MS: '200', VIGIL_SLOW_SAMPLE_MS: '1000' })
      const own = async () =>
        ((await (await fetch(`${url}/api/hosts`)).json()) as HostEntry[]).find((h) => h.host === hub.host)
      await expect.poll(async () => (await own())?.devices?.mounts.includes('/'), { timeout: 10_000 }).toBe(true)
      const interfaces = [...parseNetDev(readFileSync('/proc/net/dev', 'latin1')).keys()]
      expect((await own())?.devices?.interfaces.sort()).toEqual(interfaces.sort())
      const text = await (await fetch(`${url}/metrics`)).text()
      expect(text).toMatch(new RegExp(`^vigil_filesystem_size_bytes\\{host="${hub.host}",mount="/"\\} \\d+$`, 'm'))
      for (const i of interfaces) {
        expect(text).toMatch(
          new RegExp(`^vigil_network_receive_bytes_total\\{host="${hub.host}",interface="${i}"\\} \\d+$`, 'm'),
        )
      }
    },
  )

  it('exports a series as CSV with the same buckets as the JSON answer', async () => {
    const { url, hub } = await hubWith()
    // Recent enough that its hour is still open
    const t0 = Math.floor(Date.now() / 60_000) * 60_000 - 60_000
    const iso = (ms: number) => new Date(ms).toISOString()
    for (let i = 0; i < 6; i++) hub.store.writeTick(hub.host, t0 + i * 1000, { 'load.1m': i / 4 }, null)
    const q = `metric=load.1m&from=${t0}&to=${t0 + 5999}&points=3`
    const body = (await (await fetch(`${url}/api/series?${q}`)).json()) as SeriesResponse
    const res = await fetch(`${url}/api/series?${q}&format=csv`)
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8')
    expect(res.headers.get('content-disposition')).toBe(
      `attachment; filename="${hub.host}-load.1m-${t0}-${t0 + 5999}.csv"`,
    )
    expect(await res.text()).toBe(
      [
        'ts,time,avg,min,max',
        `${t0},${iso(t0)},0.125,0,0.25`,
        `${t0 + 2000},${iso(t0 + 2000)},0.625,0.5,0.75`,
        `${t0 + 4000},${iso(t0 + 4000)},1.125,1,1.25`,
        '',
      ].join('\n'),
    )
    expect(body.points).toEqual([
      [t0, 0.125, 0, 0.25],
      [t0 + 2000, 0.625, 0.5, 0.75],
      [t0 + 4000, 1.125, 1, 1.25],
    ])
  })
})
