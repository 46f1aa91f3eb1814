import type {Backend} from '../../backend/backend.js'
import type {Tensor} from '../../engine/tensor.js'
import {checkDiscreteMamba2Config, DiscreteMamba2, discreteMamba2StateSize, discreteMamba2Weights, type DiscreteMamba2Config} from './discrete-mamba2.js'
import {checkMamba2Config, Mamba2, mamba2StateSize, mamba2Weights, type Mamba2Config} from './mamba2.js'
import {checkMamba3Config, Mamba3, mamba3StateSize, mamba3Weights, type Mamba3Config} from './mamba3.js'
import type {MixerStateSize, SsmMixer} from './mixer.js'

/** Any student mixer's settings, told apart by `kind`. */
export type MixerConfig = DiscreteMamba2Config | Mamba2Config | Mamba3Config

/** The local weight names and shapes a mixer with these settings holds. */
export function mixerWeightShapes(cfg: MixerConfig): Map<string, number[]> {
  switch (cfg.kind) {
    case 'discrete-mamba2': return discreteMamba2Weights(cfg)
    case 'mamba2': return mamba2Weights(cfg)
    case 'mamba3': return mamba3Weights(cfg)
  }
}

/** A ShapeError if the settings do not fit together (heads, groups, state, conv); each mixer's constructor checks the same. */
export function checkMixerConfig(cfg: MixerConfig): void {
  switch (cfg.kind) {
    case 'discrete-mamba2': return checkDiscreteMamba2Config(cfg)
    case 'mamba2': return checkMamba2Config(cfg)
    case 'mamba3': return checkMamba3Config(cfg)
  }
}

/** Elements one sequence keeps between tokens in one layer's mixer. */
export function mixerStateSize(cfg: MixerConfig): MixerStateSize {
  switch (cfg.kind) {
    case 'discrete-mamba2': return discreteMamba2StateSize(cfg)
    case 'mamba2': return mamba2StateSize(cfg)
    case 'mamba3': return mamba3StateSize(cfg)
  }
}

export function createMixer(cfg: MixerConfig, weights: ReadonlyMap<string, Tensor>, backend: Backend): SsmMixer {
  switch (cfg.kind) {
    case 'discrete-mamba2': return new DiscreteMamba2(cfg, weights, backend)
    case 'mamba2': return new Mamba2(cfg, weights, backend)
    case 'mamba3': return new Mamba3(cfg, weights, backend)
  }
}
