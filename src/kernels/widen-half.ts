import {halfValue, wgslHalfLoad} from './half-precision.js'
import type {HalfDType, Kernel} from './kernel.js'
import {bindings, flatDispatch, flatShader, type UniformFields} from './wgsl.js'

/**
 * Half-precision weights (bf16 or f16 patterns, two to a word) widened to f32 values, exactly: what
 * mixed precision's f16 copy of such a weight starts from (engine/half-weight-cache.ts), made once.
 *   x [ceil(n / 2)] packed halves -> out [n] f32
 */
export interface WidenHalfParams {
  n: number
  dtype: HalfDType
}

const fields = (p: WidenHalfParams): UniformFields => [['count', p.n]]

export const widenHalf: Kernel<WidenHalfParams> = {
  name: 'widen_half',
  cpu: (p, [x], [out]) => {
    const value = halfValue(p.dtype)
    for (let i = 0; i < p.n; i++) out[i] = value(x[i])
  },
  gpu: {
    key: (p) => p.dtype,
    code: (p) => flatShader(`${bindings(['x: array<u32>'], ['out: array<f32>'], fields(p))}\n${wgslHalfLoad('load', 'x', p.dtype)}`, '  out[i] = load(i);'),
    dispatch: (p) => flatDispatch(p.n, fields(p)),
  },
}
