import { describe, expect, it } from 'vitest'
import { encodeComment, encodeFrame, encodeOpen } from './frame.ts'

describe('SSE framing', () => {
  it('writes id, event and one data line, ended by a blank line', () => {
    expect(encodeFrame('42', 'metrics', '{"a":1}').toString()).toBe('id: 42\nevent: metrics\ndata: {"a":1}\n\n')
  })

  it('splits multi-line data into one data line per line, for LF, CRLF and CR alike', () => {
    expect(encodeFrame('1', 'log', 'one\ntwo\r\nthree\rfour').toString()).toBe(
      'id: 1\nevent: log\ndata: one\ndata: two\ndata: three\ndata: four\n\n',
    )
  })

  it('keeps an empty data line so the event still dispatches', () => {
    expect(encodeFrame(null, null, '').toString()).toBe('data: \n\n')
  })

  it('refuses an id or event name containing CR or LF', () => {
    expect(() => encodeFrame('1\n2', 'metrics', 'x')).toThrow('SSE id must not contain CR or LF')
    expect(() => encodeFrame('1', 'met\rrics', 'x')).toThrow('SSE event must not contain CR or LF')
    expect(() => encodeFrame('1\0', 'metrics', 'x')).toThrow('SSE id must not contain NUL')
  })

  it('encodes comments, and the opening block with the retry hint and the newest id', () => {
    expect(encodeComment('ping').toString()).toBe(': ping\n\n')
    expect(encodeOpen(2000, 41).toString()).toBe('retry: 2000\nid: 41\n\n')
  })
})
