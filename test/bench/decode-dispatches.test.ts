import {describe, expect, it} from 'vitest'
import {decodeStepLaunches, type StepModel} from '../../bench/decode-dispatches.js'
import type {MatmulParams} from '../../src/kernels/matmul.js'

describe('what a decode step launches at Llama-3.2-1B shapes (8k context)', () => {
  for (const kind of ['teacher', 'hybrid', 'ssm'] as StepModel[]) {
    it(`${kind}: at batch 1 and 64 every linear layer runs the few-rows matmul over N/8 workgroups, not 64-row tiles over N/64`, () => {
      for (const batch of [1, 64]) {
        const matmuls = decodeStepLaunches(kind, batch, 8192).filter((l) => l.kernel === 'matmul')
        // 16 layers' projections and MLPs, and the LM head.
        expect(matmuls.length).toBeGreaterThan(16 * 3)
        for (const l of matmuls) expect(l.variant, `${kind} batch ${batch}`).toMatch(/^v3:/)
        // The narrowest full-width projection (k or v, 512 wide) and the LM head (128,256 wide).
        const widths = matmuls.map((l) => l.workgroups)
        if (kind === 'teacher') expect(Math.min(...widths)).toBe(512 / 8 * Math.ceil(batch / 8))
        expect(Math.max(...widths)).toBe(128256 / 8 * Math.ceil(batch / 8))
      }
    })
  }

  it('at batch 128 the tiles come back: each weight is read once for all rows', () => {
    expect(decodeStepLaunches('teacher', 128, 8192).filter((l) => l.kernel === 'matmul').every((l) => !l.variant.startsWith('v3:'))).toBe(true)
  })

  it('at batches of 256 to 1024 every linear 2048 or more wide and deep gives the GPU at least 128 workgroups (256x128 tiles gave 16 to 64)', () => {
    for (const kind of ['teacher', 'hybrid', 'ssm'] as StepModel[]) {
      for (const batch of [256, 512, 1024]) {
        const wide = decodeStepLaunches(kind, batch, 1024).filter((l) => l.kernel === 'matmul' && (l.params as MatmulParams).n >= 2048 && (l.params as MatmulParams).k >= 2048)
        expect(wide.length).toBeGreaterThan(16)
        for (const l of wide) expect(l.workgroups, `${kind} batch ${batch} ${l.variant}`).toBeGreaterThanOrEqual(128)
      }
    }
  })
})
