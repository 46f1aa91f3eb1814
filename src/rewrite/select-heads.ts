import {HybridizeError} from '../errors.js'
import {headsInBudget} from '../heads/budget.js'
import type {HybridLayer} from '../models/hybrid-config.js'
import type {HeadId, HeadsFile} from './heads-file.js'

/** How many heads to keep: the file's selection, the top `keep` of its ranking, or a share of all heads (--budget, heads/budget.ts). */
export type HeadChoice = {kind: 'selected'} | {kind: 'keep'; count: number} | {kind: 'budget'; fraction: number}

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
  const count = choice.kind === 'keep' ? choice.count : headsInBudget(choice.fraction, total)
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
