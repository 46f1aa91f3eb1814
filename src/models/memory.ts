import type {TeacherConfig} from './config.js'
import {layerKind, type HybridConfig} from './hybrid-config.js'
import {mixerStateSize} from './mixers/create.js'
import type {MixerConfig} from './mixers/create.js'

/**
 * What one sequence costs to keep while decoding, at a context length and element size (the KV
 * cache's may differ: `kvBytes`, as `--kv-cache-dtype f16` keeps keys and values at 2 bytes beside an f32 state)
 * (as Llamba, arXiv 2502.14458, and retrieval-aware distillation, arXiv 2602.11374, count it): the KV cache grows with the context, the SSM state does not.
 *   KV cache  = 2 · L_ctx · Σ_l kvHeads_l · D · bytes
 *               (kvHeads_l: the teacher's key/value heads in attention layers, the kept heads in
 *               hybrid layers, where each kept head has its own key and value; 0 in SSM layers)
 *   SSM state = Σ_{SSM and hybrid layers} H · P · N · bytes
 *   conv state (or Mamba-3's carried key, value and angles) = Σ_l (W − 1) · conv channels · bytes
 */
export interface SequenceMemory {
  contextLength: number
  /** Of the SSM and conv states, and of the KV cache unless the caller gave it its own. */
  bytesPerElement: number
  kvCacheBytes: number
  ssmStateBytes: number
  convStateBytes: number
  totalBytes: number
}

function memory(contextLength: number, bytes: number, kvPerToken: number, ssm: number, other: number, kvBytes = bytes): SequenceMemory {
  const kvCacheBytes = contextLength * kvPerToken * kvBytes
  const ssmStateBytes = ssm * bytes
  const convStateBytes = other * bytes
  return {contextLength, bytesPerElement: bytes, kvCacheBytes, ssmStateBytes, convStateBytes, totalBytes: kvCacheBytes + ssmStateBytes + convStateBytes}
}

export function teacherSequenceMemory(t: TeacherConfig, contextLength: number, bytes: number, kvBytes = bytes): SequenceMemory {
  return memory(contextLength, bytes, 2 * t.numLayers * t.numKvHeads * t.headDim, 0, 0, kvBytes)
}

export function hybridSequenceMemory(cfg: HybridConfig, contextLength: number, bytes: number, kvBytes = bytes): SequenceMemory {
  const t = cfg.teacher
  const state = mixerStateSize(cfg.mixer)
  let kvHeads = 0
  let ssmLayers = 0
  cfg.layers.forEach((layer, l) => {
    const kind = layerKind(cfg, l)
    kvHeads += kind === 'attention' ? t.numKvHeads : layer.attentionHeads.length
    if (kind !== 'attention') ssmLayers++
  })
  return memory(contextLength, bytes, 2 * kvHeads * t.headDim, ssmLayers * state.ssm, ssmLayers * state.other, kvBytes)
}

/** A pure SSM stack (Mamba2ForCausalLM): the same state at every context length. */
export function ssmSequenceMemory(mixer: MixerConfig, layers: number, contextLength: number, bytes: number): SequenceMemory {
  const state = mixerStateSize(mixer)
  return memory(contextLength, bytes, 0, layers * state.ssm, layers * state.other)
}
