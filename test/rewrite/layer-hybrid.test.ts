import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {fromArray, scopeAsync} from '../../src/engine/tensor.js'
import {openCheckpoint} from '../../src/io/safetensors/checkpoint.js'
import {parseHybridConfig} from '../../src/models/hybrid-config.js'
import {loadHybrid} from '../../src/models/hybrid.js'
import {loadTeacher} from '../../src/models/load.js'
import {hybridSequenceMemory} from '../../src/models/memory.js'
import {rewrite} from '../../src/rewrite/rewrite.js'
import {cpuBackend} from '../helpers/backends.js'
import {fixtureReference} from '../helpers/paths.js'
import {writeHeadsJson} from './helpers.js'

/**
 * A layer-level hybrid (the hybrids retrieval-aware distillation compares against: whole layers of
 * attention among SSM layers) is a heads.json naming every head of some layers. Such a layer must be
 * the teacher's attention layer and nothing else: no SSM beside it, no adapter, its KV cache the
 * teacher's grouped one, and no SSM state counted for it.
 */
const teacher = resolve(fixtureReference, 'llama-tiny')
let root: string
let student: string

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'hybridize-layer-hybrid-'))
  const cfg = JSON.parse(await readFile(join(teacher, 'config.json'), 'utf8'))
  // Layer 0 keeps every head, layer 1 none.
  const layer0 = Array.from({length: cfg.num_attention_heads}, (_, h): [number, number] => [0, h])
  const heads = await writeHeadsJson(root, teacher, cfg.num_hidden_layers, cfg.num_attention_heads, layer0)
  student = join(root, 'layer-hybrid')
  await rewrite({teacherFolder: teacher, headsPath: heads, choice: {kind: 'selected'}, mixer: {kind: 'discrete-mamba2'}, out: student, command: 'test'})
})

afterAll(async () => {
  await rm(root, {recursive: true, force: true})
})

describe('a layer-level hybrid (every head of layer 0, none of layer 1)', () => {
  it('writes layer 0 as the teacher\'s attention: its weights byte for byte, no SSM, no adapter', async () => {
    const s = await openCheckpoint(student)
    const t = await openCheckpoint(join(teacher, 'model.safetensors'))
    const names = s.names()
    expect(names.filter((n) => n.startsWith('model.layers.0.') && /\.(ssm|adapter)\./.test(n))).toEqual([])
    expect(names.some((n) => n.startsWith('model.layers.1.ssm.'))).toBe(true)
    for (const n of names.filter((n) => n.startsWith('model.layers.0.self_attn.'))) {
      expect(s.shape(n), n).toEqual(t.shape(n))
      expect(Array.from(await s.readF32(n)), n).toEqual(Array.from(await t.readF32(n)))
    }
    await Promise.all([s.close(), t.close()])
  })

  it('runs layer 0 as the teacher does: the residual stream after it is the teacher\'s', async () => {
    const backend = cpuBackend()
    const [hybrid, original] = await Promise.all([loadHybrid(student, backend), loadTeacher(teacher, backend)])
    expect(hybrid.layerKind(0)).toBe('attention')
    expect(hybrid.mixers[0]).toBeUndefined()
    const ids = Int32Array.from({length: 2 * 12}, (_, i) => (i * 37 + 5) % hybrid.config.teacher.vocabSize)
    const [mine, theirs] = await scopeAsync(async () => {
      const x = fromArray(backend, ids, [2, 12])
      return [await hybrid.hiddenStates(x, 1)[1].toFloat32(), await original.hiddenStates(x, 1)[1].toFloat32()]
    })
    expect(mine.length).toBe(theirs.length)
    let worst = 0
    for (let i = 0; i < mine.length; i++) worst = Math.max(worst, Math.abs(mine[i] - theirs[i]))
    expect(worst).toBeLessThan(1e-5)
    // Layer 1 is an SSM: the stream after it differs.
    const [after1, teacherAfter1] = await scopeAsync(async () => {
      const x = fromArray(backend, ids, [2, 12])
      return [await hybrid.hiddenStates(x, 2)[2].toFloat32(), await original.hiddenStates(x, 2)[2].toFloat32()]
    })
    expect(after1.some((v, i) => Math.abs(v - teacherAfter1[i]) > 1e-3)).toBe(true)
  })

  it('holds per sequence the teacher\'s KV cache of layer 0 and the SSM state of layer 1 only', async () => {
    const cfg = parseHybridConfig(JSON.parse(await readFile(join(student, 'config.json'), 'utf8')))
    const t = cfg.teacher
    const m = hybridSequenceMemory(cfg, 4096, 2)
    expect(m.kvCacheBytes).toBe(2 * 4096 * t.numKvHeads * t.headDim * 2)
    // discrete Mamba-2: H heads of P = head dim, state N = head dim by default, one SSM layer.
    expect(m.ssmStateBytes).toBe(t.numHeads * t.headDim * t.headDim * 2)
  })
})
