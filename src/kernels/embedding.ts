import type {Kernel} from './kernel.js'
import {bindings, flatDispatch, flatShader, type UniformFields} from './wgsl.js'

/**
 * out[i, :] = table[ids[i], :]. ids: [n] i32, table: [vocab, dim], out: [n, dim].
 * The CPU throws on an id outside the vocabulary; the GPU cannot, so it writes NaN rows there.
 */
export interface EmbeddingParams {
  n: number
  dim: number
  vocab: number
}

const embeddingUniforms = (p: EmbeddingParams): UniformFields => [['count', p.n * p.dim], ['dim', p.dim], ['vocab', p.vocab], ['nan', {f: NaN}]]

export const embedding: Kernel<EmbeddingParams> = {
  name: 'embedding',
  cpu: ({n, dim, vocab}, [ids, table], [out]) => {
    for (let i = 0; i < n; i++) {
      const id = ids[i]
      if (id < 0 || id >= vocab) throw new RangeError(`token id ${id} is outside the vocabulary (0..${vocab - 1})`)
      out.set(table.subarray(id * dim, (id + 1) * dim), i * dim)
    }
  },
  gpu: {
    key: () => '',
    code: (p) => flatShader(
      bindings(['ids: array<i32>', 'table: array<f32>'], ['out: array<f32>'], embeddingUniforms(p)),
      `  let row = i / u.dim;
  let id = ids[row];
  if (id < 0 || u32(id) >= u.vocab) { out[i] = u.nan; return; }
  out[i] = table[u32(id) * u.dim + (i - row * u.dim)];`,
    ),
    dispatch: (p) => flatDispatch(p.n * p.dim, embeddingUniforms(p)),
  },
}
