import {expect} from 'vitest'

/**
 * Assert `actual` matches `expected` elementwise: |a - e| <= atol + rtol * |e|, and no NaN where a
 * value is expected. The failure message gives the worst element and the max abs / rel errors.
 */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string, {rtol = 1e-5, atol = 1e-6} = {}): void {
  expect(actual.length, `${label}: length`).toBe(expected.length)
  let maxAbs = 0
  let maxRel = 0
  let worst = -1
  let worstExcess = 0
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]
    const e = expected[i]
    const abs = Number.isNaN(a) !== Number.isNaN(e) ? Infinity : Number.isNaN(a) ? 0 : Math.abs(a - e)
    maxAbs = Math.max(maxAbs, abs)
    if (e !== 0) maxRel = Math.max(maxRel, abs / Math.abs(e))
    const excess = abs - (atol + rtol * Math.abs(e))
    if (excess > worstExcess) {
      worstExcess = excess
      worst = i
    }
  }
  if (worst >= 0) {
    expect.fail(`${label}: max abs err ${maxAbs.toExponential(2)}, max rel err ${maxRel.toExponential(2)} (rtol ${rtol}, atol ${atol}); worst at [${worst}]: got ${actual[worst]}, want ${expected[worst]}`)
  }
}
