import {empty} from '../../src/engine/tensor.js'
import type {Kernel} from '../../src/kernels/kernel.js'
import {instance, random} from '../../bench/cases.js'
import type {BenchCase} from '../../bench/runner.js'

/** One kernel launched directly with a version (and tile) forced, on random inputs: `name [label]`. */
export function kernelCase<P>(name: string, label: string, kernel: Kernel<P>, params: P, inputShapes: number[][], outputSizes: number[], flops: number, bytes: number): BenchCase {
  return {
    name: `${name} [${label}]`,
    make(backend) {
      const inputs = inputShapes.map((shape, i) => random(backend, shape, 100 + i))
      const run = (): void => {
        const outs = outputSizes.map((n) => empty(backend, [n]))
        backend.run(kernel, params, inputs.map((t) => t.storage), outs.map((t) => t.storage))
      }
      return instance('', inputs, run, flops, bytes)
    },
  }
}

/** The attention shape the version history was measured at (a Llama-3.2-1B layer at T = 2048). */
export const ATTN = {batch: 1, tq: 2048, tk: 2048, hq: 32, hkv: 8, d: 64}
export const attnFlops = (passes: number): number => passes * 2 * ATTN.batch * ATTN.hq * ATTN.tq * ATTN.tk * ATTN.d / 2
export const qShape = [ATTN.batch, ATTN.tq, ATTN.hq, ATTN.d]
export const kvShape = [ATTN.batch, ATTN.tk, ATTN.hkv, ATTN.d]
export const qSize = ATTN.batch * ATTN.tq * ATTN.hq * ATTN.d
export const kvSize = ATTN.batch * ATTN.tk * ATTN.hkv * ATTN.d
