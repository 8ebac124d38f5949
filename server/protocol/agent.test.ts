import { describe, expect, it } from 'vitest'
import { AgentMessage } from './agent.ts'

const ticks = (values: unknown) => ({
  type: 'ticks',
  live: true,
  ticks: [{ seq: 1, ts: 1000, intervalMs: 1000, values }],
})

describe('the agent protocol', () => {
  it('takes ticks whose values map metric names to numbers, and refuses bad names, non-numbers and floods', () => {
    expect(AgentMessage.safeParse(ticks({ 'cpu.usage_pct': 1.5, 'net.eth0.rx_bytes_per_s': 0 })).success).toBe(true)
    for (const bad of [
      { 'Bad Name': 1 },
      { 'cpu..x': 1 },
      { 'cpu.usage_pct': '1' },
      { 'cpu.usage_pct': null },
      [1, 2],
      'values',
      { [`a.${'b'.repeat(200)}`]: 1 },
      Object.fromEntries(Array.from({ length: 10_001 }, (_, i) => [`m.n${i}`, i])),
    ]) {
      const r = AgentMessage.safeParse(ticks(bad))
      expect([r.success, r.error?.issues[0]?.path]).toEqual([false, ['ticks', 0, 'values']])
    }
  })

  it('refuses a message of an unknown type or with fields it does not know', () => {
    expect(AgentMessage.safeParse({ type: 'shout' }).success).toBe(false)
    expect(AgentMessage.safeParse({ type: 'replayed', from: 1, to: 2, ticks: 1, extra: 1 }).success).toBe(false)
    expect(AgentMessage.safeParse({ type: 'replayed', from: 1, to: 2, ticks: 1 }).success).toBe(true)
  })
})
