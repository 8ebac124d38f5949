import { describe, expect, it } from 'vitest'
import { vigilName } from './map.ts'

const attr = (key: string, stringValue: string) => ({ key, value: { stringValue } })

describe('OpenTelemetry names in Vigil', () => {
  it('maps names, units, counters and attributes to the dotted rule, as docs/api.md has it', () => {
    expect(vigilName('http.server.active_requests', '{request}', false, [])).toBe('http.server.active_requests')
    expect(vigilName('Shop.Orders', '{order}', true, [attr('region', 'EU')])).toBe('shop.region_eu.orders_total')
    expect(vigilName('process.memory.usage', 'By', false, [])).toBe('process.memory.usage_bytes')
    expect(vigilName('queue.wait', 's', false, [])).toBe('queue.wait_seconds')
    // A name that ends in its unit's suffix already keeps one
    expect(vigilName('cache.size_bytes', 'By', false, [])).toBe('cache.size_bytes')
    expect(vigilName('net.sent', 'By', true, [])).toBe('net.sent_bytes_total')
    expect(vigilName('jobs.done_total', '1', true, [])).toBe('jobs.done_total')
    // Attributes sorted by key, each a segment before the last; other characters made `_`
    expect(vigilName('http-server.duration', 'ms', false, [attr('route', '/api/v1'), attr('http.method', 'GET')])).toBe(
      'http_server.http_method_get.route_api_v1.duration_ms',
    )
    expect(vigilName('temp', 'Cel', false, [{ key: 'core', value: { intValue: '3' } }])).toBe('core_3.temp_celsius')
  })
})
