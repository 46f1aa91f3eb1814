import {backward, withTape} from '../engine/autograd.js'
import {add} from '../engine/ops.js'
import {withPrecision} from '../engine/precision.js'
import {fromArray, scopeAsync, type Tensor} from '../engine/tensor.js'
import {HybridizeError} from '../errors.js'
import {GradAccumulator} from '../train/accumulate.js'
import {clipGradNorm} from '../train/clip.js'
import type {LossScaler} from '../train/loss-scaler.js'
import {AdamW, decayGroups, type NamedParam} from '../train/optimizer.js'
import {wsdLearningRate} from '../train/schedule.js'
import type {BatchStream} from '../data/batches.js'
import type {StepMetrics} from './metrics.js'
import type {StageContext, StageDefinition} from './stage.js'

/**
 * The optimizer steps of one stage. A step draws `gradAccum` micro-batches, sums their gradients,
 * then each training unit (a layer in stages 1-2, the whole model in stage 3) clips its own
 * gradients and takes an AdamW step at the warmup-stable-decay learning rate. In mixed precision
 * the backward runs on the loss times the scaler's scale, the gradients are divided by it again
 * (through the optimizer's gradScale), and a step whose gradients are not all finite is skipped
 * by every unit, as GradScaler.step skips it.
 */
export interface TrainUnit {
  /** The layer this unit trains (stages 1-2). */
  layer?: number
  params: NamedParam[]
  optimizer: AdamW
}

/**
 * One AdamW per layer (per-layer stages) or one for everything, over the weights the stage trains.
 * A layer with nothing to train in this stage (an all-attention layer in stage 1) gets no unit.
 */
export function trainUnits(def: StageDefinition, ctx: StageContext): TrainUnit[] {
  const named = [...ctx.student.weights].map(([name, tensor]) => ({name, tensor, role: ctx.student.describe(name)}))
  const trained = named.filter((p) => def.trains(p.role, ctx))
  const groups = def.perLayer ? ctx.layers.map((layer) => ({layer, params: trained.filter((p) => p.role.layer === layer)})) : [{layer: undefined, params: trained}]
  const units = groups.filter((g) => g.params.length > 0).map(({layer, params}) => {
    const list = params.map(({name, tensor}) => ({name, tensor}))
    return {layer, params: list, optimizer: new AdamW(decayGroups(list, ctx.settings.weightDecay))}
  })
  if (units.length === 0) throw new HybridizeError(`stage ${def.stage} (${def.title}): nothing to train (check --freeze and --layers)`, {code: 'E_FLAG'})
  return units
}

export interface StageRun {
  def: StageDefinition
  ctx: StageContext
  data: BatchStream
  units: TrainUnit[]
  steps: number
  lr: number
  /** Steps already done (a resumed run starts here). */
  firstStep: number
  /** Mixed precision's loss scaling; absent in f32. */
  scaler?: LossScaler
  /** After every step; returning true stops the loop (the caller has saved what it needs). */
  afterStep(m: StepMetrics): Promise<boolean>
}

/** Runs steps firstStep..steps-1; returns the number of steps done when it stopped. */
export async function runStage(run: StageRun): Promise<number> {
  const {def, ctx, data, units, steps} = run
  const {batchSize, seqLen, gradAccum, clip, warmup, decay} = ctx.settings
  // In the optimizers' order (decayed weights first), which is the order `step` takes gradients in.
  const params = units.flatMap((u) => u.optimizer.params)
  for (const p of params) p.requiresGrad = true
  const started = Date.now()
  const tokensPerStep = batchSize * seqLen * gradAccum
  try {
    for (let step = run.firstStep; step < steps; step++) {
      const lr = wsdLearningRate(step, {peak: run.lr, totalSteps: steps, warmup, decay})
      const stepStart = Date.now()
      const lossScale = run.scaler?.scale ?? 1
      const {losses, gradNorm, stepped} = await scopeAsync(async () => {
        const acc = new GradAccumulator()
        const sums = new Array<number>(def.perLayer ? ctx.layers.length : 1).fill(0)
        for (let micro = 0; micro < gradAccum; micro++) {
          const ids = fromArray(ctx.student.backend, await data.next(batchSize), [batchSize, seqLen])
          const {grads, values} = await microBatch(def, ctx, ids, params, lossScale)
          values.forEach((v, i) => (sums[i] += v / gradAccum))
          acc.add(grads)
        }
        const {grads, count} = acc.take()
        let offset = 0
        // Every unit's gradient norm first: one non-finite gradient anywhere skips the whole step.
        const clipped = []
        for (const unit of units) {
          const mine = grads.slice(offset, offset + unit.optimizer.params.length)
          offset += mine.length
          clipped.push({unit, mine, ...(await clipGradNorm(mine, clip, 1 / (count * lossScale)))})
        }
        const finite = clipped.every((c) => Number.isFinite(c.norm))
        const stepped = run.scaler ? run.scaler.update(finite) : true
        if (stepped) for (const {unit, mine, gradScale} of clipped) unit.optimizer.step(mine, {lr, gradScale})
        return {losses: sums, gradNorm: finite ? Math.sqrt(clipped.reduce((s, c) => s + c.norm * c.norm, 0)) : null, stepped}
      })
      const now = Date.now()
      const m: StepMetrics = {
        stage: def.stage,
        step: step + 1,
        steps,
        tokens: (step + 1) * tokensPerStep,
        loss: losses.reduce((a, b) => a + b, 0),
        lr,
        grad_norm: gradNorm,
        tokens_per_s: tokensPerStep / Math.max(1e-3, (now - stepStart) / 1000),
        elapsed_s: (now - started) / 1000,
      }
      if (def.perLayer) m.layer_loss = Object.fromEntries(ctx.layers.map((l, i) => [String(l), losses[i]]))
      if (run.scaler) m.scale = lossScale
      if (!stepped) m.skipped = true
      if (await run.afterStep(m)) return step + 1
    }
    return steps
  } finally {
    for (const p of params) p.requiresGrad = false
  }
}

/**
 * One micro-batch: its losses (values) and the gradients of their sum times `lossScale` for `params`
 * (still scaled: the caller divides them, through the optimizer's gradScale).
 */
export async function microBatch(def: StageDefinition, ctx: StageContext, ids: Tensor, params: Tensor[], lossScale: number): Promise<{grads: Tensor[]; values: number[]}> {
  return scopeAsync(async () => {
    const {result} = withTape(() => withPrecision(ctx.settings.precision, () => {
      const parts = def.losses(ctx, ids)
      return {parts, total: parts.slice(1).reduce((a, b) => add(a, b), parts[0])}
    }, lossScale))
    const values = await Promise.all(result.parts.map(async (p) => (await p.toArray())[0]))
    if (!values.every(Number.isFinite)) throw new HybridizeError(`stage ${def.stage}: the loss is not finite (${values.join(', ')}); lower --lr`, {code: 'E_DIVERGED'})
    // The backward seeded with the scale is the backward of the scaled loss.
    const seed = lossScale === 1 ? undefined : fromArray(ctx.student.backend, Float32Array.of(lossScale), result.total.shape)
    return {grads: backward(result.total, params, {seed}), values}
  })
}
