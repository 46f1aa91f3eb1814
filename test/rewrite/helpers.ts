import {writeFile} from 'node:fs/promises'
import {join} from 'node:path'

/**
 * A heads.json laid out as find-heads writes it (src/heads/heads-file.ts): the model, every head
 * ranked with its drop, the selected heads. The selected heads rank first, in the order given.
 */
export async function writeHeadsJson(
  dir: string,
  model: string,
  layers: number,
  heads: number,
  selected: [number, number][],
  name = 'heads.json',
  extra: {weightsSha256?: string} = {},
): Promise<string> {
  const scored = []
  for (let l = 0; l < layers; l++) {
    for (let h = 0; h < heads; h++) {
      const pick = selected.findIndex(([a, b]) => a === l && b === h)
      scored.push({layer: l, head: h, drop: pick >= 0 ? 0.9 - pick / 100 : 0.01 * ((l * heads + h) % 7), logprob_drop: 0, gather: 0, aggregate: 0})
    }
  }
  scored.sort((a, b) => b.drop - a.drop)
  const ranked = scored.map((s, i) => ({rank: i + 1, ...s}))
  const path = join(dir, name)
  const modelJson = {id: model, revision: null, ...(extra.weightsSha256 ? {weights_sha256: extra.weightsSha256} : {}), layers, heads, kvHeads: heads}
  await writeFile(path, JSON.stringify({format: 'hybridize-heads/1', model: modelJson, task: {name: 'kv-retrieval'}, selected, heads: ranked}, null, 2))
  return path
}

export function allHeads(layers: number, heads: number): [number, number][] {
  return Array.from({length: layers * heads}, (_, i) => [Math.floor(i / heads), i % heads] as [number, number])
}
