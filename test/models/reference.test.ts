import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import type {Backend} from '../../src/backend/backend.js'
import {CpuBackend} from '../../src/backend/cpu.js'
import {SafetensorsFile} from '../../src/io/safetensors/reader.js'
import {loadTeacher} from '../../src/models/load.js'
import {forwardIds} from '../../src/models/run-forward.js'
import {webgpuBackend} from '../helpers/backends.js'
import {relativeError} from '../helpers/compare.js'
import {fixtureReference} from '../helpers/paths.js'

/** Every reference folder, each made with transformers by scripts/make-references.py. */
const folders = [
  join(fixtureReference, 'llama-tiny'),
  join(fixtureReference, 'phi-tiny'),
  ...['llama-rope-llama3', 'llama-tied-headdim', 'phi-partial04', 'llama-sharded-bf16'].map((n) => join(fixtureReference, n)),
]

async function readReference(folder: string) {
  const file = await SafetensorsFile.open(join(folder, 'reference.safetensors'))
  try {
    const ids = await file.read('input_ids')
    const logits = await file.readF32('logits')
    const hidden: Float32Array[] = []
    for (let i = 0; file.has(`hidden_states.${i}`); i++) hidden.push(await file.readF32(`hidden_states.${i}`))
    return {ids: ids.data as Int32Array, shape: ids.shape, logits, hidden}
  } finally {
    await file.close()
  }
}

async function expectMatchesReference(folder: string, backend: Backend): Promise<void> {
  const model = await loadTeacher(folder, backend)
  const ref = await readReference(folder)
  const out = await forwardIds(model, backend, ref.ids, ref.shape)
  expect(relativeError(out.logits.data, ref.logits)).toBeLessThan(1e-4)
  expect(out.hiddenStates.length).toBe(ref.hidden.length)
  out.hiddenStates.forEach((h, i) => {
    expect(relativeError(h.data, ref.hidden[i]), `hidden_states.${i}`).toBeLessThan(1e-4)
  })
  for (const w of model.weights.values()) w.dispose()
}

describe('teacher forward reproduces transformers', () => {
  for (const folder of folders) {
    const name = folder.split('/').slice(-1)[0]
    it(`${name} on CPU`, () => expectMatchesReference(folder, new CpuBackend()))
    it(`${name} on WebGPU`, async () => {
      const gpu = await webgpuBackend()
      if (gpu) await expectMatchesReference(folder, gpu)
    })
  }
})
