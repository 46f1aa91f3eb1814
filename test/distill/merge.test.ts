import {mkdtemp, readFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {openCheckpoint} from '../../src/io/safetensors/checkpoint.js'
import {mergeRuns} from '../../src/distill/merge.js'
import {readMetrics} from '../../src/distill/metrics.js'
import {runTiny, tinySettings} from './harness.js'
import {writeTinyPair} from './tiny-models.js'

let dir: string
let dirs: Awaited<ReturnType<typeof writeTinyPair>>

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hybridize-merge-'))
  dirs = await writeTinyPair(dir)
})

async function weightsOf(folder: string): Promise<Map<string, Float32Array>> {
  const ckpt = await openCheckpoint(folder)
  const out = new Map<string, Float32Array>()
  for (const name of ckpt.names()) out.set(name, await ckpt.readF32(name))
  await ckpt.close()
  return out
}

describe('layers in parallel', () => {
  it('stages 1-2 over layer 0 and over layer 1, merged, equal one run over both', async () => {
    const base = {stages: [1, 2] as (1 | 2)[], tokens: [128 * 3, 128 * 3], lr: [1e-2, 1e-2]}
    await runTiny(tinySettings(dirs, base), join(dir, 'all'))
    await runTiny(tinySettings(dirs, {...base, layers: [0]}), join(dir, 'layer0'))
    await runTiny(tinySettings(dirs, {...base, layers: [1]}), join(dir, 'layer1'))
    const result = await mergeRuns([join(dir, 'layer0'), join(dir, 'layer1')], join(dir, 'merged'))
    expect(result.layers).toEqual({0: join(dir, 'layer0'), 1: join(dir, 'layer1')})
    expect(result.untrained).toEqual([])

    const merged = await weightsOf(join(dir, 'merged'))
    const all = await weightsOf(join(dir, 'all/student'))
    const initial = await weightsOf(dirs.student)
    expect([...merged.keys()].sort()).toEqual([...all.keys()].sort())
    for (const [name, w] of all) expect(Array.from(merged.get(name)!), name).toEqual(Array.from(w))
    // The comparison has teeth: training moved the mixers of both layers.
    for (const l of [0, 1]) expect(merged.get(`model.layers.${l}.ssm.in_proj.weight`)).not.toEqual(initial.get(`model.layers.${l}.ssm.in_proj.weight`))
    expect(await readFile(join(dir, 'merged/config.json'), 'utf8')).toBe(await readFile(dirs.student + '/config.json', 'utf8'))
    // Per-layer losses of the single-layer runs are those of the joint run.
    const joint = await readMetrics(join(dir, 'all'))
    const alone = await readMetrics(join(dir, 'layer1'))
    expect(alone.map((m) => m.layer_loss!['1'])).toEqual(joint.map((m) => m.layer_loss!['1']))
    // Its card and provenance describe the merge, not the first run alone (which trained layer 0 only).
    const provenance = JSON.parse(await readFile(join(dir, 'merged/provenance.json'), 'utf8'))
    expect(provenance).toMatchObject({tool: 'hybridize merge', dtype: 'F32', layers: result.layers, untrained: []})
    expect(provenance.runs.map((r: {student: {tool: string; distillation: {layers: number[]}}}) => [r.student.tool, r.student.distillation.layers])).toEqual([['hybridize distill', [0]], ['hybridize distill', [1]]])
    const card = await readFile(join(dir, 'merged/README.md'), 'utf8')
    expect(card).toMatch(/^# Merged distilled hybrid\n/)
    expect(card).toContain(`| 1 | \`${join(dir, 'layer1')}\` |`)
  })

  it('refuses runs that trained the same layer, or ran stage 3', async () => {
    await expect(mergeRuns([join(dir, 'layer0'), join(dir, 'all')], join(dir, 'bad'))).rejects.toThrow(/layer 0 was trained by both/)
    await runTiny(tinySettings(dirs, {stages: [3], tokens: [128], lr: [1e-3]}), join(dir, 'stage3'))
    await expect(mergeRuns([join(dir, 'layer0'), join(dir, 'stage3')], join(dir, 'bad'))).rejects.toThrow(/ran stage 3/)
  })
})
