import {adamw} from '../kernels/adamw.js'
import {keep, zeros, type Tensor} from '../engine/tensor.js'

/**
 * AdamW over parameter groups, each with its own weight decay, updating parameters in place
 * through the adamw kernel (β 0.9/0.95, eps 1e-8 by default, as MOHAWK distils).
 */
export interface NamedParam {
  name: string
  tensor: Tensor
}

export interface ParamGroup {
  params: NamedParam[]
  weightDecay: number
  /** Multiplier on the schedule's learning rate for this group (default 1). */
  lrScale?: number
}

/**
 * Parameters that take no weight decay, by name: norms, biases (z_bias, dt_bias included), and
 * the SSM's D and A_log (Mamba's `_no_weight_decay`).
 */
export function isNoDecay(name: string): boolean {
  const leaf = name.split('.').at(-1) ?? name
  return /norm/i.test(name) || /bias$/.test(leaf) || leaf === 'D' || leaf === 'A_log'
}

/** Two groups: decayed weights, and the `isNoDecay` ones without decay. Empty groups are left out. */
export function decayGroups(params: NamedParam[], weightDecay = 0.1): ParamGroup[] {
  const groups = [
    {params: params.filter((p) => !isNoDecay(p.name)), weightDecay},
    {params: params.filter((p) => isNoDecay(p.name)), weightDecay: 0},
  ]
  return groups.filter((g) => g.params.length > 0)
}

export interface AdamWOptions {
  betas?: [number, number]
  eps?: number
}

export interface StepOptions {
  lr: number
  /** Multiplier on every gradient: clipping factor, 1 / micro-batches (default 1). */
  gradScale?: number
}

export class AdamW {
  /** Every parameter, group by group: pass these to `backward` and the gradients back to `step`. */
  readonly params: Tensor[]
  private readonly moments = new Map<Tensor, {m: Tensor; v: Tensor}>()
  private steps = 0

  constructor(readonly groups: ParamGroup[], private readonly opts: AdamWOptions = {}) {
    this.params = groups.flatMap((g) => g.params.map((p) => p.tensor))
  }

  get stepCount(): number {
    return this.steps
  }

  /** One update; `grads` align with `params`. */
  step(grads: Tensor[], {lr, gradScale = 1}: StepOptions): void {
    if (grads.length !== this.params.length) throw new Error(`AdamW: ${grads.length} gradients for ${this.params.length} parameters`)
    this.steps++
    const [beta1, beta2] = this.opts.betas ?? [0.9, 0.95]
    let i = 0
    for (const group of this.groups) {
      for (const {name, tensor} of group.params) {
        const grad = grads[i++]
        if (grad.numel !== tensor.numel) throw new Error(`AdamW: gradient of ${grad.numel} values for ${name} [${tensor.shape}]`)
        const {m, v} = this.state(tensor)
        const p = {n: tensor.numel, lr: lr * (group.lrScale ?? 1), beta1, beta2, eps: this.opts.eps ?? 1e-8, weightDecay: group.weightDecay, step: this.steps, gradScale}
        tensor.backend.run(adamw, p, [grad.storage], [tensor.storage, m.storage, v.storage])
      }
    }
  }

  /** Step count and first/second moments by parameter name (none yet for a parameter never stepped), for a checkpoint. */
  exportState(): {step: number; moments: {name: string; m: Tensor; v: Tensor}[]} {
    const moments = this.groups.flatMap((g) => g.params.flatMap(({name, tensor}) => {
      const s = this.moments.get(tensor)
      return s ? [{name, ...s}] : []
    }))
    return {step: this.steps, moments}
  }

  /** Continue from an `exportState`: the step count and each named parameter's moments. */
  importState(step: number, moments: ReadonlyMap<string, {m: Float32Array; v: Float32Array}>): void {
    this.steps = step
    for (const g of this.groups) {
      for (const {name, tensor} of g.params) {
        const saved = moments.get(name)
        if (!saved) continue
        if (saved.m.length !== tensor.numel || saved.v.length !== tensor.numel) throw new Error(`AdamW: saved moments of ${name} hold ${saved.m.length} values for [${tensor.shape}]`)
        const {m, v} = this.state(tensor)
        tensor.backend.write(m.storage, saved.m)
        tensor.backend.write(v.storage, saved.v)
      }
    }
  }

  dispose(): void {
    for (const {m, v} of this.moments.values()) {
      m.dispose()
      v.dispose()
    }
    this.moments.clear()
  }

  private state(t: Tensor): {m: Tensor; v: Tensor} {
    let s = this.moments.get(t)
    if (!s) {
      // Kept out of any scope the step runs in: the moments live as long as the optimizer.
      s = {m: keep(zeros(t.backend, t.shape)), v: keep(zeros(t.backend, t.shape))}
      this.moments.set(t, s)
    }
    return s
  }
}
