import {readFile} from 'node:fs/promises'
import {basename} from 'node:path'
import {HybridizeError} from '../../errors.js'
import {tokenLogprobs} from '../language-model.js'
import {rollingSample, type LmEvalSample} from '../samples.js'
import {textTokenizer, type EvalContext, type TaskResult} from './types.js'

/**
 * `ppl:<file>[,<file>...]`: perplexity of plain text over packed windows. The token stream is cut
 * into windows of `seqLen` predictions that overlap by one token, so every token but the first is
 * predicted exactly once, with up to `seqLen` tokens of context. Reported as lm-evaluation-harness
 * reports wikitext: word_perplexity, byte_perplexity, bits_per_byte, plus token perplexity.
 */
export async function runPerplexity(files: string[], seqLen: number, ctx: EvalContext): Promise<TaskResult> {
  const tok = textTokenizer(ctx)
  const texts = await Promise.all(files.map((f) => readFile(f, 'utf8')))
  let nll = 0
  let predicted = 0
  let words = 0
  let bytes = 0
  const samples: LmEvalSample[] = []
  for (const [doc, text] of texts.entries()) {
    const nllBefore = nll
    const predictedBefore = predicted
    const ids = tok.encode(text)
    if (ids.length < 2) throw new HybridizeError(`perplexity: a text tokenizes to fewer than 2 tokens`)
    const windows: number[][] = []
    for (let start = 0; start + 1 < ids.length; start += seqLen) windows.push(ids.slice(start, start + seqLen + 1))
    const limited = ctx.limit === undefined ? windows : windows.slice(0, ctx.limit)
    for (let b = 0; b < limited.length; b += ctx.batchSize) {
      const rows = limited.slice(b, b + ctx.batchSize)
      const inputs = rows.map((w) => w.slice(0, -1))
      const positions = rows.map((w) => w.slice(1).map((target, t) => ({t, target})))
      const scored = await tokenLogprobs(ctx.lm, inputs, positions)
      for (const row of scored) for (const x of row) nll -= x.logprob
      predicted += scored.reduce((a, r) => a + r.length, 0)
      ctx.progress(`perplexity ${Math.min(b + ctx.batchSize, limited.length)}/${limited.length} windows`)
    }
    // Words and bytes of exactly the tokens scored (all of them, unless --limit cut the windows).
    const scoredText = tok.decode(limited.flatMap((w) => w.slice(1)), {skipSpecialTokens: true})
    const docWords = scoredText.split(/\s+/).filter(Boolean).length
    const docBytes = Buffer.byteLength(scoredText, 'utf8')
    words += docWords
    bytes += docBytes
    if (ctx.logSamples) {
      const logprob = -(nll - nllBefore)
      // lm-eval logs a rolling task's per-document metrics as (log-likelihood, words or bytes) pairs.
      samples.push(rollingSample(doc, {file: files[doc], page: text}, text, logprob, {
        word_perplexity: [logprob, docWords], byte_perplexity: [logprob, docBytes], bits_per_byte: [logprob, docBytes], token_perplexity: [logprob, predicted - predictedBefore],
      }))
    }
  }
  const name = `ppl:${files.map((f) => basename(f)).join(',')}`
  return {
    task: name,
    // lm-eval has no standard error for its perplexity aggregations: "N/A".
    metrics: {
      'word_perplexity,none': Math.exp(nll / words),
      'word_perplexity_stderr,none': NaN,
      'byte_perplexity,none': Math.exp(nll / bytes),
      'byte_perplexity_stderr,none': NaN,
      'bits_per_byte,none': nll / bytes / Math.LN2,
      'bits_per_byte_stderr,none': NaN,
      'token_perplexity,none': Math.exp(nll / predicted),
      'token_perplexity_stderr,none': NaN,
    },
    samples: ctx.logSamples ? samples : undefined,
    counts: {original: files.length, effective: files.length},
    config: {
      task: name,
      dataset_path: files,
      output_type: 'loglikelihood_rolling',
      num_fewshot: 0,
      metric_list: [
        {metric: 'word_perplexity', aggregation: 'weighted_perplexity', higher_is_better: false},
        {metric: 'byte_perplexity', aggregation: 'weighted_perplexity', higher_is_better: false},
        {metric: 'bits_per_byte', aggregation: 'bits_per_byte', higher_is_better: false},
        {metric: 'token_perplexity', aggregation: 'weighted_perplexity', higher_is_better: false},
      ],
      metadata: {version: 1},
    },
  }
}
