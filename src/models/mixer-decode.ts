import type {Tensor} from '../engine/tensor.js'
import type {SsmLayerCache} from './decode-cache.js'
import type {SsmMixer} from './mixers/mixer.js'

/**
 * A mixer over new tokens x [B, T, C] continuing from the layer's cached state, which then holds
 * the state after them: the recurrent step for one token, the chunked scan for a prefill.
 */
export function mixCached(mixer: SsmMixer, x: Tensor, layer: SsmLayerCache): Tensor {
  const [B, T, C] = x.shape
  if (T === 1) {
    const r = mixer.step(x.reshape([B, C]), layer.state)
    layer.update(r.state as object)
    return r.out.reshape([B, 1, C])
  }
  const r = mixer.forward(x, {state: layer.state, returnState: true})
  layer.update(r.state as object)
  return r.out
}
