import {describe, expect, it} from 'vitest'
import {
  bf16BitsToF32Bits, bytesPerElement, decode, DTYPES, encode, f16BitsToF32Bits, f32BitsToBf16Bits,
  f32BitsToF16Bits, IntRangeError,
} from '../../src/io/safetensors/dtypes.js'

function widen(fn: typeof f16BitsToF32Bits, bits: number[]): Float32Array {
  const out = new Float32Array(bits.length)
  fn(Uint16Array.from(bits), new Uint32Array(out.buffer))
  return out
}

function bitsOf(x: number): number {
  return new Uint32Array(Float32Array.of(x).buffer)[0]
}

/** Chunks into one fresh (8-byte aligned) array. */
function concat(chunks: Iterable<Uint8Array>): Uint8Array {
  const list = [...chunks]
  const out = new Uint8Array(list.reduce((n, c) => n + c.byteLength, 0))
  let at = 0
  for (const c of list) {
    out.set(c, at)
    at += c.byteLength
  }
  return out
}

const isF16NaN = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0

describe('dtype sizes', () => {
  it('lists every dtype with its size', () => {
    expect(DTYPES.map((d) => [d, bytesPerElement(d)])).toEqual([
      ['BOOL', 1], ['U8', 1], ['I8', 1], ['I16', 2], ['U16', 2], ['I32', 4], ['U32', 4],
      ['I64', 8], ['U64', 8], ['F16', 2], ['BF16', 2], ['F32', 4], ['F64', 8],
    ])
  })
})

describe('BF16', () => {
  it('decodes known bit patterns', () => {
    const got = widen(bf16BitsToF32Bits, [0x3f80, 0xc000, 0x4049, 0x7f80, 0xff80, 0x8000, 0x0001, 0x3eab])
    expect([...got.slice(0, 6)]).toEqual([1, -2, 3.140625, Infinity, -Infinity, -0])
    expect(got[6]).toBe(2 ** -133) // smallest bf16 subnormal
    expect(got[7]).toBe(0.333984375)
    expect(widen(bf16BitsToF32Bits, [0x7fc0])[0]).toBeNaN()
  })

  it('narrows with round-to-nearest-even and keeps NaN', () => {
    expect(f32BitsToBf16Bits(bitsOf(1))).toBe(0x3f80)
    expect(f32BitsToBf16Bits(0x3f808000)).toBe(0x3f80) // tie, even stays
    expect(f32BitsToBf16Bits(0x3f818000)).toBe(0x3f82) // tie, odd rounds up
    expect(f32BitsToBf16Bits(0x3f808001)).toBe(0x3f81) // above the tie
    expect(f32BitsToBf16Bits(bitsOf(1 / 3))).toBe(0x3eab)
    expect(f32BitsToBf16Bits(0x7f7fffff)).toBe(0x7f80) // f32 max rounds to inf
    expect(f32BitsToBf16Bits(0xff7fffff)).toBe(0xff80)
    const nan = f32BitsToBf16Bits(0x7f800001) // a NaN whose payload sits in the dropped bits
    expect(nan & 0x7f80).toBe(0x7f80)
    expect(nan & 0x7f).not.toBe(0)
  })

  it('round-trips every bf16 bit pattern', () => {
    const all = Uint16Array.from({length: 65536}, (_, i) => i)
    const f32 = new Uint32Array(65536)
    bf16BitsToF32Bits(all, f32)
    for (let i = 0; i < 65536; i++) {
      const back = f32BitsToBf16Bits(f32[i])
      if ((i & 0x7f80) === 0x7f80 && (i & 0x7f)) expect((back & 0x7f80) === 0x7f80 && (back & 0x7f) !== 0).toBe(true)
      else if (back !== i) expect(back).toBe(i)
    }
  })
})

describe('widening reports whether every value is finite', () => {
  for (const [name, widen] of [['BF16', bf16BitsToF32Bits], ['F16', f16BitsToF32Bits]] as const) {
    it(`${name}: for every bit pattern alone, and one NaN or Inf among finite values`, () => {
      const one = new Uint16Array(1)
      const out = new Uint32Array(1)
      const f32 = new Float32Array(out.buffer)
      for (let bits = 0; bits < 65536; bits++) {
        one[0] = bits
        const finite = widen(one, out)
        if (finite !== Number.isFinite(f32[0])) expect(`${bits.toString(16)}: ${finite}`).toBe(`${bits.toString(16)}: ${Number.isFinite(f32[0])}`)
      }
      const inf = name === 'BF16' ? 0xff80 : 0xfc00
      const many = Uint16Array.from({length: 1000}, (_, i) => (i * 37) & 0x3bff)
      expect(widen(many, new Uint32Array(1000))).toBe(true)
      many[517] = inf
      expect(widen(many, new Uint32Array(1000))).toBe(false)
    })
  }
})

describe('F16', () => {
  it('decodes known bit patterns, subnormals, inf and NaN', () => {
    const got = widen(f16BitsToF32Bits, [0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x3555, 0x7c00, 0xfc00, 0x8000, 0x8001])
    expect([...got]).toEqual([
      1, -2, 65504, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, 0.333251953125, Infinity, -Infinity, -0, -(2 ** -24),
    ])
    expect(widen(f16BitsToF32Bits, [0x7e00])[0]).toBeNaN()
    expect(widen(f16BitsToF32Bits, [0xfc01])[0]).toBeNaN()
  })

  it('narrows known values with round-to-nearest-even', () => {
    const cases: [number, number][] = [
      [1, 0x3c00], [-2, 0xc000], [1 / 3, 0x3555], [65504, 0x7bff], [65519, 0x7bff], [65520, 0x7c00], [1e6, 0x7c00],
      [-1e6, 0xfc00], [2 ** -24, 0x0001], [2 ** -25, 0x0000], [0.75 * 2 ** -24, 0x0001], [1.5 * 2 ** -24, 0x0002],
      [2.5 * 2 ** -24, 0x0002], [2 ** -14, 0x0400], [1023 * 2 ** -24, 0x03ff], [1e-10, 0], [-0, 0x8000],
      [Infinity, 0x7c00], [-Infinity, 0xfc00], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02],
    ]
    for (const [x, h] of cases) expect([x, f32BitsToF16Bits(bitsOf(x))]).toEqual([x, h])
    expect(isF16NaN(f32BitsToF16Bits(bitsOf(NaN)))).toBe(true)
    expect(isF16NaN(f32BitsToF16Bits(0x7f800001))).toBe(true) // payload only in dropped bits
  })

  it('round-trips every f16 bit pattern and picks the nearest f16 for random floats', () => {
    const all = Uint16Array.from({length: 65536}, (_, i) => i)
    const f32 = new Uint32Array(65536)
    f16BitsToF32Bits(all, f32)
    for (let i = 0; i < 65536; i++) {
      const back = f32BitsToF16Bits(f32[i])
      if (isF16NaN(i)) expect(isF16NaN(back)).toBe(true)
      else if (back !== i) expect(back).toBe(i)
    }
    const value = (h: number) => new Float32Array(f32.buffer)[h]
    let seed = 12345
    for (let k = 0; k < 20000; k++) {
      seed = (seed * 1103515245 + 12345) >>> 0
      const x = Math.fround(((seed / 2 ** 32) - 0.5) * 2 ** ((seed % 40) - 26))
      const h = f32BitsToF16Bits(bitsOf(x))
      const err = Math.abs(value(h) - x)
      for (const n of [h - 1, h + 1]) {
        if (n < 0 || (n & 0x7fff) >= 0x7c00 || (n & 0x8000) !== (h & 0x8000)) continue
        if (Math.abs(value(n) - x) < err) expect({x, h, better: n}).toBeUndefined()
      }
    }
  })
})

describe('decode and encode', () => {
  it('narrows I64 to Int32Array when every value fits and names the element otherwise', () => {
    const fits = new BigInt64Array([0n, -1n, 2147483647n, -2147483648n])
    expect([...decode('I64', new Uint8Array(fits.buffer))]).toEqual([0, -1, 2147483647, -2147483648])
    const big = new BigInt64Array([5n, 2147483648n])
    expect(() => decode('I64', new Uint8Array(big.buffer))).toThrow(IntRangeError)
    expect(() => decode('I64', new Uint8Array(big.buffer))).toThrow(/element 1 \(2147483648\)/)
    const u = new BigUint64Array([2n ** 63n])
    expect(() => decode('U64', new Uint8Array(u.buffer))).toThrow(/9223372036854775808/)
  })

  it('widens Int32Array to I64 words with the sign extended', () => {
    const bytes = concat(encode('I64', Int32Array.of(-3, 7)))
    expect([...new BigInt64Array(bytes.buffer)]).toEqual([-3n, 7n])
    expect(() => [...encode('U64', Int32Array.of(-1))]).toThrow(IntRangeError)
  })

  it('encodes f32 as F16/BF16 in chunks that cover every element', () => {
    const n = (1 << 20) + 3
    const data = Float32Array.from({length: n}, (_, i) => i % 7)
    const bytes = concat(encode('BF16', data))
    expect(bytes.byteLength).toBe(2 * n)
    const back = decode('BF16', bytes)
    expect(back.length).toBe(n)
    expect(back.findIndex((v, i) => v !== data[i])).toBe(-1)
  })
})
