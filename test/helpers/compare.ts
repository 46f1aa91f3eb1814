/** ‖out − ref‖ / ‖ref‖, the relative error the reference README asks for. */
export function relativeError(out: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (out.length !== ref.length) throw new Error(`lengths differ: ${out.length} vs ${ref.length}`)
  let num = 0
  let den = 0
  for (let i = 0; i < ref.length; i++) {
    num += (out[i] - ref[i]) ** 2
    den += ref[i] ** 2
  }
  return Math.sqrt(num / den)
}
