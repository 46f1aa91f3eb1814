/**
 * Everything the transformers check of `hybridize export --format transformers-mamba2` needs from
 * Node, made on this machine so that the GPU machine only runs Python: a pure Mamba-2 student of a
 * fixture teacher (rewrite keeping no heads, then made to fit as test/export/exportable-student.ts
 * does), its export, random input_ids and the logits `hybridize forward` computes for the student.
 *
 *   npx vite-node scripts/make-mamba2-export-check.ts -- [teacher, default fixtures/llama-tiny] [out, default mamba2-check]
 *   python3 scripts/check-mamba2-export.py mamba2-check/hf mamba2-check/ids.safetensors mamba2-check/ours.safetensors
 *
 * (out is untracked and not ignored, so a device call carries it with the working tree.)
 */
import {mkdir, readFile, rm} from 'node:fs/promises'
import {join, resolve} from 'node:path'
import {CpuBackend} from '../src/backend/cpu.js'
import {exportTransformersMamba2} from '../src/export/transformers-mamba2.js'
import {writeSafetensors} from '../src/io/safetensors/writer.js'
import {loadModel} from '../src/models/load-model.js'
import {forwardIds} from '../src/models/run-forward.js'
import {rewrite} from '../src/rewrite/rewrite.js'
import {exportableMamba2Student} from '../test/export/exportable-student.js'
import {Rng} from '../test/helpers/random.js'
import {writeHeadsJson} from '../test/rewrite/helpers.js'

const [teacher = 'fixtures/llama-tiny', out = 'mamba2-check'] = process.argv.slice(2).filter((a) => a !== '--')
await rm(out, {recursive: true, force: true})
await mkdir(out, {recursive: true})
const config = JSON.parse(await readFile(join(teacher, 'config.json'), 'utf8'))
const heads = await writeHeadsJson(out, resolve(teacher), config.num_hidden_layers, config.num_attention_heads, [])
await rewrite({teacherFolder: teacher, headsPath: heads, choice: {kind: 'selected'}, mixer: {kind: 'mamba2'}, out: join(out, 'rewritten'), command: 'make-mamba2-export-check'})
const student = await exportableMamba2Student(join(out, 'rewritten'), join(out, 'student'))
await exportTransformersMamba2(student, join(out, 'hf'))

const rng = new Rng(0)
const shape = [2, 64]
const ids = Int32Array.from({length: shape[0] * shape[1]}, () => rng.int(0, config.vocab_size - 1))
await writeSafetensors(join(out, 'ids.safetensors'), [{name: 'input_ids', dtype: 'I32', shape, data: ids}])
const backend = new CpuBackend({description: 'cpu'})
const {logits} = await forwardIds(await loadModel(student, backend), backend, ids, shape)
await writeSafetensors(join(out, 'ours.safetensors'), [{name: 'logits', dtype: 'F32', shape: logits.shape, data: logits.data}])
backend.destroy()
console.log(`python3 scripts/check-mamba2-export.py ${join(out, 'hf')} ${join(out, 'ids.safetensors')} ${join(out, 'ours.safetensors')}`)
