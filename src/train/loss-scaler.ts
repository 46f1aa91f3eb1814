/**
 * Dynamic loss scaling for mixed-precision training, as PyTorch's torch.amp.GradScaler behaves
 * (torch/amp/grad_scaler.py and its `_amp_update_scale_` kernel): the loss is multiplied by
 * `scale` before the backward, so that small gradients survive being rounded to f16, and the
 * gradients are divided by it again before the optimizer. A step whose gradients hold an inf or a
 * NaN (an f16 overflow) is skipped and the scale halved; after `growthInterval` good steps in a row
 * the scale doubles.
 */
export interface LossScalerOptions {
  /** Default 2^16, GradScaler's init_scale. */
  initScale?: number
  /** Default 2, GradScaler's growth_factor. */
  growthFactor?: number
  /** Default 0.5, GradScaler's backoff_factor. */
  backoffFactor?: number
  /** Default 2000, GradScaler's growth_interval. */
  growthInterval?: number
}

/** What a checkpoint keeps so a resumed run goes on with the same scale (GradScaler's state_dict: scale and _growth_tracker). */
export interface LossScalerState {
  scale: number
  growthTracker: number
}

export class LossScaler {
  private current: number
  private tracker = 0
  private readonly growthFactor: number
  private readonly backoffFactor: number
  private readonly growthInterval: number

  constructor(opts: LossScalerOptions = {}) {
    this.current = opts.initScale ?? 2 ** 16
    this.growthFactor = opts.growthFactor ?? 2
    this.backoffFactor = opts.backoffFactor ?? 0.5
    this.growthInterval = opts.growthInterval ?? 2000
  }

  /** The factor the loss is multiplied by this step. */
  get scale(): number {
    return this.current
  }

  /** Good steps since the scale last changed. */
  get growthTracker(): number {
    return this.tracker
  }

  /**
   * After a step's gradients are known: returns whether the optimizer may step (false when any
   * gradient was non-finite: skip it), and updates the scale for the next step.
   */
  update(gradsFinite: boolean): boolean {
    if (!gradsFinite) {
      this.current *= this.backoffFactor
      this.tracker = 0
      return false
    }
    this.tracker++
    if (this.tracker === this.growthInterval) {
      // The scale is an f32 tensor in PyTorch: a growth that would overflow f32 is not taken.
      const grown = this.current * this.growthFactor
      if (Number.isFinite(Math.fround(grown))) this.current = grown
      this.tracker = 0
    }
    return true
  }

  state(): LossScalerState {
    return {scale: this.current, growthTracker: this.tracker}
  }

  /** Continue from a checkpoint's `state()`. */
  load(s: LossScalerState): void {
    if (!(s.scale > 0 && Number.isFinite(s.scale)) || !(Number.isInteger(s.growthTracker) && s.growthTracker >= 0)) {
      throw new Error(`loss scaler: saved state ${JSON.stringify(s)} is not a positive finite scale and a step count`)
    }
    this.current = s.scale
    this.tracker = s.growthTracker
  }
}
