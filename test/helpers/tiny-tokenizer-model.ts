import {copyFile, mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {writeTokenizer} from '../../src/tokenizer/tokenizer-json.js'
import {trainBpe} from '../../src/tokenizer/train-bpe.js'
import {tokenizerTrainingTexts} from '../../src/tokenizer/training-corpus.js'
import {fixtureReference} from './paths.js'

/**
 * A temporary copy of the reference llama-tiny (vocabulary 512) with a 512-token byte-level BPE
 * tokenizer trained for it, for tests that need text in and out. The weights are random, so the
 * text is nonsense, but every code path from text to tokens to logits and back is real.
 */
export async function tinyModelWithTokenizer(): Promise<{folder: string; cleanup: () => Promise<void>}> {
  const folder = await mkdtemp(join(tmpdir(), 'hybridize-tiny-tok-'))
  const source = join(fixtureReference, 'llama-tiny')
  for (const f of ['config.json', 'generation_config.json', 'model.safetensors']) await copyFile(join(source, f), join(folder, f))
  await writeTokenizer(folder, trainBpe(tokenizerTrainingTexts({seed: 0, samplesPerTask: 20, brownDocuments: 10}), {vocabSize: 512}))
  return {folder, cleanup: () => rm(folder, {recursive: true, force: true})}
}
