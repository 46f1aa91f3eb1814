/**
 * Seeded pseudo-random numbers: xoshiro128** (Blackman & Vigna), its 128-bit state filled by a splitmix32 hash
 * chain over the seed words.
 * Integer arithmetic only, so the same seed gives the same stream on every platform and Node version.
 */
export class Random {
  private readonly s = new Uint32Array(4)

  /**
   * @param seed any safe integer
   * @param streams more safe integers picking an independent stream for the same seed (a task, a sample index),
   *   so that sample i can be drawn without drawing samples 0..i-1 first
   */
  constructor(seed: number, ...streams: number[]) {
    // Chain every 32-bit half through the splitmix32 finaliser: unlike adding or xoring words into one state,
    // this keeps (seed, stream) = (1, 2) and (2, 1) apart.
    let h = 0
    for (const x of [seed, ...streams]) {
      if (!Number.isSafeInteger(x)) throw new RangeError(`Random: seeds and streams must be safe integers, got ${x}`)
      h = splitmix32(h ^ (x >>> 0))
      h = splitmix32(h ^ (Math.floor(x / 2 ** 32) >>> 0))
    }
    for (let i = 0; i < 4; i++) this.s[i] = h = splitmix32(h)
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1
  }

  /** Uniform integer in [0, 2^32). */
  uint32(): number {
    const s = this.s
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0
    const t = s[1] << 9
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = rotl(s[3], 11)
    return result
  }

  /** Uniform in [0, 1), with 32 bits of resolution. */
  float(): number {
    return this.uint32() / 2 ** 32
  }

  /** Uniform integer in [0, n) for an integer 1 <= n <= 2^32, without modulo bias (rejection sampling). */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 2 ** 32) throw new RangeError(`Random.int: n must be an integer in [1, 2^32], got ${n}`)
    const limit = 2 ** 32 - (2 ** 32 % n)
    for (;;) {
      const x = this.uint32()
      if (x < limit) return x % n
    }
  }

  /** One element, uniformly. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('Random.pick: empty array')
    return items[this.int(items.length)]
  }

  /** Shuffles in place (Fisher-Yates) and returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      const tmp = items[i]
      items[i] = items[j]
      items[j] = tmp
    }
    return items
  }

  /** k distinct elements (distinct positions of `items`) in random order; `items` is left untouched. */
  sampleWithoutReplacement<T>(items: readonly T[], k: number): T[] {
    if (!Number.isInteger(k) || k < 0 || k > items.length) {
      throw new RangeError(`Random.sampleWithoutReplacement: cannot draw ${k} of ${items.length}`)
    }
    // Partial Fisher-Yates over positions; a sparse swap map keeps this O(k) for large arrays.
    const swapped = new Map<number, number>()
    const out: T[] = []
    for (let i = 0; i < k; i++) {
      const j = i + this.int(items.length - i)
      const atJ = swapped.get(j) ?? j
      swapped.set(j, swapped.get(i) ?? i)
      out.push(items[atJ])
    }
    return out
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k))
}

/** One splitmix32 step from state z: advance by the golden ratio, then the murmur3-style finaliser. */
function splitmix32(z: number): number {
  let x = (z + 0x9e3779b9) >>> 0
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b)
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35)
  return (x ^ (x >>> 16)) >>> 0
}
