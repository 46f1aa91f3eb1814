import {createHash} from 'node:crypto'
import type {NamedParam} from '../train/optimizer.js'
import {outerSgdStep} from '../train/outer-sgd.js'
import type {DistillSettings} from './options.js'
import {openDeltas, pruneRound, readDeltaTensor, writeDelta} from './sync-dir.js'

/**
 * Stage 3 across hosts by DiLoCo (Douillard et al. 2023, arXiv 2311.08105). Each of N workers
 * trains its own replica on its own rows of the data for `syncEvery` (H) steps with its own AdamW
 * (the inner optimizer, whose moments stay with the worker across rounds, as in the paper); then
 * every worker writes its delta θ_start − θ_worker to the sync folder, waits for the other N − 1,
 * and takes the same outer step on their mean (outer-sgd.ts: Nesterov SGD, lr 0.7, momentum 0.9 by
 * default), which becomes every worker's θ_start for the next round.
 *
 * Every worker computes the outer step itself rather than one worker writing the new parameters
 * for the rest: the step is a deterministic function of the N delta files (summed in worker order,
 * on the host, by the same code), so all workers reach the same bits without a second round trip
 * through storage, nothing waits on a coordinator that could die, and the momentum buffer each
 * worker keeps (and checkpoints) is the same everywhere.
 *
 * What H = 1 equals: with outer lr 1 and momentum 0 the new parameters are θ − mean_i(θ − θ_i) =
 * mean_i θ_i, the mean of the workers' one-step AdamW updates, each from its own moments. That is
 * not one AdamW step on the mean gradient (AdamW divides each gradient by its own running second
 * moment, a nonlinear map), so DiLoCo at H = 1 is not synchronous data-parallel training; with a
 * linear inner step (SGD) it would be. test/distill/diloco.test.ts checks the equality that holds.
 */
export interface DilocoState {
  /** θ at the start of the current round (the last outer step's result), by weight name. */
  start: Map<string, Float32Array>
  /** The outer Nesterov momentum buffer, by weight name. */
  momentum: Map<string, Float32Array>
}

export class DilocoWorker {
  private constructor(
    private readonly settings: NonNullable<DistillSettings['diloco']>,
    private readonly runId: string,
    private readonly params: NamedParam[],
    /** Writes new parameters into every replica this worker trains. */
    private readonly apply: (name: string, data: Float32Array) => void,
    private readonly state: DilocoState,
  ) {}

  /** A worker over `params` (the weights stage 3 trains), starting a round from their values now, or from a checkpoint's state. */
  static async open(settings: DistillSettings, params: NamedParam[], apply: (name: string, data: Float32Array) => void, saved?: DilocoState): Promise<DilocoWorker> {
    const diloco = settings.diloco!
    let state = saved
    if (!state) {
      const start = new Map<string, Float32Array>()
      for (const p of params) start.set(p.name, await p.tensor.toFloat32())
      state = {start, momentum: new Map(params.map((p) => [p.name, new Float32Array(p.tensor.numel)]))}
    }
    for (const p of params) {
      if (state.start.get(p.name)?.length !== p.tensor.numel || state.momentum.get(p.name)?.length !== p.tensor.numel) {
        throw new Error(`DiLoCo state has no round start or momentum of ${p.tensor.numel} values for ${p.name}`)
      }
    }
    return new DilocoWorker(diloco, dilocoRunId(settings), params, apply, state)
  }

  /** Whether the round ends after this (1-based) step: every H steps, and at the stage's last step. */
  roundEndsAt(step: number, steps: number): boolean {
    return step % this.settings.syncEvery === 0 || step === steps
  }

  /** Round r holds steps r·H + 1 .. (r + 1)·H. */
  roundOf(step: number): number {
    return Math.ceil(step / this.settings.syncEvery) - 1
  }

  /** What a checkpoint keeps so that a restarted worker continues its round. */
  exportState(): DilocoState {
    return this.state
  }

  /** End the round that `step` closes: write this worker's delta, wait for the others', take the outer step. */
  async sync(step: number, status: (text: string) => void): Promise<void> {
    const {syncDir, workers, index} = this.settings
    const round = this.roundOf(step)
    await writeDelta(syncDir, round, index, this.runId, this.params.map(({name, tensor}) => ({
      name,
      shape: tensor.shape,
      data: async () => {
        const local = await tensor.toFloat32()
        const start = this.state.start.get(name)!
        return local.map((v, i) => start[i] - v)
      },
    })))
    const files = await openDeltas(syncDir, round, workers, this.runId, (missing) => status(`round ${round + 1}: waiting for worker${missing.length > 1 ? 's' : ''} ${missing.join(', ')} in ${syncDir}`))
    try {
      for (const {name, tensor} of this.params) {
        const mean = new Float32Array(tensor.numel)
        for (const file of files) {
          const delta = await readDeltaTensor(file, name, tensor.numel)
          for (let i = 0; i < mean.length; i++) mean[i] += delta[i]
        }
        for (let i = 0; i < mean.length; i++) mean[i] /= workers
        const start = this.state.start.get(name)!
        outerSgdStep(start, mean, this.state.momentum.get(name)!, {lr: this.settings.outerLr, momentum: this.settings.outerMomentum})
        this.apply(name, start)
      }
    } finally {
      for (const f of files) await f.close()
    }
    await pruneRound(syncDir, round - 1)
  }
}

/** What the workers of one run share: every setting but the worker's index and where it mounts the sync folder. */
export function dilocoRunId(settings: DistillSettings): string {
  const {index: _index, syncDir: _syncDir, ...shared} = settings.diloco!
  return createHash('sha256').update(JSON.stringify({...settings, diloco: shared})).digest('hex').slice(0, 16)
}
