import {Flags} from '@oclif/core'
import {WEIGHT_DTYPES, type WeightDType} from '../models/weight-dtype.js'

/** `--dtype`, where a teacher is loaded for inference; pass its value to `loadModel` as `dtype`. */
export const dtypeFlag = Flags.option({
  options: WEIGHT_DTYPES,
  default: 'auto',
  description:
    "How a teacher's weight matrices are held: bf16 or f16 at 2 bytes a weight (compute stays f32), f32, or auto (the checkpoint's dtype when every matrix is stored bf16 or f16, else f32). Norms and biases stay f32.",
  helpGroup: 'COMPUTE',
})()

/** The stderr line that says which dtype the weights were loaded in. */
export const dtypeStatus = (dtype: WeightDType): string => `weights: ${dtype}${dtype === 'f32' ? '' : ' (2 bytes a weight matrix value, f32 compute)'}`
