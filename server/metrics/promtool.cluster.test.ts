import { spawnSync } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { startTestHub, type TestHub } from '../testing/hub.ts'
import { postOtlp } from '../testing/otel.ts'
import { findBinary } from '../testing/services.ts'

let t: TestHub | null = null
afterEach(async () => {
  await t?.stop()
  t = null
})

describe('/metrics against Prometheus’ own linter', () => {
  it('passes promtool check metrics with no finding: every sampler family, custom metrics, an OpenTelemetry histogram and the hub’s own', async () => {
    const promtool = findBinary('promtool', 'prometheus')
    t = await startTestHub({ VIGIL_SAMPLE_MS: '200', VIGIL_SLOW_SAMPLE_MS: '1000' })
    const hub = t.hub
    const reporter = (await hub.tokens.create('reporter', 'lint')).token
    const res = await fetch(`${hub.url}/api/metrics`, {
      method: 'POST',
      headers: { authorization: `Bearer ${reporter}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        samples: [
          { name: 'etl.batch_ms', value: 250 },
          { name: 'etl.queue_count', value: 3 },
          { name: 'etl.done_pct', value: 40 },
        ],
      }),
    })
    expect(res.status).toBe(200)
    // An OpenTelemetry histogram, which becomes a count and a sum
    const histogram = {
      name: 'shop.checkout.duration',
      unit: 'ms',
      histogram: { aggregationTemporality: 2, dataPoints: [{ count: '4', sum: 1000, bucketCounts: ['4'] }] },
    }
    const body = JSON.stringify({ resourceMetrics: [{ scopeMetrics: [{ metrics: [histogram] }] }] })
    const otlp = await postOtlp(hub.url, reporter, body, 'application/json')
    expect(otlp.status).toBe(200)
    // Both sampler groups have ticked: CPU, memory, network, disk, filesystems, processes, the sampler's own time
    let text = ''
    await expect
      .poll(
        async () => {
          text = await (await fetch(`${hub.url}/metrics`)).text()
          return [
            'vigil_processes',
            'vigil_filesystem_used_ratio',
            'vigil_sampler_tick_seconds',
            'vigil_cpu_usage_ratio',
          ].every((f) => text.includes(`# TYPE ${f} gauge`))
        },
        { timeout: 10_000 },
      )
      .toBe(true)
    const lint = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' })
    expect({ status: lint.status, stdout: lint.stdout, stderr: lint.stderr }).toEqual({
      status: 0,
      stdout: '',
      stderr: '',
    })
    // The kernel counters, as counters
    expect(text).toContain('# TYPE vigil_cpu_seconds_total counter')
    expect(text).toContain('# TYPE vigil_disk_read_bytes_total counter')
    expect(text).toContain('# TYPE vigil_etl_batch_seconds gauge')
    expect(text).toContain('# TYPE vigil_etl_queue gauge')
    expect(text).toContain('# TYPE vigil_etl_done_ratio gauge')
    const family = 'vigil_shop_checkout_duration_seconds'
    expect(text).toContain(
      `# TYPE ${family} summary\n${family}_count{host="${hub.host}"} 4\n${family}_sum{host="${hub.host}"} 1\n`,
    )
  })
})
