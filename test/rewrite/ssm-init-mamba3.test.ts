import {describe, expect, it} from 'vitest'
import type {TeacherConfig} from '../../src/models/config.js'
import {mamba3Dims, type Mamba3Config} from '../../src/models/mixers/mamba3.js'
import {ssmFromAttention} from '../../src/rewrite/ssm-init.js'

/**
 * Mamba-3 MIMO born from attention: in_proj's B and C rows follow mamba_ssm's (rank, group, n)
 * layout, so the block for rank r and group (= query head) h holds the first N rows of that head's
 * K (its key/value head under GQA) and Q.
 */
describe('Mamba-3 MIMO init from attention lays B and C out as (rank, group, n)', () => {
  it('B from K (GQA-expanded), C from Q, per rank and head', () => {
    const [Hq, Hkv, D, C, N, R] = [4, 2, 4, 3, 3, 2]
    const teacher = {numHeads: Hq, numKvHeads: Hkv, headDim: D, hiddenSize: C} as TeacherConfig
    const cfg: Mamba3Config = {kind: 'mamba3', hiddenSize: C, heads: Hq, headDim: D, stateDim: N, groups: Hq, mimoRank: R, rotaryAngles: 1, aFloor: 1e-4, outNorm: false, normEps: 1e-5, bias: false, chunk: 4}
    // Each row of Q and K holds its own (source, row) code, so a misplaced row shows.
    const rows = (n: number, code: number): Float32Array => Float32Array.from({length: n * C}, (_, i) => code + Math.floor(i / C))
    const q = rows(Hq * D, 1000)
    const k = rows(Hkv * D, 2000)
    const w = ssmFromAttention(cfg, 'in_proj.weight', {teacher, q, k, v: rows(Hkv * D, 3000), o: new Float32Array(C * Hq * D)})
    const inner = Hq * D
    const bc = R * Hq * N
    expect(w.length).toBe(mamba3Dims(cfg).proj * C)
    for (let r = 0; r < R; r++) {
      for (let h = 0; h < Hq; h++) {
        for (let n = 0; n < N; n++) {
          const row = (r * Hq + h) * N + n
          expect(w[(2 * inner + row) * C], `B rank ${r} head ${h} row ${n}`).toBe(2000 + Math.floor(h / (Hq / Hkv)) * D + n)
          expect(w[(2 * inner + bc + row) * C], `C rank ${r} head ${h} row ${n}`).toBe(1000 + h * D + n)
        }
      }
    }
  })
})
