import {ShapesOnlyBackend} from '../src/backend/shapes-only.js'
import {sampleTokens} from '../src/engine/decode-ops.js'
import {empty, scope, type Tensor} from '../src/engine/tensor.js'
import type {Kernel} from '../src/kernels/kernel.js'
import type {TeacherConfig} from '../src/models/config.js'
import {HybridModel} from '../src/models/hybrid.js'
import {expectedHybridWeights} from '../src/models/hybrid-weights.js'
import {llamaConfig} from '../src/models/llama-shape.js'
import {TeacherModel} from '../src/models/teacher.js'
import {expectedTeacherWeights} from '../src/models/teacher-weights.js'
import {layoutFor} from '../src/rewrite/select-heads.js'
import {studentMixerConfig} from '../src/rewrite/student-config.js'

/**
 * What one decode step launches, from the shapes alone: the decode sweep's models built on a
 * backend that holds nothing (backend/shapes-only.ts), one step of generate()'s device loop (a
 * cached forward of one token per sequence, the draw on the device) run through it, and each
 * kernel launch recorded with the WGSL variant and the workgroups WebGPU would get. A launch of
 * fewer workgroups than the GPU has SMs leaves it idle however fast each workgroup is: the first
 * decode sweep's fixed ~42 ms step at Llama-3.2-1B shapes was 64-row matmul tiles at M = batch.
 * test/bench/decode-dispatches.test.ts holds the 1B teacher's, 2 % hybrid's and pure SSM's steps to it.
 */
export interface Launch {
  kernel: string
  /** The WGSL variant (kernel.gpu.key): which version and tile a kernel picked. */
  variant: string
  workgroups: number
  /** The kernel's parameters (shapes, flags). */
  params: unknown
}

class RecordingBackend extends ShapesOnlyBackend {
  readonly launches: Launch[] = []
  override run<P>(kernel: Kernel<P>, params: P): void {
    const [x, y, z] = kernel.gpu.dispatch(params).workgroups
    this.launches.push({kernel: kernel.name, variant: kernel.gpu.key(params), workgroups: x * y * z, params})
  }
}

/** Llama-3.2-1B's shape (the decode sweep's teacher). */
export const LLAMA_1B: TeacherConfig = llamaConfig({vocab: 128256, channels: 2048, hidden: 8192, layers: 16, heads: 32, kvHeads: 8, headDim: 64, ropeTheta: 500000, tied: true, maxPositions: 131072})

export type StepModel = 'teacher' | 'hybrid' | 'ssm'

/** The teacher, a hybrid keeping `keptHeads` heads (spread one a layer from layer 0), or the pure SSM (discrete Mamba-2, d_state 64, as the sweep's rewrites). */
function build(kind: StepModel, t: TeacherConfig, keptHeads: number, backend: ShapesOnlyBackend): TeacherModel | HybridModel {
  const shaped = (shapes: Map<string, number[]>): Map<string, Tensor> => new Map([...shapes].map(([name, shape]) => [name, empty(backend, shape)]))
  if (kind === 'teacher') return new TeacherModel(t, shaped(expectedTeacherWeights(t)), backend)
  const kept = kind === 'hybrid' ? Array.from({length: keptHeads}, (_, i): [number, number] => [i % t.numLayers, Math.floor(i / t.numLayers)]) : []
  const config = {teacher: t, teacherJson: {}, mixer: studentMixerConfig(t, {kind: 'discrete-mamba2', dState: 64}), adapterEps: 1e-5, layers: layoutFor(kept, t.numLayers)}
  return new HybridModel(config, shaped(expectedHybridWeights(config)), backend)
}

/** The launches of one greedy decode step of `batch` sequences at `context` cached positions. */
export function decodeStepLaunches(kind: StepModel, batch: number, context: number, t: TeacherConfig = LLAMA_1B, keptHeads = 10): Launch[] {
  const backend = new RecordingBackend()
  const model = build(kind, t, keptHeads, backend)
  const cache = model.newCache(batch, context + 1)
  cache.advance(context)
  backend.launches.length = 0
  scope(() => {
    const logits = model.forwardCached(empty(backend, [batch, 1], 'i32'), cache, {lastOnly: true}).logits
    sampleTokens(logits.reshape([batch, model.vocabSize]), empty(backend, [batch], 'i32'), 0)
  })
  return backend.launches
}
