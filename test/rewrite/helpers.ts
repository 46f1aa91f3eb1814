import {writeFile} from 'node:fs/promises'
import {join} from 'node:path'

/** A heads.json in the shape find-heads writes: the model, every head's drop, the selected heads. */
export async function writeHeadsJson(dir: string, model: string, layers: number, heads: number, selected: [number, number][], name = 'heads.json'): Promise<string> {
  const scored = []
  for (let l = 0; l < layers; l++) {
    for (let h = 0; h < heads; h++) {
      const rank = selected.findIndex(([a, b]) => a === l && b === h)
      scored.push({layer: l, head: h, drop: rank >= 0 ? 1 - rank / 100 : 0.01 * ((l * heads + h) % 7), gather: 0, aggregate: 0})
    }
  }
  const path = join(dir, name)
  await writeFile(path, JSON.stringify({model: {id: model, revision: null, num_layers: layers, num_heads: heads}, task: {name: 'kv-retrieval'}, heads: scored, selected}, null, 2))
  return path
}

export function allHeads(layers: number, heads: number): [number, number][] {
  return Array.from({length: layers * heads}, (_, i) => [Math.floor(i / heads), i % heads] as [number, number])
}
