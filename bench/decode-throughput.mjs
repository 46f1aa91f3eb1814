#!/usr/bin/env node
// Decode speed and memory of a teacher and two hybrid students, through `hybridize eval --tasks throughput`.
// The teacher is a randomly initialised Llama (hidden 256, 4 layers, 8 query / 4 key-value heads of 32,
// vocabulary 4096): speed does not depend on what the weights learned. The students are its rewrites
// with discrete Mamba-2 mixers, one keeping 4 of the 32 heads as attention, one keeping none.
// Usage (after npm run build): node bench/decode-throughput.mjs [--device cpu|webgpu] [--seq-len 512] [--batch-size 4] [--out DIR]
import {execFileSync} from 'node:child_process'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {parseArgs} from 'node:util'
import {writeCheckpoint} from '../dist/io/safetensors/writer.js'
import {expectedTeacherWeights} from '../dist/models/teacher-weights.js'
import {parseTeacherConfig} from '../dist/models/config.js'
import {rewrite} from '../dist/rewrite/rewrite.js'
import {Random} from '../dist/util/random.js'

const {values: args} = parseArgs({options: {device: {type: 'string', default: 'cpu'}, 'seq-len': {type: 'string', default: '512'}, 'batch-size': {type: 'string', default: '4'}, out: {type: 'string'}}})

const CONFIG = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 4096, hidden_size: 256, intermediate_size: 768,
  num_hidden_layers: 4, num_attention_heads: 8, num_key_value_heads: 4, head_dim: 32, hidden_act: 'silu', rms_norm_eps: 1e-5,
  rope_theta: 10000, tie_word_embeddings: false, max_position_embeddings: 4096, bos_token_id: 1, eos_token_id: 2,
}

const root = await mkdtemp(join(tmpdir(), 'hybridize-decode-bench-'))
try {
  const teacher = join(root, 'teacher')
  const rng = new Random(1)
  const normal = () => Math.sqrt(-2 * Math.log(1 - rng.float())) * Math.cos(2 * Math.PI * rng.float())
  const tensors = [...expectedTeacherWeights(parseTeacherConfig(CONFIG))].map(([name, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1)
    const data = name.endsWith('norm.weight') ? new Float32Array(n).fill(1) : Float32Array.from({length: n}, () => 0.02 * normal())
    return {name, dtype: 'F32', shape, data}
  })
  await writeCheckpoint(teacher, tensors)
  await writeFile(join(teacher, 'config.json'), JSON.stringify(CONFIG))

  const students = {'keep 4 heads': [[0, 1], [1, 5], [2, 2], [3, 6]], 'keep 0 heads': []}
  const folders = ['teacher']
  for (const [name, selected] of Object.entries(students)) {
    const heads = []
    for (let l = 0; l < 4; l++) for (let h = 0; h < 8; h++) heads.push({layer: l, head: h, drop: selected.some(([a, b]) => a === l && b === h) ? 1 : 0, gather: 0, aggregate: 0})
    const headsPath = join(root, `${name}.heads.json`)
    await writeFile(headsPath, JSON.stringify({model: {id: teacher, revision: null, num_layers: 4, num_heads: 8}, task: {name: 'kv-retrieval'}, heads, selected}))
    const out = name.replace(/ /g, '-')
    await rewrite({teacherFolder: teacher, headsPath, choice: {kind: 'selected'}, mixer: {kind: 'discrete-mamba2', dState: 16}, out: join(root, out), command: 'bench'})
    folders.push(out)
  }

  // Run from the temporary folder so the models are named 'teacher', 'keep-4-heads', ... in tables and charts.
  const evalArgs = [resolve('bin/run.js'), 'eval', ...folders, '--tasks', 'throughput', '--device', args.device, '--seq-len', args['seq-len'], '--batch-size', args['batch-size'], '--json', '--quiet']
  if (args.out) evalArgs.push('--output-path', resolve(args.out))
  const result = JSON.parse(execFileSync(process.execPath, evalArgs, {cwd: root, encoding: 'utf8', maxBuffer: 1 << 26}))
  const names = ['teacher', ...Object.keys(students)]
  const metrics = result.models.map((m) => m.results[0].metrics)
  const keys = Object.keys(metrics[0])
  console.log(`| metric | ${names.join(' | ')} |`)
  console.log(`|---|${names.map(() => '---:').join('|')}|`)
  for (const key of keys) console.log(`| ${key} | ${metrics.map((m) => (m[key] === undefined ? '-' : Math.round(m[key]).toLocaleString('en-US'))).join(' | ')} |`)
} finally {
  await rm(root, {recursive: true, force: true})
}
