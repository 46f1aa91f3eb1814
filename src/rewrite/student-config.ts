import {HybridizeError} from '../errors.js'
import type {TeacherConfig} from '../models/config.js'
import type {MixerConfig} from '../models/mixers/create.js'
import {defaultRotaryAngles} from '../models/mixers/mamba3.js'
import type {MixerKind} from '../models/mixers/mixer.js'

export interface MixerChoice {
  kind: MixerKind
  /** SSM state size N; the teacher's head dim when absent. */
  dState?: number
  /** Mamba-3 MIMO rank R (1 = SISO). */
  mimoRank?: number
}

/** Chunk length of the SSD scan in written checkpoints (a speed setting only; results do not depend on it). */
const CHUNK = 64

/**
 * The mixer a teacher's attention becomes: one SSM head per query head, of the teacher's head dim,
 * so that Q, K, V and O map onto C, B, x and out_proj (rewrite/init-weights.ts).
 * - discrete-mamba2: B and C per query head (Llamba), biases on (as the mohawk hybrids).
 * - mamba2: MambaInLlama's shape: x and B per key/value head, repeated like GQA; C per query head;
 *   the gated RMSNorm per head; biases on, so the z gate can start as the identity.
 * - mamba3: one B/C group per query head (the reference shares one), MIMO rank R, half of the
 *   state rotating; biases on for the same reason.
 */
export function studentMixerConfig(t: TeacherConfig, choice: MixerChoice): MixerConfig {
  const N = choice.dState ?? t.headDim
  if (!Number.isInteger(N) || N < 1) throw new HybridizeError(`--d-state must be a positive integer, got ${N}`, {code: 'E_USAGE', exitCode: 2})
  const R = choice.mimoRank ?? 1
  if (choice.kind !== 'mamba3' && R !== 1) throw new HybridizeError(`--mimo-rank applies to --mixer mamba3 only`, {code: 'E_USAGE', exitCode: 2})
  const common = {hiddenSize: t.hiddenSize, headDim: t.headDim, stateDim: N, chunk: CHUNK}
  switch (choice.kind) {
    case 'discrete-mamba2':
      return {kind: 'discrete-mamba2', ...common, vHeads: t.numHeads, qkHeads: t.numHeads, convWidth: 4, convBias: true, bias: true}
    case 'mamba2':
      return {
        kind: 'mamba2', ...common, heads: t.numHeads, xHeads: t.numKvHeads, bGroups: t.numKvHeads, cGroups: t.numHeads,
        normGroups: t.numHeads, normEps: 1e-5, convWidth: 4, convBias: true, bias: true,
      }
    case 'mamba3':
      return {
        kind: 'mamba3', ...common, heads: t.numHeads, groups: t.numHeads, mimoRank: R, rotaryAngles: defaultRotaryAngles(N),
        aFloor: 1e-4, outNorm: false, normEps: 1e-5, bias: true,
      }
  }
}
