import {describe, expect, it} from 'vitest'
import {headsInBudget, parseBudget} from '../../src/heads/budget.js'

describe('--budget: one parser for find-heads, rewrite and recipes', () => {
  it('reads a percentage and a fraction of one as the same share', () => {
    expect(parseBudget('2%')).toBeCloseTo(0.02, 12)
    expect(parseBudget('0.02')).toBeCloseTo(0.02, 12)
    expect(parseBudget(' 5 % ')).toBeCloseTo(0.05, 12)
    expect(parseBudget('0.05')).toBeCloseTo(0.05, 12)
    expect(parseBudget('1')).toBe(1)
    expect(parseBudget('100%')).toBe(1)
    expect(parseBudget('0')).toBe(0)
    expect(parseBudget('0%')).toBe(0)
  })

  it('refuses a bare number above 1, naming both readings, and anything that is not a share', () => {
    expect(() => parseBudget('3')).toThrow(/--budget 3: a bare number is a fraction.*3%.*--top-k \/ --keep/)
    for (const bad of ['150%', '-0.1', '-2%', 'lots', '', '%', '2%%', '0x1', 'NaN', 'Infinity', '1e400']) {
      expect(() => parseBudget(bad), bad).toThrow(/--budget/)
    }
  })

  it('is a usage error (exit 2)', () => {
    try {
      parseBudget('lots')
      expect.unreachable()
    } catch (err) {
      expect((err as {exitCode: number}).exitCode).toBe(2)
    }
  })

  it('rounds to the nearest head; a budget that rounds to none is an error unless it is 0', () => {
    expect(headsInBudget(0.05, 48)).toBe(2)
    expect(headsInBudget(0.04, 48)).toBe(2)
    expect(headsInBudget(0.02, 48)).toBe(1)
    expect(headsInBudget(1, 48)).toBe(48)
    expect(headsInBudget(0, 48)).toBe(0)
    expect(() => headsInBudget(0.005, 48)).toThrow(/--budget 0\.5% of 48 heads is 0\.24 heads, which rounds to none; give at least 1\.05% for one head, or 0 for none/)
  })
})
