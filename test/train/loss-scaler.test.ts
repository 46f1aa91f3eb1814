import {describe, expect, it} from 'vitest'
import {LossScaler} from '../../src/train/loss-scaler.js'

describe('LossScaler (torch.amp.GradScaler defaults)', () => {
  it('starts at 2^16 and doubles after 2000 good steps in a row', () => {
    const s = new LossScaler()
    expect(s.scale).toBe(65536)
    for (let i = 0; i < 1999; i++) expect(s.update(true)).toBe(true)
    expect(s.scale).toBe(65536)
    expect(s.growthTracker).toBe(1999)
    s.update(true)
    expect(s.scale).toBe(131072)
    expect(s.growthTracker).toBe(0)
  })

  it('skips a step with a non-finite gradient, halves the scale and restarts the count', () => {
    const s = new LossScaler({growthInterval: 3})
    s.update(true)
    s.update(true)
    expect(s.update(false)).toBe(false)
    expect(s.scale).toBe(32768)
    expect(s.growthTracker).toBe(0)
    // Two good steps after the skip are not yet three in a row.
    s.update(true)
    s.update(true)
    expect(s.scale).toBe(32768)
    s.update(true)
    expect(s.scale).toBe(65536)
  })

  it('does not grow past the f32 range', () => {
    const s = new LossScaler({initScale: 2 ** 127, growthInterval: 1})
    s.update(true)
    expect(s.scale).toBe(2 ** 127)
  })

  it('round-trips its state, and refuses a damaged one', () => {
    const a = new LossScaler({growthInterval: 5})
    a.update(false)
    a.update(true)
    const b = new LossScaler({growthInterval: 5})
    b.load(a.state())
    expect(b.state()).toEqual({scale: 32768, growthTracker: 1})
    expect(() => b.load({scale: Number.NaN, growthTracker: 0})).toThrow(/not a positive finite scale/)
  })
})
