import { describe, expect, it } from 'vitest'
import { LineSplitter } from './lines.ts'

function split(chunks: string[]): string[] {
  const lines: string[] = []
  const s = new LineSplitter((l) => lines.push(l))
  for (const c of chunks) s.push(c)
  s.end()
  return lines
}

describe('cutting output into lines', () => {
  it('ends a line at LF, CRLF and a lone CR, keeping empty lines and a last line without a break', () => {
    expect(split(['a\nb\r\nc\rd\n\nlast'])).toEqual(['a', 'b', 'c', 'd', '', 'last'])
    expect(split(['\n\n'])).toEqual(['', ''])
    expect(split(['x\r'])).toEqual(['x'])
    expect(split([''])).toEqual([])
  })

  it('gives the same lines whatever the chunk boundaries, a CRLF split in two included', () => {
    const text = 'one\r\ntwo\rthree\n\r\nfour\r\r\nfive\n'
    const whole = split([text])
    expect(whole).toEqual(['one', 'two', 'three', '', 'four', '', 'five'])
    for (let i = 0; i <= text.length; i++) {
      for (let j = i; j <= text.length; j++) {
        expect(split([text.slice(0, i), text.slice(i, j), text.slice(j)])).toEqual(whole)
      }
    }
  })
})
