import {HybridizeError} from '../errors.js'
import type {LoadedModel} from '../models/load-model.js'
import {Mamba2Model} from '../models/mamba2.js'
import type {HybridModel} from '../models/hybrid.js'
import {TeacherModel} from '../models/teacher.js'

/**
 * The heads find-heads scores in a model. A teacher's layer has its attention heads; a hybrid's
 * layer has the attention heads it kept (numbered as in the teacher) and its SSM mixer's heads (an
 * SSM head: one of the mixer's H heads, with its own Δ/A and its P channels of the output that the
 * output projection reads; Gather-and-Aggregate's Llamba analysis ablates these).
 */
export type HeadKind = 'attention' | 'ssm'

/** A head: [layer, head], and its kind when not attention (so a teacher's ids stay [layer, head] pairs). */
export type HeadId = readonly [layer: number, head: number, kind?: HeadKind]

/** The models find-heads runs on: the one decoder, with attention heads, SSM heads, or both. */
export type HeadsModel = TeacherModel | HybridModel

export interface LayerHeads {
  /** Attention heads, by their number in the teacher; their place here is their slot in the layer's z. */
  attention: number[]
  /** SSM heads: 0..ssm-1. */
  ssm: number
}

export const kindOf = (id: HeadId): HeadKind => id[2] ?? 'attention'

export function sameHead(a: HeadId, b: HeadId): boolean {
  return a[0] === b[0] && a[1] === b[1] && kindOf(a) === kindOf(b)
}

export function isSelected(selected: readonly HeadId[], head: HeadId): boolean {
  return selected.some((s) => sameHead(s, head))
}

/** "L.H" for an attention head, "L.sH" for an SSM head. */
export function headName(id: HeadId): string {
  return `${id[0]}.${kindOf(id) === 'ssm' ? 's' : ''}${id[1]}`
}

export function headLayout(model: HeadsModel): LayerHeads[] {
  if (model instanceof TeacherModel) return Array.from({length: model.config.numLayers}, () => ({attention: Array.from({length: model.config.numHeads}, (_, h) => h), ssm: 0}))
  return model.config.layers.map((layer, l) => ({attention: [...layer.attentionHeads], ssm: model.mixers[l]?.heads ?? 0}))
}

/** Every head, layer by layer: its attention heads, then its SSM heads. */
export function allHeads(layout: readonly LayerHeads[]): HeadId[] {
  return layout.flatMap((layer, l) => [
    ...layer.attention.map((h): HeadId => [l, h]),
    ...Array.from({length: layer.ssm}, (_, h): HeadId => [l, h, 'ssm']),
  ])
}

/** The model find-heads can score, or a one-line error for the one it cannot (Mamba2Model runs outside the decoder). */
export function headsModel(model: LoadedModel): HeadsModel {
  if (model instanceof Mamba2Model) throw new HybridizeError('find-heads scores teachers and hybrids (rewrite, distill, Llamba, Phi-Mamba, MambaInLlama); a Mamba2ForCausalLM / mamba_ssm model is not supported yet', {code: 'E_ARCH'})
  return model
}
