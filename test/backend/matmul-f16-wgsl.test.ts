import {create} from 'webgpu'
import {describe, expect, it} from 'vitest'
import {matmulF16Versions, type MatmulF16VersionParams} from '../../dev/kernels/matmul-f16.js'
import {DEFAULT_TC_TILE} from '../../src/kernels/matmul-f16.js'

// Held for the whole file: an instance collected while its device lives takes the process down.
const nullGpu = create(['backend=null', 'enable-dawn-features=allow_unsafe_apis'])

/**
 * The tensor-core WGSL validated by Dawn's null backend (no execution, full WGSL validation): the
 * test machines' llvmpipe has no subgroup matrices, so matmul-f16.test.ts runs these versions only
 * where a device offers them (the H200's `--check` runs them all).
 */
describe('f16 matmul on tensor cores: WGSL', () => {
  it('the tensor-core WGSL compiles (Dawn null backend: no execution, full WGSL validation)', async () => {
    const adapter = await nullGpu.requestAdapter()
    expect(adapter, 'Dawn null adapter').toBeTruthy()
    const device = await adapter!.requestDevice({requiredFeatures: ['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix' as GPUFeatureName]})
    const deep = {subgroupsM: 2, subgroupsN: 4, fragmentsM: 4, fragmentsN: 2, stageK: 64}
    const variants: Pick<MatmulF16VersionParams, 'tensorCores' | 'version'>[] = [
      ...([2, 3, 4, 5, 6] as const).map((version) => ({tensorCores: {subgroupSize: 32, tile: DEFAULT_TC_TILE}, version})),
      {tensorCores: {subgroupSize: 32, tile: deep}, version: 4},
      {tensorCores: {subgroupSize: 32, tile: deep}, version: 6},
    ]
    for (const variant of variants) {
      for (const transB of [false, true]) {
        const code = matmulF16Versions.gpu.code({m: 256, n: 256, k: 64, transB, ...variant})
        const {messages} = await device.createShaderModule({code}).getCompilationInfo()
        expect(messages.map((m) => `${m.type}: ${m.message}`), `${JSON.stringify(variant)} transB ${transB}`).toEqual([])
      }
    }
    device.destroy()
  })
})
