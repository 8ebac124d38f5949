import { describe, expect, it } from 'vitest'
import type { AlertRule } from '../protocol/index.ts'
import { type Change, Evaluator } from './evaluator.ts'

/** The evaluator is a state machine with no I/O and no clock of its own: these feed it samples at given times. */
function run(rule: AlertRule, samples: [at: number, value: number][], host = 'h1', series = 'app.x') {
  const ev = new Evaluator()
  ev.setRules([rule], 0)
  const states: [number, string | null][] = []
  for (const [at, value] of samples) {
    const out: Change[] = []
    ev.metrics(host, { [series]: value }, at, out)
    ev.sweep(at, out)
    for (const ch of out) states.push([at, ch.to])
  }
  return states
}

const base = { kind: 'metric', name: 'r', metric: 'app.x', op: '>', threshold: 50, severity: 'warning' } as const

describe('the evaluator', () => {
  it('fires on the average over aggregate.windowMs, not on one high sample, and resolves when the average falls', () => {
    const rule: AlertRule = { ...base, aggregate: { fn: 'avg', windowMs: 3000 } }
    expect(
      run(rule, [
        [0, 10],
        [1000, 10],
        [2000, 100],
        [3000, 100],
        [4000, 100],
        [5000, 0],
        [6000, 0],
      ]),
    ).toEqual([
      [3000, 'pending'],
      [3000, 'firing'],
      [6000, 'resolved'],
    ])
  })

  it('takes min over the window, so a single dip below the threshold is enough to stay quiet', () => {
    const rule: AlertRule = { ...base, aggregate: { fn: 'min', windowMs: 2500 } }
    expect(
      run(rule, [
        [0, 60],
        [1000, 40],
        [2000, 60],
        [3000, 60],
        [4000, 60],
      ]),
    ).toEqual([
      [0, 'pending'],
      [0, 'firing'],
      [1000, 'resolved'],
      [4000, 'pending'],
      [4000, 'firing'],
    ])
  })

  it('drops a pending alert that never fired (to: null) and fires it later with episode 1', () => {
    const ev = new Evaluator()
    ev.setRules([{ ...base, forMs: 2000 }], 0)
    const out: Change[] = []
    ev.metrics('h1', { 'app.x': 60 }, 0, out)
    ev.metrics('h1', { 'app.x': 40 }, 1000, out)
    ev.metrics('h1', { 'app.x': 60 }, 2000, out)
    ev.sweep(4000, out)
    expect(out.map((c) => [c.from, c.to, c.view.episode])).toEqual([
      [null, 'pending', 0],
      ['pending', null, 0],
      [null, 'pending', 0],
      ['pending', 'firing', 1],
    ])
    expect([...ev.records()].map((r) => [r.state, r.since])).toEqual([['firing', 4000]])
  })

  it('matches a glob rule to each series and host it covers, and resolves the alerts of a deleted rule', () => {
    const ev = new Evaluator()
    ev.setRules([{ ...base, metric: 'fs.*.used_pct', hosts: 'db-?' }], 0)
    const out: Change[] = []
    ev.metrics('db-1', { 'fs.root.used_pct': 99, 'fs.root.used_bytes': 99, 'fs.a.b.used_pct': 99 }, 0, out)
    ev.metrics('db-10', { 'fs.root.used_pct': 99 }, 0, out)
    ev.metrics('db-2', { 'fs.data.used_pct': 99 }, 0, out)
    expect(out.filter((c) => c.to === 'firing').map((c) => `${c.alert.host} ${c.alert.series}`)).toEqual([
      'db-1 fs.root.used_pct',
      'db-2 fs.data.used_pct',
    ])
    const gone = ev.setRules([], 10)
    expect(gone.map((c) => [c.alert.host, c.from, c.to])).toEqual([
      ['db-1', 'firing', 'resolved'],
      ['db-2', 'firing', 'resolved'],
    ])
  })
})
