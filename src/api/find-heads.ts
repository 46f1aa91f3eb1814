import {findHeads as searchHeads, type FindHeadsOptions, type FindHeadsResult} from '../heads/find-heads.js'
import {checkHeadsDestination, headsJson, writeHeadsFiles} from '../heads/heads-file.js'
import type {HeadsFileJson} from '../heads/heads-schema.js'
import {identifyWhile} from '../hub/model-identity.js'
import {checkFileDestination} from '../io/atomic.js'
import {headsModel} from '../heads/head-layout.js'
import {loadModel} from '../models/load-model.js'
import {withDefaults} from './defaults.js'
import {withModel, withPeerBackends, type BackendChoice} from './session.js'

/** `hybridize find-heads` from code: a model reference in, the ranking and heads.json out. */
export interface FindHeadsRequest extends BackendChoice, Partial<Omit<FindHeadsOptions, 'progress'>> {
  /** A model folder, or org/name[@revision] in the Hugging Face cache. */
  model: string
  /** Write heads.json here (atomically) and its heatmap beside it as .svg. */
  out?: string
  /** Replace `out` even if find-heads did not write it. */
  force?: boolean
  /** Devices to share the ablations among (`device` opens each); 1 by default. */
  devices?: number
}

export interface FindHeadsOutput {
  /** heads.json's content (written to `out` when given). */
  heads: HeadsFileJson
  result: FindHeadsResult
  files?: {json: string; svg: string}
}

/** What `hybridize find-heads` does without flags (its flags' defaults; --budget 2%). */
export const FIND_HEADS_DEFAULTS: Omit<FindHeadsOptions, 'progress'> = {
  task: 'kv-retrieval', samples: 50, pairs: 20, seed: 0, ablation: 'zero', select: {fraction: 0.02}, selection: 'individual', randomDraws: 5, precision: 'f32',
}

export async function findHeads(request: FindHeadsRequest): Promise<FindHeadsOutput> {
  const {model: name, out, force = false, device, status, devices = 1, ...chosen} = request
  const opts: FindHeadsOptions = {...withDefaults(FIND_HEADS_DEFAULTS, chosen), progress: status}
  if (out !== undefined) {
    await checkFileDestination(out)
    await checkHeadsDestination(out, force)
  }
  return withModel(name, {device, status}, async ({folder, tokenizer}, backend) => withPeerBackends({device, status}, devices, async (peerBackends) => {
    const [identity, model] = await identifyWhile(name, folder, async () => headsModel(await loadModel(folder, backend)))
    const peers = []
    for (const on of peerBackends) peers.push(headsModel(await loadModel(folder, on)))
    const result = await searchHeads(model, tokenizer, opts, peers)
    const {skeleton} = model
    const heads = headsJson(identity, opts, result, {layers: skeleton.numLayers, heads: skeleton.numHeads, kvHeads: skeleton.numKvHeads})
    const files = out === undefined ? undefined : await writeHeadsFiles(out, heads, result, `${name}: ${opts.task} accuracy drop per ablated head`)
    return {heads, result, files}
  }))
}
