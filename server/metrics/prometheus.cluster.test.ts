import { afterEach, describe, expect, it } from 'vitest'
import type { SeriesResponse } from '../protocol/index.ts'
import { startTestHub, type TestHub } from '../testing/hub.ts'
import { type PrivatePrometheus, startPrometheus } from '../testing/services.ts'
import { addVeth, type Veth } from '../testing/veth.ts'

let t: TestHub | null = null
let prom: PrivatePrometheus | null = null
let veth: Veth | null = null
afterEach(async () => {
  await prom?.stop()
  await t?.stop()
  veth?.remove()
  prom = t = veth = null
})

const RATE_WINDOW_S = 20

describe('a real Prometheus server scraping a hub', () => {
  it('scrapes /metrics with a viewer token, target up, and its rate() of the byte counter agrees with Vigil’s own rate within 5 %', async () => {
    veth = addVeth()
    t = await startTestHub({ VIGIL_SAMPLE_MS: '1000', VIGIL_SLOW_SAMPLE_MS: '5000' })
    const hub = t.hub
    const viewer = (await hub.tokens.create('viewer', 'prometheus')).token
    prom = await startPrometheus(
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        'scrape_configs:',
        '  - job_name: vigil',
        `    authorization: { credentials: ${viewer} }`,
        `    static_configs: [{ targets: ['${new URL(hub.url).host}'] }]`,
        '',
      ].join('\n'),
    )
    const stop = veth.send(200_000)
    try {
      await new Promise((r) => setTimeout(r, (RATE_WINDOW_S + 8) * 1000))
    } finally {
      stop()
    }

    const targets = (await (await fetch(`${prom.url}/api/v1/targets`)).json()) as {
      data: { activeTargets: { health: string; lastError: string; scrapeUrl: string }[] }
    }
    expect(targets.data.activeTargets.map((x) => [x.scrapeUrl, x.health, x.lastError])).toEqual([
      [`${hub.url}/metrics`, 'up', ''],
    ])
    expect((await prom.query('up{job="vigil"}')).map((r) => r.value[1])).toEqual(['1'])
    // Scrapes are in OpenMetrics, which Prometheus asks for first, and none was refused
    expect((await prom.query('scrape_samples_scraped{job="vigil"} > 0')).length).toBe(1)

    // Over the same window, ending a couple of seconds back so both sides have its last second
    const end = Math.floor(Date.now() / 1000) * 1000 - 2000
    const start = end - RATE_WINDOW_S * 1000
    const promql = `rate(vigil_network_transmit_bytes_total{host="${hub.host}",interface="${veth.name}"}[${RATE_WINDOW_S}s])`
    const result = await prom.query(promql, end)
    expect(result.map((r) => r.metric.interface)).toEqual([veth.name])
    const promRate = Number(result[0]?.value[1])
    const q = new URLSearchParams({
      metric: `net.${veth.name}.tx_bytes_per_s`,
      from: String(start + 1),
      to: String(end),
      points: '1000',
    })
    const series = (await (await fetch(`${hub.url}/api/series?${q}`)).json()) as SeriesResponse
    expect(series.points.length).toBeGreaterThanOrEqual(RATE_WINDOW_S - 2)
    const vigilRate = series.points.reduce((a, p) => a + (p[1] ?? 0), 0) / series.points.length
    // The stream the test sent, give or take the headers: both figures measure it
    expect(vigilRate).toBeGreaterThan(150_000)
    expect({ promRate, vigilRate, off: Math.abs(promRate / vigilRate - 1) < 0.05 }).toEqual({
      promRate,
      vigilRate,
      off: true,
    })
  })
})
