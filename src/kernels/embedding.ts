import type {Kernel} from './kernel.js'
import {pendingGpu} from './pending.js'

/** out[i, :] = table[ids[i], :]. ids: [n] i32, table: [vocab, dim], out: [n, dim]. */
export interface EmbeddingParams {
  n: number
  dim: number
  vocab: number
}

export const embedding: Kernel<EmbeddingParams> = {
  name: 'embedding',
  cpu: ({n, dim, vocab}, [ids, table], [out]) => {
    for (let i = 0; i < n; i++) {
      const id = ids[i]
      if (id < 0 || id >= vocab) throw new RangeError(`token id ${id} is outside the vocabulary (0..${vocab - 1})`)
      out.set(table.subarray(id * dim, (id + 1) * dim), i * dim)
    }
  },
  gpu: pendingGpu('embedding'),
}
