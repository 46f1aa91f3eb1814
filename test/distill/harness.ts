import {join} from 'node:path'
import type {Backend} from '../../src/backend/backend.js'
import {CpuBackend} from '../../src/backend/cpu.js'
import {resolveCorpus} from '../../src/data/corpus.js'
import {loadLastCheckpoint} from '../../src/distill/checkpoint.js'
import {hybridStudent} from '../../src/distill/hybrid-student.js'
import type {DistillSettings} from '../../src/distill/options.js'
import {writeRunSettings} from '../../src/distill/run-file.js'
import {distill, type DistillOutcome} from '../../src/distill/run.js'
import {loadHybrid, type HybridModel} from '../../src/models/hybrid.js'
import {loadTeacher} from '../../src/models/load.js'
import {openCheckpoint} from '../../src/io/safetensors/checkpoint.js'
import {identifyTeacher} from '../../src/hub/model-identity.js'
import {loadTokenizer} from '../../src/tokenizer/load.js'

/** Settings for the tiny pair: 2 x 32-token rows, 2 micro-batches a step, so a step is 128 tokens. */
export function tinySettings(dirs: {teacher: string; student: string; text: string}, over: Partial<DistillSettings> = {}): DistillSettings {
  return {
    teacher: dirs.teacher, student: dirs.student, data: dirs.text, textField: 'text',
    stages: [1, 2, 3], tokens: [128 * 4, 128 * 4, 128 * 4], lr: [1e-2, 1e-2, 3e-3],
    batchSize: 2, seqLen: 32, gradAccum: 2, seed: 3, loss: 'ce', temperature: 1, clip: 1,
    weightDecay: 0.1, warmup: 0.1, decay: 0.1, saveEvery: 2, precision: 'f32', ...over,
  }
}

/** Load the pair fresh (as a new process would) and run `distill`; stop once `stopAfter` steps have run in this call. */
export async function runTiny(settings: DistillSettings, out: string, opts: {stopAfter?: number; resume?: boolean; backend?: () => Promise<Backend>} = {}): Promise<{outcome: DistillOutcome; model: HybridModel}> {
  // One CPU backend per data-parallel replica (settings.devices), each with its own copy of the pair.
  const load = async () => {
    const backend = opts.backend ? await opts.backend() : new CpuBackend({description: 'cpu (tests)'})
    return {teacher: await loadTeacher(settings.teacher, backend), model: await loadHybrid(settings.student, backend)}
  }
  const {teacher, model} = await load()
  const peers = []
  for (let d = 1; d < (settings.devices ?? 1); d++) {
    const peer = await load()
    peers.push({teacher: peer.teacher, student: hybridStudent(peer.model)})
  }
  const tokenizer = await loadTokenizer(settings.teacher)
  const corpus = await resolveCorpus(settings.data, settings.textField)
  let steps = 0
  const io = {status: () => {}, progress: () => void steps++, stopRequested: () => opts.stopAfter !== undefined && steps >= opts.stopAfter}
  const resume = opts.resume ? await loadLastCheckpoint(out) : undefined
  if (!resume) await writeRunSettings(out, settings)
  const description = {config: model.config, teacher: identifyTeacher(settings.teacher), command: 'hybridize distill (test)'}
  const inputs = {student: hybridStudent(model), studentFolder: settings.student, teacher, tokenizer, eosId: teacher.config.eosTokenId as number, corpus, description, peers}
  return {outcome: await distill(settings, out, inputs, io, resume), model}
}

/** The student's weights a run wrote (out/student), by tensor name, in f32. */
export async function studentWeights(out: string): Promise<Map<string, Float32Array>> {
  const ckpt = await openCheckpoint(join(out, 'student'))
  const all = new Map<string, Float32Array>()
  for (const n of ckpt.names()) all.set(n, await ckpt.readF32(n))
  await ckpt.close()
  return all
}

/** The largest difference between two runs' weights, relative to each tensor's largest magnitude. */
export function maxRelative(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let worst = 0
  for (const [name, x] of a) {
    const y = b.get(name)!
    const scale = Math.max(...x.map(Math.abs), 1e-6)
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / scale)
  }
  return worst
}
