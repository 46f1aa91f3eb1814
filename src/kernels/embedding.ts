import {halfValue, wgslHalfLoad} from './half-precision.js'
import type {HalfDType, Kernel} from './kernel.js'
import {bindings, flatDispatch, flatShader, type UniformFields} from './wgsl.js'

/**
 * out[i, :] = table[ids[i], :]. ids: [n] i32, table: [vocab, dim], out: [n, dim].
 * The CPU throws on an id outside the vocabulary; the GPU cannot, so it writes NaN rows there.
 */
export interface EmbeddingParams {
  n: number
  dim: number
  vocab: number
  /** The table holds half-precision patterns; the rows gathered come out f32. */
  tableDtype?: HalfDType
}

const embeddingUniforms = (p: EmbeddingParams): UniformFields => [['count', p.n * p.dim], ['dim', p.dim], ['vocab', p.vocab], ['nan', {f: NaN}]]

export const embedding: Kernel<EmbeddingParams> = {
  name: 'embedding',
  cpu: ({n, dim, vocab, tableDtype}, [ids, table], [out]) => {
    const value = tableDtype ? halfValue(tableDtype) : undefined
    for (let i = 0; i < n; i++) {
      const id = ids[i]
      if (id < 0 || id >= vocab) throw new RangeError(`token id ${id} is outside the vocabulary (0..${vocab - 1})`)
      const row = table.subarray(id * dim, (id + 1) * dim)
      if (value) for (let j = 0; j < dim; j++) out[i * dim + j] = value(row[j])
      else out.set(row, i * dim)
    }
  },
  gpu: {
    key: (p) => p.tableDtype ?? '',
    code: (p) =>
      flatShader(
        bindings(['ids: array<i32>', `table: array<${p.tableDtype ? 'u32' : 'f32'}>`], ['out: array<f32>'], embeddingUniforms(p)) +
          (p.tableDtype ? '\n' + wgslHalfLoad('loadTable', 'table', p.tableDtype) : ''),
        `  let row = i / u.dim;
  let id = ids[row];
  if (id < 0 || u32(id) >= u.vocab) { out[i] = u.nan; return; }
  let at = u32(id) * u.dim + (i - row * u.dim);
  out[i] = ${p.tableDtype ? 'loadTable(at)' : 'table[at]'};`,
      ),
    dispatch: (p) => flatDispatch(p.n * p.dim, embeddingUniforms(p)),
  },
}
