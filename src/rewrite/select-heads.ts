import {HybridizeError} from '../errors.js'
import type {HybridLayer} from '../models/hybrid-config.js'
import type {HeadId, HeadsFile} from './heads-file.js'

/** How many heads to keep: the file's selection, the top `keep` of its ranking, or a percentage of all heads. */
export type HeadChoice = {kind: 'selected'} | {kind: 'keep'; count: number} | {kind: 'budget'; percent: number}

/** "2%" or "2" -> 2; anything else is the user's error. */
export function parseBudget(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(text)
  const percent = m ? Number(m[1]) : Number.NaN
  if (!(percent >= 0 && percent <= 100)) throw new HybridizeError(`--budget must be a percentage of heads such as 2%, got '${text}'`, {code: 'E_USAGE', exitCode: 2})
  return percent
}

/** The heads to keep as attention, every one checked to exist in a teacher of `layers` x `heads`. */
export function chooseHeads(file: HeadsFile, choice: HeadChoice, shape: {layers: number; heads: number}): HeadId[] {
  // The ranking begins with the selection, so checking it checks every head the file names.
  for (const [i, [l, h]] of file.ranking.entries()) {
    if (l < 0 || l >= shape.layers || h < 0 || h >= shape.heads) {
      throw new HybridizeError(`${file.path}: head [${l}, ${h}] is out of range for a teacher of ${shape.layers} layers x ${shape.heads} heads (entry ${i})`, {code: 'E_HEADS_RANGE'})
    }
  }
  if (choice.kind === 'selected') return dedupe(file.selected)
  const total = shape.layers * shape.heads
  const count = choice.kind === 'keep' ? choice.count : Math.round((choice.percent / 100) * total)
  const ranked = dedupe(file.ranking)
  if (count > ranked.length) {
    throw new HybridizeError(`${file.path} ranks ${ranked.length} heads, fewer than the ${count} to keep`, {code: 'E_HEADS_RANGE'})
  }
  return ranked.slice(0, count)
}

function dedupe(heads: HeadId[]): HeadId[] {
  const seen = new Set<string>()
  return heads.filter(([l, h]) => {
    const key = `${l},${h}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

/** Kept heads -> per-layer layout, heads ascending. */
export function layoutFor(kept: HeadId[], layers: number): HybridLayer[] {
  const out: HybridLayer[] = Array.from({length: layers}, () => ({attentionHeads: []}))
  for (const [l, h] of kept) out[l].attentionHeads.push(h)
  for (const layer of out) layer.attentionHeads.sort((a, b) => a - b)
  return out
}
