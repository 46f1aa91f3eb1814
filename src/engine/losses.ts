import {crossEntropyBackward, crossEntropyRows} from '../kernels/cross-entropy.js'
import type {Kernel} from '../kernels/kernel.js'
import {broadcastAxis, sumAxis} from '../kernels/reduce.js'
import {softTargetBackward, softTargetRows, type SoftTargetParams} from '../kernels/soft-target.js'
import {ShapeError} from '../errors.js'
import {needsGrad, record} from './autograd.js'
import {mean, norm, scale, sub} from './ops.js'
import {empty, type Tensor} from './tensor.js'

/**
 * Training losses, each a scalar tensor [] with its backward on the tape.
 * Letters: N rows (tokens), V vocab.
 */

function launch<P>(kernel: Kernel<P>, params: P, inputs: Tensor[], shape: readonly number[]): Tensor {
  const out = empty(inputs[0].backend, shape)
  inputs[0].backend.run(kernel, params, inputs.map((t) => t.storage), [out.storage])
  return out
}

/**
 * Per-row losses [N] -> their mean over `count` rows, as a scalar [] whose gradient flows back
 * to the rows: `rowGrad` turns the per-row gradient [N] into the gradient of the row inputs.
 */
function meanOfRows(rows: Tensor, count: number, inputs: Tensor[], rowGrad: (g: Tensor, inputs: Tensor[]) => (Tensor | undefined)[]): Tensor {
  const n = rows.numel
  const p = {outer: 1, n, inner: 1, scale: 1 / count}
  const loss = launch(sumAxis, p, [rows], [])
  if (needsGrad(inputs)) {
    record(inputs, [loss], ([g], ctx) => {
      const gRows = launch(broadcastAxis, p, [g!], [n])
      const grads = rowGrad(gRows, ctx.inputs)
      gRows.dispose()
      return grads
    })
  }
  rows.dispose()
  return loss
}

export interface CrossEntropyOptions {
  /**
   * Rows whose label is negative are ignored; the mean is over this many rows (default: all N).
   * Pass the number of labels >= 0 when some are ignored.
   */
  count?: number
}

/** Next-token loss: logits [..., V], labels [...] int32 -> mean over rows of −log softmax(row)[label]. */
export function crossEntropy(logits: Tensor, labels: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const vocab = logits.shape.at(-1)!
  const rows = logits.numel / vocab
  if (labels.dtype !== 'i32' || labels.numel !== rows) throw new ShapeError(`crossEntropy: logits [${logits.shape}] need ${rows} int32 labels, got ${labels.dtype} [${labels.shape}]`)
  const p = {rows, vocab}
  const perRow = launch(crossEntropyRows, p, [logits, labels], [rows])
  return meanOfRows(perRow, opts.count ?? rows, [logits, labels], (g, [ls, ids]) => [launch(crossEntropyBackward, p, [ls, ids, g], logits.shape)])
}

/**
 * −log softmax(row)[label] for each row of logits [N, V] with int32 labels [N] -> [N], without a gradient:
 * the scores of chosen tokens computed where the logits are, so that only N numbers are read back.
 */
export function crossEntropyPerRow(logits: Tensor, labels: Tensor): Tensor {
  const vocab = logits.shape.at(-1)!
  const rows = logits.numel / vocab
  if (labels.dtype !== 'i32' || labels.numel !== rows) throw new ShapeError(`crossEntropyPerRow: logits [${logits.shape}] need ${rows} int32 labels, got ${labels.dtype} [${labels.shape}]`)
  return launch(crossEntropyRows, {rows, vocab}, [logits, labels], [rows])
}

export interface SoftTargetOptions {
  /** Softmax temperature applied to both student and teacher logits (default 1). */
  temperature?: number
  /** The teacher tensor holds logits (default) or probabilities. */
  teacher?: 'logits' | 'probs'
}

function softTarget(kl: boolean, student: Tensor, teacher: Tensor, opts: SoftTargetOptions): Tensor {
  const vocab = student.shape.at(-1)!
  if (teacher.numel !== student.numel || teacher.shape.at(-1) !== vocab) throw new ShapeError(`soft-target loss: student [${student.shape}] vs teacher [${teacher.shape}]`)
  const p: SoftTargetParams = {rows: student.numel / vocab, vocab, temperature: opts.temperature ?? 1, teacherLogits: opts.teacher !== 'probs', kl}
  const perRow = launch(softTargetRows, p, [student, teacher], [p.rows])
  // The teacher is a constant target: only the student gets a gradient.
  return meanOfRows(perRow, p.rows, [student, teacher], (g, [ss, ts]) => [launch(softTargetBackward, p, [ss, ts, g], student.shape)])
}

/**
 * Distillation cross-entropy −Σ p_teacher log softmax(student/T), mean over rows.
 * student, teacher: [..., V]. Gradient (softmax(student/T) − p_teacher)/T/N.
 */
export const softTargetCrossEntropy = (student: Tensor, teacher: Tensor, opts: SoftTargetOptions = {}): Tensor => softTarget(false, student, teacher, opts)

/** KL(p_teacher ‖ softmax(student/T)), mean over rows ('batchmean' over [N, V]); same gradient. */
export const klDivergence = (student: Tensor, teacher: Tensor, opts: SoftTargetOptions = {}): Tensor => softTarget(true, student, teacher, opts)

export interface DistillationLossOptions {
  /** 'ce': soft-target cross-entropy; 'kl': KL divergence (the same gradient; KL is 0 at a perfect student). */
  loss: 'ce' | 'kl'
  temperature: number
}

/**
 * Stage 3's logit distillation: T² · loss(softmax(student/T), softmax(teacher/T)), mean over rows.
 * At T = 1 this is jxiw/MambaInLlama's KD loss (trainer/kd_trainer.py, KDTrainer.compute_loss:
 * kl_div(log_softmax(student), softmax(teacher)), no temperature). Above 1, both distributions are
 * softened and the T² factor (Hinton et al. 2015; transformers' examples/research_projects/
 * distillation/distiller.py) keeps the gradient's size independent of T, which softening alone
 * shrinks by 1/T.
 */
export function distillationLoss(student: Tensor, teacher: Tensor, opts: DistillationLossOptions): Tensor {
  const T = opts.temperature
  const loss = (opts.loss === 'kl' ? klDivergence : softTargetCrossEntropy)(student, teacher, {temperature: T})
  if (T === 1) return loss
  const scaled = scale(loss, T * T)
  loss.dispose()
  return scaled
}

/** Stage 1 (MOHAWK): a, b [..., M, N] -> mean over the leading dims of ‖a − b‖_F. */
export function frobeniusLoss(a: Tensor, b: Tensor): Tensor {
  if (a.rank < 2 || a.numel !== b.numel) throw new ShapeError(`frobeniusLoss: [${a.shape}] vs [${b.shape}]`)
  const [m, n] = a.shape.slice(-2)
  return distanceMean(a.reshape([-1, m * n]), b.reshape([-1, m * n]))
}

/** Stage 2 (MOHAWK): a, b [..., C] -> mean over tokens of ‖a − b‖₂ over C. */
export function l2Loss(a: Tensor, b: Tensor): Tensor {
  if (a.numel !== b.numel || a.shape.at(-1) !== b.shape.at(-1)) throw new ShapeError(`l2Loss: [${a.shape}] vs [${b.shape}]`)
  const c = a.shape.at(-1)!
  return distanceMean(a.reshape([-1, c]), b.reshape([-1, c]))
}

/** Mean over rows of the Euclidean distance between rows of a and b [R, C]. */
function distanceMean(a: Tensor, b: Tensor): Tensor {
  const diff = sub(a, b)
  const norms = norm(diff)
  const loss = mean(norms)
  diff.dispose()
  norms.dispose()
  return loss
}
