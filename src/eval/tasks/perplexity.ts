import {readFile} from 'node:fs/promises'
import {basename} from 'node:path'
import {HybridizeError} from '../../errors.js'
import {tokenLogprobs} from '../token-logprobs.js'
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
  for (const text of texts) {
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
    words += scoredText.split(/\s+/).filter(Boolean).length
    bytes += Buffer.byteLength(scoredText, 'utf8')
  }
  return {
    task: `ppl:${files.map((f) => basename(f)).join(',')}`,
    metrics: {
      'word_perplexity,none': Math.exp(nll / words),
      'byte_perplexity,none': Math.exp(nll / bytes),
      'bits_per_byte,none': nll / bytes / Math.LN2,
      'token_perplexity,none': Math.exp(nll / predicted),
    },
  }
}
