import {describe, expect, it} from 'vitest'
import type {Backend} from '../../src/backend/backend.js'
import {backward, withTape} from '../../src/engine/autograd.js'
import {linear} from '../../src/engine/ops.js'
import {withPrecision} from '../../src/engine/precision.js'
import {fromArray, type Tensor} from '../../src/engine/tensor.js'
import {f16Bits, f16Value, packF16} from '../../src/kernels/f16.js'
import {packF16Exact, roundF16} from '../../src/kernels/round-f16.js'
import {pickF16Version, tensorCoreMultiple, tensorCoreSupport, type MatmulF16Params} from '../../src/kernels/matmul-f16.js'
import {absMaxRows, cropRangeScale, rangeExponent, rangeScale} from '../../src/kernels/f16-range.js'
import {cpuBackend, referenceBackend, runKernel, tensorCoreCpu, webgpuBackend} from '../helpers/backends.js'
import {Rng} from '../helpers/random.js'

const gpu = await webgpuBackend()
const half = (x: number): number => f16Value(f16Bits(x))

/** C [m, n] = A·B in f64, the elements of A and B given by index. */
function hostMatmul(m: number, n: number, k: number, at: (i: number, kk: number) => number, bt: (kk: number, j: number) => number): Float64Array {
  const c = new Float64Array(m * n)
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let kk = 0; kk < k; kk++) c[i * n + j] += at(i, kk) * bt(kk, j)
  return c
}

function expectNear(got: ArrayLike<number>, want: ArrayLike<number>, rel: number, what: string): void {
  let scale = 0
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]))
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]), `${what}[${i}]`).toBeLessThanOrEqual(rel * scale)
}

/** The kernels (name and parameters) `backend` runs while `fn` runs. */
async function launches(backend: Backend, fn: () => Promise<void>): Promise<{name: string; params: unknown}[]> {
  const runs: {name: string; params: unknown}[] = []
  const run = backend.run.bind(backend)
  backend.run = (kernel, params, ...rest) => (runs.push({name: kernel.name, params}), run(kernel, params, ...rest))
  try {
    await fn()
  } finally {
    backend.run = run
  }
  return runs
}

const [M, K, N] = [5, 19, 7]

async function mixedLinear(backend: Backend, x: Float32Array, w: Float32Array, b: Float32Array, g: Float32Array, precision: 'f32' | 'mixed', [m, k, n] = [M, K, N]) {
  const xt = fromArray(backend, x, [m, k])
  const wt = fromArray(backend, w, [n, k])
  const bt = fromArray(backend, b, [n])
  for (const t of [xt, wt, bt]) t.requiresGrad = true
  const {result: y} = withTape(() => withPrecision(precision, () => linear(xt, wt, bt)))
  const out = Float32Array.from(await y.toArray())
  const [dx, dw, db] = backward(y, [xt, wt, bt], {seed: fromArray(backend, g, [m, n])})
  const read = async (t: Tensor) => Float32Array.from(await t.toArray())
  return {y: out, dx: await read(dx), dw: await read(dw), db: await read(db)}
}

describe('mixed-precision linear: f16 operands, f32 accumulation', () => {
  const rng = new Rng(20)
  const x = rng.floats(M * K, 1)
  const w = rng.floats(N * K, 1)
  const b = rng.floats(N, 1)
  const g = rng.floats(M * N, 1)
  const [xh, wh, gh] = [x, w, g].map((v) => v.map(half))
  const wantY = hostMatmul(M, N, K, (i, kk) => xh[i * K + kk], (kk, j) => wh[j * K + kk]).map((v, i) => v + b[i % N])
  const wantDx = hostMatmul(M, K, N, (i, kk) => gh[i * N + kk], (kk, j) => wh[kk * K + j])
  const wantDw = hostMatmul(N, K, M, (i, kk) => gh[kk * N + i], (kk, j) => xh[kk * K + j])

  for (const [name, make] of [['CPU fast paths', cpuBackend], ['CPU references', referenceBackend], ['packed tensor-core path', tensorCoreCpu]] as const) {
    it(`${name}: forward and backward are the f32 sums of f16-rounded operands (gradient rounded too)`, async () => {
      const got = await mixedLinear(make(), x, w, b, g, 'mixed')
      expectNear(got.y, wantY, 1e-6, 'y')
      expectNear(got.dx, wantDx, 1e-6, 'dx')
      expectNear(got.dw, wantDw, 1e-6, 'dW')
      expectNear(got.db, Array.from({length: N}, (_, j) => Array.from({length: M}, (_, i) => g[i * N + j]).reduce((s, v) => s + v, 0)), 1e-6, 'db')
    })
  }

  it('packed tensor-core path: every product of the forward and backward runs the staged tensor-core version on whole tiles (m, n, k all partial tiles)', async () => {
    const backend = tensorCoreCpu()
    const tile = tensorCoreMultiple(tensorCoreSupport(backend)!)
    expect([M, N, K].every((d) => d % tile !== 0)).toBe(true)
    const runs = await launches(backend, async () => void (await mixedLinear(backend, x, w, b, g, 'mixed')))
    const products = runs.filter((r) => r.name === 'matmul_f16').map((r) => r.params as MatmulF16Params)
    expect(products).toHaveLength(3)
    for (const p of products) {
      expect(pickF16Version(p), JSON.stringify(p)).toBe(6)
      expect([p.m, p.n, p.k]).toEqual([p.m, p.n, p.k].map((d) => Math.ceil(d / tile) * tile))
    }
    // The transposed operand and the activation's range scaling are folded into the packing, the scaling back into the crop.
    // (one strided copy: dX's product, of a gradient and a weight, is cropped without scaling)
    expect(runs.filter((r) => ['range_scale', 'strided_copy', 'round_f16'].includes(r.name)).map((r) => r.name)).toEqual(['strided_copy'])
    expect(runs.filter((r) => r.name === 'crop_range_scale')).toHaveLength(2)
  })

  it('packed tensor-core path: a small analogue of the in_proj shape (more than one tile, partial in m, n and k) gives the CPU\'s product', async () => {
    // 150 = 128 + 22 rows (as 1046 = 8·128 + 22), 160 = 128 + 32 columns (as 8224 = 64·128 + 32), k 200 a partial K slice.
    const shape: [number, number, number] = [150, 200, 160]
    const [m, k, n] = shape
    const r = new Rng(24)
    const [xs, ws, bs, gs] = [r.floats(m * k, 1), r.floats(n * k, 1), r.floats(n, 1), r.floats(m * n, 1)]
    const want = await mixedLinear(cpuBackend(), xs, ws, bs, gs, 'mixed', shape)
    const got = await mixedLinear(tensorCoreCpu(), xs, ws, bs, gs, 'mixed', shape)
    for (const key of ['y', 'dx', 'dw', 'db'] as const) expectNear(got[key], want[key], 1e-6, key)
  })

  it('differs from f32 by about f16 rounding, and only inside the precision context', async () => {
    const mixed = await mixedLinear(cpuBackend(), x, w, b, g, 'mixed')
    const f32 = await mixedLinear(cpuBackend(), x, w, b, g, 'f32')
    const diff = Math.max(...mixed.y.map((v, i) => Math.abs(v - f32.y[i])))
    expect(diff).toBeGreaterThan(1e-5)
    expect(diff).toBeLessThan(2e-2)
  })

  it('an input beyond f16\'s range is scaled into it by a power of two, and the products back: finite, forward and dW', async () => {
    // 2.5e5 = 2^17.9: k = 3, x / 8 is under 2^15; f16 rounding of x alone would give inf.
    const big = x.map((v, i) => (i === 7 ? 2.5e5 : v * 1e4))
    const k = rangeExponent(2.5e5)
    expect(k).toBe(3)
    const bh = big.map((v) => half(v / 2 ** k))
    const want = hostMatmul(M, N, K, (i, kk) => bh[i * K + kk] * 2 ** k, (kk, j) => wh[j * K + kk]).map((v, i) => v + b[i % N])
    const wantDwBig = hostMatmul(N, K, M, (i, kk) => gh[kk * N + i], (kk, j) => bh[kk * K + j] * 2 ** k)
    for (const make of [cpuBackend, tensorCoreCpu]) {
      const got = await mixedLinear(make(), big, w, b, g, 'mixed')
      expectNear(got.y, want, 1e-6, 'y')
      expectNear(got.dw, wantDwBig, 1e-6, 'dW')
      expectNear(got.dx, wantDx, 1e-6, 'dx')
    }
    expect(rangeExponent(65503.9)).toBe(0)
    expect(rangeExponent(65504)).toBe(1)
    expect(rangeExponent(Infinity)).toBe(0)
    expect(rangeExponent(Number.NaN)).toBe(0)
  })

  it('an output gradient beyond f16 range overflows to inf in mixed mode (what loss scaling detects), not in f32', async () => {
    const big = g.map((v) => v * 1e5)
    const mixed = await mixedLinear(cpuBackend(), x, w, b, big, 'mixed')
    expect(mixed.dw.some((v) => !Number.isFinite(v))).toBe(true)
    const f32 = await mixedLinear(cpuBackend(), x, w, b, big, 'f32')
    expect(f32.dw.every(Number.isFinite)).toBe(true)
  })
})

describe('mixed precision: a weight is rounded to f16 once per version of the weight', () => {
  const rng = new Rng(22)
  const [x, w] = [rng.floats(M * K, 1), rng.floats(N * K, 1)]

  for (const [name, make, rounding] of [['CPU', cpuBackend, 'round_f16'], ['packed tensor-core path', tensorCoreCpu, 'pack_f16_exact']] as const) {
    it(`${name}: a second forward rounds only its input; a write into the weight (an optimizer step) rounds it again; freeing it frees the copy`, async () => {
      const backend = make()
      const xt = fromArray(backend, x, [M, K])
      const wt = fromArray(backend, w, [N, K])
      const forward = async (): Promise<Float32Array> => Float32Array.from(await withPrecision('mixed', () => linear(xt, wt)).toArray())
      const count = (runs: {name: string}[]): number => runs.filter((r) => r.name === rounding).length
      let first: Float32Array = new Float32Array(0)
      expect(count(await launches(backend, async () => void (first = await forward())))).toBe(2)
      let second: Float32Array = new Float32Array(0)
      expect(count(await launches(backend, async () => void (second = await forward())))).toBe(1)
      expect(second).toEqual(first)
      // The weight changes as AdamW changes it, in place: the next forward must see the new values.
      backend.write(wt.storage, w.map((v) => -v))
      let third: Float32Array = new Float32Array(0)
      expect(count(await launches(backend, async () => void (third = await forward())))).toBe(2)
      expectNear(third, first.map((v) => -v), 1e-6, 'y after the write')
      if ('memory' in backend) {
        const cpu = backend as ReturnType<typeof cpuBackend>
        const before = cpu.memory.liveBytes
        wt.dispose()
        // The weight and its copy (f32 rounded, or packed halves padded to whole tiles) are both freed.
        const tc = tensorCoreSupport(backend)
        const padded = (d: number): number => (tc ? Math.ceil(d / tensorCoreMultiple(tc)) * tensorCoreMultiple(tc) : d)
        expect(before - cpu.memory.liveBytes).toBe(N * K * 4 + (rounding === 'round_f16' ? N * K * 4 : ((padded(N) * padded(K)) / 2) * 4))
      }
    })
  }
})

describe('mixed precision with a weight held in bf16 or f16 (a teacher loaded with --dtype)', () => {
  const rng = new Rng(23)
  const x = rng.floats(M * K, 1)
  const w = rng.floats(N * K, 1)
  const word = new Uint32Array(1)
  const asF32 = new Float32Array(word.buffer)
  const bf16 = Uint16Array.from(w, (v) => ((asF32[0] = v), word[0] >>> 16))
  const f16 = Uint16Array.from(w, (v) => f16Bits(v))
  const widened = {bf16: Float32Array.from(bf16, (b) => ((word[0] = b << 16), asF32[0])), f16: Float32Array.from(f16, (b) => f16Value(b))}
  const backends = [['CPU', cpuBackend], ['packed tensor-core path', tensorCoreCpu], ...(gpu ? [['WebGPU', () => gpu!]] : [])] as [string, () => Backend][]

  for (const [name, make] of backends) {
    for (const dtype of ['bf16', 'f16'] as const) {
      it(`${name}, ${dtype}: the same product as the weight's values held in f32`, async () => {
        const backend = make()
        const xt = fromArray(backend, x, [M, K])
        const mixed = async (weight: Tensor): Promise<number[]> => Array.from(await withPrecision('mixed', () => linear(xt, weight)).toArray())
        const half = fromArray(backend, dtype === 'bf16' ? bf16 : f16, [N, K], dtype)
        const full = fromArray(backend, widened[dtype], [N, K])
        expect(await mixed(half)).toEqual(await mixed(full))
        for (const t of [xt, half, full]) t.dispose()
      })
    }
  }
})

describe.skipIf(!gpu)('f16 rounding kernels: WebGPU vs CPU, bit for bit', () => {
  // Ties both ways, subnormals, the overflow edge (65504 stays, 65520 is inf), inf, zero signs.
  const edges = [1, -2, 65504, 65519.9, 65520, -1e6, 2 ** -24, 2 ** -26, 3 * 2 ** -25, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 0.1, -0, 0, Infinity, -Infinity, 2 ** -15, 1e-30]
  const values = Float32Array.from([...edges, ...new Rng(21).floats(999, 70000)])

  it('roundF16', async () => {
    const [got] = await runKernel(gpu!, roundF16, {n: values.length}, [values], [values.length])
    expect(Array.from(got)).toEqual(Array.from(values, (v) => half(v)))
  })

  it('absMaxRows and rangeScale (several chunks, odd lengths)', async () => {
    const n = values.length
    const finite = values.map((v) => (Number.isFinite(v) ? v : 3))
    const rows = 7
    const cols = Math.ceil(n / rows)
    const [got] = await runKernel(gpu!, absMaxRows, {n, rows, cols}, [finite], [rows])
    const [want] = await runKernel(referenceBackend(), absMaxRows, {n, rows, cols}, [finite], [rows])
    expect(Array.from(got)).toEqual(Array.from(want))
    for (const m of [1e6, 65504, 100]) {
      for (const direction of [-1, 1] as const) {
        const [scaled] = await runKernel(gpu!, rangeScale, {n, direction}, [finite, Float32Array.of(m)], [n])
        expect(Array.from(scaled), `m ${m}, direction ${direction}`).toEqual(Array.from(finite, (v) => Math.fround(v * 2 ** (direction * rangeExponent(m)))))
      }
    }
  })

  it('packF16Exact transposed and range-scaled: the bits of a strided copy and rangeScale before the packing', async () => {
    const [rows, cols, paddedRows, paddedCols] = [113, 9, 128, 16]
    const finite = values.map((v) => (Number.isFinite(v) ? v : 3))
    for (const m of [1e6, 100]) {
      const factor = 2 ** -rangeExponent(m)
      const padded = new Float32Array(paddedRows * paddedCols)
      // finite holds x stored [cols, rows]; the packing reads it upright as [rows, cols].
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) padded[r * paddedCols + c] = Math.fround(finite[c * rows + r] * factor)
      const params = {rows, cols, paddedRows, paddedCols, transposed: true, scaled: true}
      const [got] = await runKernel(gpu!, packF16Exact, params, [finite, Float32Array.of(m)], [(paddedRows * paddedCols) / 2])
      expect(Array.from(new Int32Array(got.buffer)), `gpu m ${m}`).toEqual(Array.from(packF16(padded)))
      // The CPU twin writes packed words into an i32 tensor (ops.ts), which runKernel's f32 outputs are not.
      const cpu = new Int32Array((paddedRows * paddedCols) / 2)
      packF16Exact.cpu(params, [finite, Float32Array.of(m)], [cpu])
      expect(Array.from(cpu), `cpu m ${m}`).toEqual(Array.from(packF16(padded)))
    }
  })

  it('cropRangeScale: the top-left rows x cols of a padded product, scaled back', async () => {
    const [rows, cols, paddedCols] = [7, 113, 130]
    const x = new Rng(22).floats(9 * paddedCols, 1000)
    for (const m of [1e6, 100]) {
      const want = Float32Array.from({length: rows * cols}, (_, i) => Math.fround(x[Math.floor(i / cols) * paddedCols + (i % cols)] * 2 ** rangeExponent(m)))
      for (const backend of [gpu!, referenceBackend()]) {
        const [got] = await runKernel(backend, cropRangeScale, {rows, cols, paddedCols}, [x, Float32Array.of(m)], [rows * cols])
        expect(Array.from(got), `m ${m}`).toEqual(Array.from(want))
      }
    }
  })

  it('packF16Exact (odd length)', async () => {
    const n = values.length
    const [got] = await runKernel(gpu!, packF16Exact, {rows: 1, cols: n, paddedRows: 1, paddedCols: n}, [values], [Math.ceil(n / 2)])
    expect(Array.from(new Int32Array(got.buffer))).toEqual(Array.from(packF16(values)))
  })

  it('packF16Exact padded with zeros to whole tiles in rows and columns (odd columns)', async () => {
    const [rows, cols, paddedRows, paddedCols] = [9, 113, 16, 128]
    expect(rows * cols).toBe(values.length)
    const padded = new Float32Array(paddedRows * paddedCols)
    for (let r = 0; r < rows; r++) padded.set(values.subarray(r * cols, (r + 1) * cols), r * paddedCols)
    const params = {rows, cols, paddedRows, paddedCols}
    const [got] = await runKernel(gpu!, packF16Exact, params, [values], [(paddedRows * paddedCols) / 2])
    expect(Array.from(new Int32Array(got.buffer))).toEqual(Array.from(packF16(padded)))
  })
})
