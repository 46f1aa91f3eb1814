import {describe, expect, it} from 'vitest'
import {chunkMixFast} from '../../src/backend/cpu-ssd/chunk-mix-fast.js'
import {chunkCount, ssdChunkCumsum} from '../../src/kernels/ssd-chunk.js'
import {chunkMixCpu, type ChunkMixParams} from '../../src/kernels/ssd-mix.js'
import {Random} from '../../src/util/random.js'

/** The CPU backend's fast chunk mix against the reference loop: the same sums in the same order, so equal to the bit. */
describe('fast CPU chunk mix', () => {
  const shapes = [
    // batch, seq, heads, chunk, q heads (= k heads), q dim, v heads, v dim
    [1, 1, 1, 4, 1, 3, 1, 5],
    [2, 37, 4, 16, 1, 16, 4, 8],
    [1, 64, 6, 64, 2, 7, 6, 16],
    [3, 50, 4, 128, 4, 16, 2, 4],
    [2, 200, 8, 64, 8, 16, 8, 16],
  ] as const
  for (const [batch, seq, heads, chunk, qHeads, qDim, vHeads, vDim] of shapes) {
    for (const anticausal of [false, true]) {
      for (const stateLayout of ['ij', 'ji'] as const) {
        it(`B=${batch} T=${seq} H=${heads} Q=${chunk} q ${qHeads}x${qDim} v ${vHeads}x${vDim} ${anticausal ? 'anticausal' : 'causal'} ${stateLayout}`, () => {
          const p: ChunkMixParams = {batch, seq, heads, chunk, q: {heads: qHeads, dim: qDim}, k: {heads: qHeads, dim: qDim}, v: {heads: vHeads, dim: vDim}, anticausal, stateLayout}
          const rng = new Random(batch * 1000 + seq)
          const rand = (n: number) => Float32Array.from({length: n}, () => rng.float() - 0.5)
          // In-chunk log-decay cumsums that fall from 0, as a scan's do.
          const acs = new Float32Array(batch * heads * seq)
          ssdChunkCumsum.cpu(p, [Float32Array.from({length: batch * seq * heads}, () => -0.1 * rng.float())], [acs])
          const inputs = [rand(batch * seq * qHeads * qDim), rand(batch * seq * qHeads * qDim), rand(batch * seq * vHeads * vDim), acs, rand(batch * heads * chunkCount(p) * qDim * vDim)]
          const want = new Float32Array(batch * seq * heads * vDim).fill(NaN)
          const got = new Float32Array(want.length).fill(NaN)
          chunkMixCpu(p, inputs, [want])
          chunkMixFast(p, inputs, [got])
          expect(want.some(Number.isNaN)).toBe(false)
          expect(Array.from(got)).toEqual(Array.from(want))
        })
      }
    }
  }
})
