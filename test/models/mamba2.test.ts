import {resolve} from 'node:path'
import {describe, expect, it} from 'vitest'
import type {Backend} from '../../src/backend/backend.js'
import {fromArray, scopeAsync} from '../../src/engine/tensor.js'
import {openCheckpoint} from '../../src/io/safetensors/checkpoint.js'
import {loadMamba2} from '../../src/models/mamba2.js'
import {cpuBackend, webgpuBackend} from '../helpers/backends.js'
import {relativeError} from '../helpers/compare.js'
import {fixtureReference} from '../helpers/paths.js'

/** Mamba2ForCausalLM (fixtures/reference/mamba2-tiny) against what transformers computed for it. */
const folder = resolve(fixtureReference, 'mamba2-tiny')
const gpu = await webgpuBackend()

async function compare(backend: Backend): Promise<void> {
  const ref = await openCheckpoint(resolve(folder, 'reference.safetensors'))
  const ids = (await ref.read('input_ids')).data as Int32Array
  const model = await loadMamba2(folder, backend)
  const {logits, hidden} = await scopeAsync(async () => {
    const out = model.forward(fromArray(backend, ids, ref.shape('input_ids')), {hiddenStates: true})
    return {logits: await out.logits.toFloat32(), hidden: await Promise.all(out.hiddenStates!.map((h) => h.toFloat32()))}
  })
  const err = relativeError(logits, await ref.readF32('logits'))
  expect(err, `logits relative error ${err.toExponential(2)} on ${backend.name}`).toBeLessThan(1e-4)
  expect(hidden).toHaveLength(3)
  for (const [i, h] of hidden.entries()) {
    const e = relativeError(h, await ref.readF32(`hidden_states.${i}`))
    expect(e, `hidden_states.${i} relative error ${e.toExponential(2)}`).toBeLessThan(1e-4)
  }
  await ref.close()
}

describe('Mamba2ForCausalLM checkpoints', () => {
  it('reproduce transformers\' logits and hidden states on the CPU', async () => {
    await compare(cpuBackend())
  })

  it.skipIf(!gpu)('and on WebGPU', async () => {
    await compare(gpu!)
  })
})
