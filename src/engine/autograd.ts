import type {Storage} from '../backend/backend.js'
import {add} from './ops.js'
import {fromArray, keep, Tensor, zeros} from './tensor.js'

/**
 * Reverse-mode autograd as a tape. Under `withTape`, an op whose inputs want a gradient (a
 * parameter marked `requiresGrad`, or the output of an op recorded on this tape) appends a record
 * holding its backward function. `backward(loss, params)` walks the records in reverse and returns
 * the gradient of each parameter.
 *
 * Gradients are keyed by storage, not by Tensor object: a reshape is a free view over the same
 * storage, so the gradient of any view of a tensor is the gradient of the tensor.
 *
 * The tape keeps its own views of every recorded op's inputs and outputs (and any extra `saved`
 * tensors), so the activations a backward needs survive the forward's scopes. They are released
 * as soon as the record's backward has run (or by `Tape.dispose`).
 */
export interface BackwardContext {
  /** The op's inputs, outputs and saved tensors as the tape holds them (alive during backward). */
  inputs: Tensor[]
  outputs: Tensor[]
  saved: Tensor[]
  /** needs[i]: input i wants a gradient; a backward may return undefined for the others. */
  needs: boolean[]
}

/**
 * Gradients of the outputs in (undefined for an output nothing downstream used), gradients of
 * the inputs out, each with its input's number of elements. Runs with recording off.
 */
export type BackwardFn = (gradOutputs: (Tensor | undefined)[], ctx: BackwardContext) => (Tensor | undefined)[]

interface TapeRecord {
  ctx: BackwardContext
  backward: BackwardFn
}

export interface BackwardOptions {
  /** Gradient of the loss to start from (default: ones, the gradient of a scalar loss). */
  seed?: Tensor
  /** Keep the tape's saved activations to run backward again (default: release them). */
  retainGraph?: boolean
}

export class Tape {
  private records: TapeRecord[] = []
  /** Storages of outputs recorded here: gradients flow through them. */
  private readonly tracked = new Set<Storage>()
  private released = false

  get size(): number {
    return this.records.length
  }

  wantsGrad(t: Tensor): boolean {
    return t.requiresGrad || this.tracked.has(t.storage)
  }

  push(inputs: Tensor[], outputs: Tensor[], backward: BackwardFn, saved: Tensor[]): void {
    const needs = inputs.map((t) => this.wantsGrad(t))
    for (const o of outputs) {
      this.tracked.add(o.storage)
      producers.set(o.storage, this)
    }
    const ctx = {inputs: inputs.map(hold), outputs: outputs.map(hold), saved: saved.map(hold), needs}
    this.records.push({ctx, backward})
  }

  /** Gradients of `loss` with respect to `params` (zeros where no path leads to a parameter). */
  backward(loss: Tensor, params: readonly Tensor[], opts: BackwardOptions = {}): Tensor[] {
    if (this.released) throw new Error('backward: this tape was already run and released (pass retainGraph to run it twice)')
    return noGrad(() => {
      const grads = new Map<Storage, Tensor>()
      const seed = opts.seed ? view(opts.seed) : fromArray(loss.backend, new Float32Array(loss.numel).fill(1), loss.shape)
      accumulate(grads, loss, seed)
      for (let i = this.records.length - 1; i >= 0; i--) {
        const {ctx, backward} = this.records[i]
        const gradOutputs = ctx.outputs.map((o) => take(grads, o))
        if (gradOutputs.some((g) => g)) {
          const gradInputs = backward(gradOutputs, ctx)
          // Views, because a backward may hand back one tensor twice or pass a gradient through.
          ctx.inputs.forEach((input, j) => {
            const g = gradInputs[j]
            if (g && ctx.needs[j]) accumulate(grads, input, view(g))
          })
          for (const g of new Set([...gradInputs, ...gradOutputs])) g?.dispose()
        }
        if (!opts.retainGraph) release(this.records[i])
      }
      if (!opts.retainGraph) this.dispose()
      const result = params.map((p) => grads.get(p.storage)?.reshape(p.shape) ?? zeros(p.backend, p.shape))
      for (const g of grads.values()) g.dispose()
      return result
    })
  }

  /** Release every saved activation; the tape cannot run backward afterwards. */
  dispose(): void {
    for (const r of this.records) release(r)
    this.records = []
    this.tracked.clear()
    this.released = true
  }
}

/** Which tape recorded the op that produced a storage, so `backward(loss)` finds its tape. */
const producers = new WeakMap<Storage, Tape>()

let active: Tape | undefined

/** True when an op with these inputs must record its backward. */
export function needsGrad(inputs: Tensor[]): boolean {
  const tape = active
  return tape !== undefined && inputs.some((t) => tape.wantsGrad(t))
}

/**
 * Called by ops after computing `outputs` (when `needsGrad(inputs)`). The backward gets the
 * tape's own views of `inputs`, `outputs` and `saved` in its context; it should use those rather
 * than capture the originals, which the forward's scope may dispose.
 */
export function record(inputs: Tensor[], outputs: Tensor[], backward: BackwardFn, saved: Tensor[] = []): void {
  active?.push(inputs, outputs, backward, saved)
}

export function currentTape(): Tape | undefined {
  return active
}

/** Run `fn` recording a tape. */
export function withTape<T>(fn: (tape: Tape) => T): {result: T; tape: Tape} {
  const previous = active
  const tape = new Tape()
  active = tape
  try {
    return {result: fn(tape), tape}
  } finally {
    active = previous
  }
}

/** Run `fn` with recording off (evaluation, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const previous = active
  active = undefined
  try {
    return fn()
  } finally {
    active = previous
  }
}

/**
 * Gradients of `loss` (computed under `withTape`) with respect to `params`, in order. Releases the
 * tape's saved activations unless `retainGraph`.
 */
export function backward(loss: Tensor, params: readonly Tensor[], opts: BackwardOptions = {}): Tensor[] {
  const tape = producers.get(loss.storage)
  if (!tape) throw new Error('backward: the loss was not computed under withTape from tensors that require grad')
  return tape.backward(loss, params, opts)
}

/** A view with its own reference to the storage, so disposing either leaves the other alive. */
function view(t: Tensor): Tensor {
  return new Tensor(t.backend, t.storage, t.shape)
}

/** A view the tape owns, outside every scope. */
function hold(t: Tensor): Tensor {
  return keep(view(t))
}

function release(r: TapeRecord): void {
  for (const t of [...r.ctx.inputs, ...r.ctx.outputs, ...r.ctx.saved]) t.dispose()
}

/** Add `g` (which the map takes over) to the gradient of `t`'s storage. */
function accumulate(grads: Map<Storage, Tensor>, t: Tensor, g: Tensor): void {
  if (g.numel !== t.numel) throw new Error(`backward: gradient of ${g.numel} values for a tensor [${t.shape}]`)
  const existing = grads.get(t.storage)
  if (!existing) {
    grads.set(t.storage, g)
    return
  }
  grads.set(t.storage, add(existing, g.reshape(existing.shape)))
  existing.dispose()
  g.dispose()
}

/** Remove and return the gradient of `t`'s storage, shaped like `t`. */
function take(grads: Map<Storage, Tensor>, t: Tensor): Tensor | undefined {
  const g = grads.get(t.storage)
  if (!g) return undefined
  grads.delete(t.storage)
  if (g.shape.length === t.shape.length && g.shape.every((d, i) => d === t.shape[i])) return g
  const view = g.reshape(t.shape)
  g.dispose()
  return view
}
