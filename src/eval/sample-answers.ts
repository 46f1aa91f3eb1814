import type {Precision} from '../engine/precision.js'
import {generate} from '../generate/generate.js'
import {continuationText} from '../generate/text-stream.js'
import type {KvCacheDtype} from '../models/decode-cache.js'
import type {DecodingModel} from '../models/decoding-model.js'
import type {TextTokenizer} from '../tokenizer/load.js'
import {Random} from '../util/random.js'
import {extractAnswer} from './answer-extraction.js'

/** How a generation task samples: the sampler's settings and the longest answer. */
export interface AnswerSampling {
  temperature: number
  topP: number
  topK: number
  /** lm-eval's max_gen_toks. */
  maxGenToks: number
  eosTokenIds: readonly number[]
  /** How the decode computes (generate's options of these names); f32 when absent. */
  precision?: Precision
  kvCacheDtype?: KvCacheDtype
}

/**
 * Where an answer ends, besides an end-of-sequence token and max_gen_toks: lm-eval gsm8k's `until`
 * strings ("Question:" starts the next problem; a blank line ends the answer), and the end of the
 * GSM8K answer line (`#### n` then a newline). The text is cut before the stop string.
 */
export const UNTIL = ['Question:', '\n\n']
const ANSWER_LINE_END = /####[^\n]*\d[^\n]*\n/

/** The answer text: the continuation cut at the first `UNTIL` string or after the answer line. */
export function answerText(text: string): string {
  let end = text.length
  for (const s of UNTIL) {
    const at = text.indexOf(s)
    if (at >= 0 && at < end) end = at
  }
  const line = ANSWER_LINE_END.exec(text)
  if (line && line.index + line[0].length - 1 < end) end = line.index + line[0].length - 1
  return text.slice(0, end)
}

/**
 * Stop strings are short, so whether one has just been completed shows in the last few tokens:
 * decoding those alone keeps each step's check cheap (decoding the whole sample each step is
 * quadratic in its length).
 */
const TAIL_TOKENS = 16

export interface SampledAnswer {
  text: string
  /** The extracted number, or undefined. */
  answer: string | undefined
  /** When this sample ended, in seconds on `clock` (0 without one). */
  seconds: number
}

/**
 * `n` answers to one prompt, drawn as one batch; sample i from stream firstStream + i of `seed`.
 * `deadline()` true ends every sample still running (a time budget spent); those are marked cut.
 */
export async function sampleAnswers(
  model: DecodingModel,
  tok: TextTokenizer,
  prompt: readonly number[],
  opts: AnswerSampling & {n: number; seed: number; firstStream: number; clock?: () => number; deadline?: () => boolean},
): Promise<(SampledAnswer & {cut: boolean})[]> {
  const ended = new Array<number>(opts.n).fill(0)
  const cut = new Array<boolean>(opts.n).fill(false)
  const samples = await generate(model, prompt, {
    temperature: opts.temperature,
    topP: opts.topP,
    topK: opts.topK,
    maxNewTokens: opts.maxGenToks,
    n: opts.n,
    seed: opts.seed,
    firstStream: opts.firstStream,
    eosTokenIds: opts.eosTokenIds,
    precision: opts.precision,
    kvCacheDtype: opts.kvCacheDtype,
    stopWhen: (i, tokens) => {
      if (opts.deadline?.()) return (cut[i] = true)
      const tail = tok.decode(tokens.slice(-TAIL_TOKENS), {skipSpecialTokens: true})
      return UNTIL.some((s) => tail.includes(s)) || ANSWER_LINE_END.test(tail)
    },
    onDone: (i) => {
      ended[i] = opts.clock?.() ?? 0
    },
  })
  return samples.map((s, i) => {
    const text = answerText(continuationText(tok, prompt, s.tokens))
    return {text, answer: extractAnswer(text), seconds: ended[i], cut: cut[i]}
  })
}

/** Each problem's own sampler seed, so problem d's samples do not depend on which problems ran before it. */
export function problemSeed(seed: number, doc: number): number {
  return new Random(seed, doc).uint32()
}

/**
 * A prompt's tokens as lm-eval's HF model encodes generation contexts (tok_batch_encode): with the
 * tokenizer's own special tokens (a Llama tokenizer's BOS), unless the prompt already starts with
 * the BOS token's text.
 */
export function encodePrompt(tok: Pick<TextTokenizer, 'encode'>, prompt: string, bosText: string | undefined): number[] {
  return tok.encode(prompt, {addSpecialTokens: !(bosText && prompt.startsWith(bosText))})
}
