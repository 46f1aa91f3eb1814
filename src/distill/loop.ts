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
import {allReduceSum, gradientBuckets} from './replicas.js'
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

/** One copy of the model being trained, on its own device: its stage context and training units. */
export interface Replica {
  ctx: StageContext
  units: TrainUnit[]
}

export interface StageRun {
  def: StageDefinition
  ctx: StageContext
  data: BatchStream
  units: TrainUnit[]
  /**
   * Data-parallel replicas beyond (ctx, units), one per further device (replicas.ts): each takes
   * its own batchSize rows of every micro-batch, their gradients are summed across replicas in a
   * fixed order, and every replica takes the same optimizer step.
   */
  peers?: Replica[]
  /** The block of rows this process trains on when `count` processes share the data (DiLoCo workers). */
  shard?: {count: number; index: number}
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
  const {def, data, steps} = run
  const replicas: Replica[] = [{ctx: run.ctx, units: run.units}, ...(run.peers ?? [])]
  const {ctx, units} = replicas[0]
  const {batchSize, seqLen, gradAccum, clip, warmup, decay} = ctx.settings
  const shard = run.shard ?? {count: 1, index: 0}
  // In the optimizers' order (decayed weights first), which is the order `step` takes gradients in.
  const params = replicas.map((r) => r.units.flatMap((u) => u.optimizer.params))
  const buckets = gradientBuckets(ctx, params[0])
  for (const p of params.flat()) p.requiresGrad = true
  const started = Date.now()
  const tokensPerStep = batchSize * seqLen * gradAccum * replicas.length * shard.count
  try {
    for (let step = run.firstStep; step < steps; step++) {
      const lr = wsdLearningRate(step, {peak: run.lr, totalSteps: steps, warmup, decay})
      const stepStart = Date.now()
      const lossScale = run.scaler?.scale ?? 1
      const {losses, gradNorm, stepped} = await scopeAsync(async () => {
        const accs = replicas.map(() => new GradAccumulator())
        const sums = new Array<number>(def.perLayer ? ctx.layers.length : 1).fill(0)
        const rowsPerMicro = batchSize * replicas.length
        for (let micro = 0; micro < gradAccum; micro++) {
          // Every process draws the rows of all of them and keeps its block: the data each row comes from is the same however they are spread.
          const drawn = await data.next(rowsPerMicro * shard.count)
          const mine = drawn.subarray(shard.index * rowsPerMicro * seqLen, (shard.index + 1) * rowsPerMicro * seqLen)
          const ids = replicas.map((r, d) => fromArray(r.ctx.student.backend, mine.slice(d * batchSize * seqLen, (d + 1) * batchSize * seqLen), [batchSize, seqLen]))
          const results = await microBatch(def, replicas.map((r, d) => ({ctx: r.ctx, ids: ids[d], params: params[d]})), lossScale)
          for (const {values} of results) values.forEach((v, i) => (sums[i] += v / (gradAccum * replicas.length)))
          results.forEach(({grads}, d) => accs[d].add(grads))
        }
        const taken = accs.map((acc) => acc.take())
        if (replicas.length > 1) await allReduceSum(taken.map((t) => t.grads), buckets)
        const {grads, count} = taken[0]
        // The mean over every replica's micro-batches.
        const meanScale = 1 / (count * replicas.length * lossScale)
        let offset = 0
        // Every unit's gradient norm first: one non-finite gradient anywhere skips the whole step.
        // The norms of replica 0 clip every replica: after the reduction all hold the same gradients.
        const clipped = []
        for (const [u, unit] of units.entries()) {
          const at = offset
          offset += unit.optimizer.params.length
          clipped.push({u, at, ...(await clipGradNorm(grads.slice(at, offset), clip, meanScale))})
        }
        const finite = clipped.every((c) => Number.isFinite(c.norm))
        const stepped = run.scaler ? run.scaler.update(finite) : true
        if (stepped) {
          for (const [d, r] of replicas.entries()) {
            for (const {u, at, gradScale} of clipped) r.units[u].optimizer.step(taken[d].grads.slice(at, at + r.units[u].optimizer.params.length), {lr, gradScale})
          }
        }
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
    for (const p of params.flat()) p.requiresGrad = false
  }
}

/**
 * One micro-batch on every replica: its losses (values) and the gradients of their sum times
 * `lossScale` for each replica's `params` (still scaled: the caller divides them, through the
 * optimizer's gradScale). Every replica's forward is launched before any loss is read back, and
 * every backward before the caller reads a gradient, so the devices run at once.
 */
export async function microBatch(def: StageDefinition, work: {ctx: StageContext; ids: Tensor; params: Tensor[]}[], lossScale: number): Promise<{grads: Tensor[]; values: number[]}[]> {
  return scopeAsync(async () => {
    const taped = work.map(({ctx, ids}) => withTape(() => withPrecision(ctx.settings.precision, () => {
      const parts = def.losses(ctx, ids)
      return {parts, total: parts.slice(1).reduce((a, b) => add(a, b), parts[0])}
    }, lossScale)).result)
    const values = await Promise.all(taped.map((t) => Promise.all(t.parts.map(async (p) => (await p.toArray())[0]))))
    for (const v of values) {
      if (!v.every(Number.isFinite)) throw new HybridizeError(`stage ${def.stage}: the loss is not finite (${v.join(', ')}); lower --lr`, {code: 'E_DIVERGED'})
    }
    return taped.map((t, d) => {
      // The backward seeded with the scale is the backward of the scaled loss.
      const seed = lossScale === 1 ? undefined : fromArray(work[d].ctx.student.backend, Float32Array.of(lossScale), t.total.shape)
      return {grads: backward(t.total, work[d].params, {seed}), values: values[d]}
    })
  })
}
