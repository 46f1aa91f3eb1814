import {copyFile, readdir, readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {HybridizeError} from '../errors.js'
import {withAtomicFolder} from '../io/atomic.js'
import {openCheckpoint, type Checkpoint} from '../io/safetensors/checkpoint.js'
import {writeCheckpoint} from '../io/safetensors/writer.js'
import {readRunSettings} from './run-file.js'

/**
 * Joins distillation runs that each trained some layers (`--layers`) into one student: every
 * `model.layers.<l>.*` weight comes from the run that trained layer l, everything else (embeddings,
 * final norm, LM head, layers no run trained) from the first run. The runs must share one student
 * architecture and no layer may be trained twice.
 */
export interface MergeResult {
  /** Run folder that supplied each layer. */
  layers: Record<string, string>
  /** Layers no run trained: they keep the first run's (undistilled) weights. */
  untrained: number[]
  folder: string
}

const LAYER = /^model\.layers\.(\d+)\./

export async function mergeRuns(runs: string[], out: string): Promise<MergeResult> {
  if (runs.length < 2) throw new HybridizeError('merge needs at least two distillation runs', {code: 'E_MERGE'})
  const configs = await Promise.all(runs.map((r) => readFile(join(r, 'student', 'config.json'), 'utf8').catch(() => {
    throw new HybridizeError(`${r}: no student/config.json; is it the --out folder of a finished hybridize distill run?`, {code: 'E_MERGE'})
  })))
  const differs = runs.findIndex((_, i) => JSON.stringify(JSON.parse(configs[i])) !== JSON.stringify(JSON.parse(configs[0])))
  if (differs >= 0) throw new HybridizeError(`${runs[differs]} distilled a different student than ${runs[0]} (config.json differs)`, {code: 'E_MERGE'})
  const numLayers = Number((JSON.parse(configs[0]) as {num_hidden_layers?: number}).num_hidden_layers)
  const owner = new Map<number, number>()
  for (const [i, run] of runs.entries()) {
    const settings = await readRunSettings(run)
    if (settings.stages.includes(3)) throw new HybridizeError(`${run} ran stage 3, which trains every layer at once; merge runs of stages 1 and 2 only, then run stage 3 on the merged student`, {code: 'E_MERGE'})
    const layers = settings.layers ?? [...Array(numLayers).keys()]
    for (const l of layers) {
      const before = owner.get(l)
      if (before !== undefined) throw new HybridizeError(`layer ${l} was trained by both ${runs[before]} and ${run}`, {code: 'E_MERGE'})
      owner.set(l, i)
    }
  }
  const ckpts: Checkpoint[] = []
  try {
    for (const run of runs) ckpts.push(await openCheckpoint(join(run, 'student')))
    const names = ckpts[0].names()
    const source = (name: string): Checkpoint => {
      const m = LAYER.exec(name)
      return ckpts[m ? (owner.get(Number(m[1])) ?? 0) : 0]
    }
    const layers = Object.fromEntries([...owner].sort((a, b) => a[0] - b[0]).map(([l, i]) => [String(l), runs[i]]))
    const untrained = [...Array(numLayers).keys()].filter((l) => !owner.has(l))
    await withAtomicFolder(out, async (tmp) => {
      // The runs' own README.md and provenance.json describe one run each: the merged student gets its own.
      for (const f of await readdir(join(runs[0], 'student'))) {
        if (!/\.safetensors(\.index\.json)?$|^README\.md$|^provenance\.json$/.test(f)) await copyFile(join(runs[0], 'student', f), join(tmp, f))
      }
      await writeCheckpoint(tmp, names.map((name) => ({name, dtype: 'F32' as const, shape: ckpts[0].shape(name), data: () => source(name).readF32(name)})))
      const provenance = {
        tool: 'hybridize merge',
        created: new Date().toISOString(),
        dtype: 'F32',
        layers,
        untrained,
        runs: await Promise.all(runs.map(async (run) => ({run, student: await readJson(join(run, 'student', 'provenance.json'))}))),
      }
      await writeFile(join(tmp, 'provenance.json'), JSON.stringify(provenance, null, 2) + '\n')
      await writeFile(join(tmp, 'README.md'), mergedCard(layers, untrained))
    })
    return {layers, untrained, folder: out}
  } finally {
    await Promise.all(ckpts.map((c) => c.close()))
  }
}

/** A run's provenance.json, or null when it is missing or damaged (the merge does not depend on it). */
async function readJson(file: string): Promise<unknown> {
  const text = await readFile(file, 'utf8').catch(() => undefined)
  try {
    return text === undefined ? null : JSON.parse(text) as unknown
  } catch {
    return null
  }
}

function mergedCard(layers: Record<string, string>, untrained: number[]): string {
  const rows = Object.entries(layers).map(([l, run]) => `| ${l} | \`${run}\` |`)
  return `# Merged distilled hybrid

A hybrid student joined by \`hybridize merge\` from distillation runs of MOHAWK stages 1 and 2 that
each trained some layers: every layer's weights come from the run that trained it, the embeddings,
final norm and LM head from the first run. Stage 3 has not run on it: continue with
\`hybridize distill <this folder> --stage 3\`.

- Weights: F32 safetensors.
- \`provenance.json\`: which run gave each layer, and each run's own provenance (teacher, heads kept,
  stages, tokens, data, losses).
${untrained.length > 0 ? `- Layers no run trained (still as the hybrid started): ${untrained.join(', ')}.\n` : ''}
| layer | from the run |
| --- | --- |
${rows.join('\n')}
`
}
