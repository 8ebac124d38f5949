import { describe, expect, it } from 'vitest'
import { hostUrl, parseRoute } from './route.ts'

describe('dashboard routes', () => {
  it('reads a host page with its range and zoom back from the URL it writes', () => {
    const zoom = { from: 1_796_000_000_000, to: 1_796_000_600_000 }
    const url = hostUrl('edge-1.example', '6h', zoom)
    expect(url).toBe('/hosts/edge-1.example?range=6h&from=1796000000000&to=1796000600000')
    const [pathname, search] = url.split('?') as [string, string]
    expect(parseRoute({ pathname, search: `?${search}` })).toEqual({
      page: 'host',
      host: 'edge-1.example',
      range: '6h',
      zoom,
    })
    expect(hostUrl('h')).toBe('/hosts/h')
  })

  it('takes the overview for / and anything it does not know, and a job page for /jobs/<id>', () => {
    expect(parseRoute({ pathname: '/', search: '' })).toEqual({ page: 'overview' })
    expect(parseRoute({ pathname: '/nope/x', search: '' })).toEqual({ page: 'overview' })
    expect(parseRoute({ pathname: '/jobs/j1a2b3', search: '' })).toEqual({ page: 'job', id: 'j1a2b3' })
    expect(parseRoute({ pathname: '/hosts/a', search: '?range=bogus&from=9&to=3' })).toEqual({
      page: 'host',
      host: 'a',
      range: 'live',
      zoom: null,
    })
  })

  it('takes /alerts for the alerts page and /alerts/<16 hex digits> for one alert on it', () => {
    expect(parseRoute({ pathname: '/alerts', search: '' })).toEqual({ page: 'alerts', id: null })
    expect(parseRoute({ pathname: '/alerts/0123456789abcdef', search: '' })).toEqual({
      page: 'alerts',
      id: '0123456789abcdef',
    })
    expect(parseRoute({ pathname: '/alerts/not-an-id', search: '' })).toEqual({ page: 'overview' })
  })
})
