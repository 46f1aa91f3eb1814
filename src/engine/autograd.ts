import type {Tensor} from './tensor.js'

/**
 * Reverse-mode autograd as a tape: ops that see an input with `requiresGrad` append a record
 * holding their backward function; `backward(loss)` walks the tape in reverse and returns the
 * gradient of every tensor that asked for one. Ops keep whatever activations their backward needs
 * in the closure (retained by the tape, released by `Tape.dispose`).
 */
export type BackwardFn = (gradOutputs: (Tensor | undefined)[]) => (Tensor | undefined)[]

export interface TapeRecord {
  inputs: Tensor[]
  outputs: Tensor[]
  backward: BackwardFn
}

export interface Tape {
  records: TapeRecord[]
}

let active: Tape | undefined

/** True when an op with these inputs must record its backward. */
export function needsGrad(inputs: Tensor[]): boolean {
  return active !== undefined && inputs.some((t) => t.requiresGrad)
}

/** Called by ops after computing `outputs`; marks them as requiring grad. */
export function record(inputs: Tensor[], outputs: Tensor[], backward: BackwardFn): void {
  if (!active) return
  for (const o of outputs) o.requiresGrad = true
  active.records.push({inputs, outputs, backward})
}

export function currentTape(): Tape | undefined {
  return active
}

/** Run `fn` recording a tape. */
export function withTape<T>(fn: (tape: Tape) => T): {result: T; tape: Tape} {
  const previous = active
  const tape: Tape = {records: []}
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
