import { describe, expect, it } from 'vitest'
import { parseDirective } from './directives.ts'

describe('progress directives', () => {
  it('reads ::progress as a percent or a count with a unit, and ::step with its name', () => {
    expect(parseDirective('::progress 42')).toEqual({ percent: 42 })
    expect(parseDirective('::progress 420/1000 rows')).toEqual({ current: 420, total: 1000, unit: 'rows' })
    expect(parseDirective('::progress 3/4')).toEqual({ current: 3, total: 4 })
    expect(parseDirective('::step 2/5 Restore tables')).toEqual({
      step: { index: 2, count: 5, name: 'Restore tables' },
    })
  })

  it('leaves ordinary and malformed lines alone', () => {
    for (const line of [
      'progress 42',
      '::progress',
      '::progress 1/0',
      '::step 0/5 x',
      ' ::progress 5',
      '::stepper 1/2',
    ]) {
      expect(parseDirective(line)).toBeNull()
    }
  })

  it('reads a --progress-regex with named groups', () => {
    expect(parseDirective('copied 12 of 48 files', /copied (?<current>\d+) of (?<total>\d+) (?<unit>\w+)/)).toEqual({
      current: 12,
      total: 48,
      unit: 'files',
    })
    expect(parseDirective('at 37%', /at (?<percent>\d+)%/)).toEqual({ percent: 37 })
  })
})
