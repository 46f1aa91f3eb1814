import type {Kernel} from './kernel.js'
import {bindings, flatDispatch, flatShader, type UniformFields} from './wgsl.js'

/** out[i] = value for i < n: a tensor filled on the device, with no host array the size of it to upload. */
export interface FillParams {
  n: number
  value: number
}

const fillUniforms = (p: FillParams): UniformFields => [['count', p.n], ['value', {f: p.value}]]

export const fill: Kernel<FillParams> = {
  name: 'fill',
  cpu: ({n, value}, _inputs, [out]) => void out.fill(value, 0, n),
  gpu: {
    key: () => '',
    code: (p) => flatShader(bindings([], ['out: array<f32>'], fillUniforms(p)), '  out[i] = u.value;'),
    dispatch: (p) => flatDispatch(p.n, fillUniforms(p)),
  },
}
