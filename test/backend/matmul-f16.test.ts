import {describe, expect, it} from 'vitest'
import {castF16, f16Bits, f16Value, packF16, unpackF16} from '../../src/kernels/f16.js'
import type {Checker} from '../../dev/kernels/checks.js'
import {checkMatmulF16Versions, matmulF16Versions, type MatmulF16VersionParams} from '../../dev/kernels/matmul-f16.js'
import {DEFAULT_TC_TILE, pickF16Version, tensorCoreMultiple, tensorCoreSupport, type MatmulF16Params} from '../../src/kernels/matmul-f16.js'
import {referenceBackend, runKernel, webgpuBackend} from '../helpers/backends.js'
import {expectClose} from '../helpers/close.js'
import {Rng} from '../helpers/random.js'

const gpu = await webgpuBackend()
const cpu = referenceBackend()

describe('f16 packing', () => {
  it('rounds to nearest even, with subnormals, overflow and NaN', () => {
    const cases: [number, number][] = [
      [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [65520, 0x7c00], [-1e6, 0xfc00], [2 ** -24, 0x0001],
      [2 ** -26, 0x0000], [3 * 2 ** -25, 0x0002], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [0.1, 0x2e66], [NaN, 0x7e00],
    ]
    for (const [x, bits] of cases) expect(f16Bits(x), `f16Bits(${x})`).toBe(bits)
    for (const bits of [0x0001, 0x03ff, 0x0400, 0x3555, 0x7bff, 0xfbff]) expect(f16Bits(f16Value(bits))).toBe(bits)
    const packed = packF16([1, -2, 0.5])
    expect([0, 1, 2].map((i) => unpackF16(packed, i))).toEqual([1, -2, 0.5])
    expect(packed.length).toBe(2)
  })

  it('tensor cores only with subgroup matrices of f16 -> f32 at 16x16x16 and one subgroup size', () => {
    const config = {componentType: 'f16', resultComponentType: 'f32', M: 16, N: 16, K: 16}
    const features = ['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix']
    const subgroups = {minSize: 32, maxSize: 32, matrixConfigs: [config]}
    expect(tensorCoreSupport({features, subgroups})).toEqual({subgroupSize: 32, tile: DEFAULT_TC_TILE})
    expect(tensorCoreSupport(cpu)).toBeUndefined()
    expect(tensorCoreSupport({features: features.slice(0, 2), subgroups})).toBeUndefined()
    expect(tensorCoreSupport({features, subgroups: {...subgroups, minSize: 16}})).toBeUndefined()
    expect(tensorCoreSupport({features, subgroups: {...subgroups, matrixConfigs: [{...config, resultComponentType: 'f16'}]}})).toBeUndefined()
  })

  it('tensor cores: one padding multiple for M, N and K that fills every tile and K slice; --check runs the staged version on padded operands', async () => {
    expect(tensorCoreMultiple({subgroupSize: 32, tile: DEFAULT_TC_TILE})).toBe(128)
    expect(tensorCoreMultiple({subgroupSize: 32, tile: {subgroupsM: 2, subgroupsN: 4, fragmentsM: 4, fragmentsN: 2, stageK: 64}})).toBe(128)
    expect(tensorCoreMultiple({subgroupSize: 32, tile: {subgroupsM: 1, subgroupsN: 1, fragmentsM: 1, fragmentsN: 1}})).toBe(32)
    // The checks on a device that says it has tensor cores, run on the CPU: the padded ones pick version 6 and agree.
    const tc = {subgroupSize: 32, tile: DEFAULT_TC_TILE}
    const device = Object.assign(referenceBackend(), {features: ['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix'], subgroups: {minSize: 32, maxSize: 32, matrixConfigs: [{componentType: 'f16', resultComponentType: 'f32', M: 16, N: 16, K: 16}]}})
    expect(tensorCoreSupport(device)).toEqual(tc)
    const checked: {name: string; params: MatmulF16Params; got: ArrayLike<number>}[] = []
    const check: Checker['check'] = async (name, kernel, params, inputs, sizes) => {
      if (name.includes('padded')) checked.push({name, params: params as MatmulF16Params, got: (await runKernel(cpu, kernel, params, inputs, sizes))[0]})
    }
    await checkMatmulF16Versions({device, check, reference: (kernel, params, inputs, sizes) => runKernel(cpu, kernel, params, inputs, sizes)})
    expect(checked.map((c) => c.name)).toEqual(['matmul f16 v6 on 150x160x200 padded to 256x256x256', 'matmul f16 v6 on 150x160x200 padded to 256x256x256 Bᵀ'])
    for (const {params, got} of checked) {
      expect(pickF16Version(params)).toBe(6)
      // Rows and columns of the padding are zero: the operands' padding is.
      for (const [i, v] of Array.from(got).entries()) if (Math.floor(i / 256) >= 150 || i % 256 >= 160) expect(v).toBe(0)
    }
  })
})

describe.skipIf(!gpu)('f16 cast and matmul: WebGPU vs CPU', () => {
  it('cast: every half within one rounding of the CPU twin (odd and even lengths)', async () => {
    const rng = new Rng(16)
    for (const n of [1, 2, 7, 1000]) {
      const x = rng.floats(n, 300)
      // runKernel reads outputs back as f32: reinterpret the words.
      const got = new Int32Array((await runKernel(gpu!, castF16, {n}, [x], [Math.ceil(n / 2)]))[0].buffer)
      const want = packF16(x)
      for (let i = 0; i < n; i++) expect(Math.abs(unpackF16(got, i) - unpackF16(want, i)), `element ${i} of ${n}`).toBeLessThanOrEqual(Math.abs(x[i]) * 2 ** -10)
    }
  })

  it('matmul on every path this device has (CUDA-core fallback always; tensor cores where offered)', async () => {
    const rng = new Rng(17)
    const tc = tensorCoreSupport(gpu!)
    const paths: Pick<MatmulF16VersionParams, 'tensorCores' | 'version'>[] = [{}, ...(tc ? ([2, 3, 4, 5, 6] as const).map((version) => ({tensorCores: tc, version})) : [])]
    for (const {tensorCores, version} of paths) {
      const shapes: [number, number, number][] = tensorCores ? [[128, 64, 32], [256, 128, 96]] : [[1, 1, 1], [70, 33, 45], [128, 64, 32]]
      for (const [m, n, k] of shapes) {
        for (const transB of [false, true]) {
          const p: MatmulF16VersionParams = {m, n, k, transB, tensorCores, version}
          const inputs = [packF16(rng.floats(m * k)), packF16(rng.floats(k * n))]
          const [want] = await runKernel(cpu, matmulF16Versions, p, inputs, [m * n])
          const [got] = await runKernel(gpu!, matmulF16Versions, p, inputs, [m * n])
          expectClose(got, want, `matmul_f16 ${JSON.stringify(p)}`, {rtol: 1e-5, atol: 1e-6 * Math.max(k, 10)})
        }
      }
    }
  })
})
