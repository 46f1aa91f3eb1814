import {readFile, stat} from 'node:fs/promises'
import {basename} from 'node:path'
import {HybridizeError} from '../../errors.js'
import {brownDocuments, brownText} from '../../tasks/brown.js'
import {mapOnDevices} from '../on-devices.js'
import {tokenLogprobs} from '../token-logprobs.js'
import {rollingSample, type LmEvalSample} from '../samples.js'
import {textTokenizer, type EvalContext, type TaskResult} from './types.js'

/** The `ppl:` entry that names the held-out part of the Brown corpus (see runPerplexity). */
export const BROWN_HELDOUT = 'brown-heldout'

interface PerplexityDocument {
  name: string
  text: string
}

async function perplexityDocuments(entries: string[]): Promise<PerplexityDocument[]> {
  const documents: PerplexityDocument[] = []
  for (const entry of entries) {
    if (entry === BROWN_HELDOUT && !(await stat(entry).catch(() => undefined))) {
      documents.push(...brownDocuments('heldout').map((doc) => ({name: `${BROWN_HELDOUT}/${doc.id}`, text: brownText(doc)})))
    } else {
      documents.push({name: entry, text: await readFile(entry, 'utf8')})
    }
  }
  return documents
}

/**
 * `ppl:<file>[,<file>...]`: perplexity of each file's text as lm-evaluation-harness's
 * loglikelihood_rolling computes it (HFLM.loglikelihood_rolling with get_rolling_token_windows,
 * context_len 1): the first token is predicted from the prefix token (BOS, else EOS), and the
 * tokens are cut into windows of `seqLen` predictions, each conditioned on the tokens before it
 * in its window (rollingWindows). Reported as lm-eval reports wikitext: word_perplexity (words counted as
 * len(re.split(r"\s+", text))), byte_perplexity and bits_per_byte (UTF-8 bytes), plus token
 * perplexity. --limit keeps the first windows of each file, and counts the words and bytes of the
 * text they predict.
 *
 * `ppl:brown-heldout` (unless a file of that name exists, as with `--data brown`) is the held-out part of the
 * Brown corpus, one document per file (52 files, tasks/brown.ts): text `distill --data brown` never reads.
 */
export async function runPerplexity(entries: string[], seqLen: number, ctx: EvalContext): Promise<TaskResult> {
  const tok = textTokenizer(ctx)
  if (ctx.prefixTokenId === undefined) {
    throw new HybridizeError('perplexity: the tokenizer names no BOS or EOS token to predict the first token from', {code: 'E_NO_TOKENIZER'})
  }
  const documents = await perplexityDocuments(entries)
  const files = documents.map((d) => d.name)
  let nll = 0
  let predicted = 0
  let words = 0
  let bytes = 0
  const samples: LmEvalSample[] = []
  for (const [doc, {text}] of documents.entries()) {
    const nllBefore = nll
    const predictedBefore = predicted
    const ids = [ctx.prefixTokenId, ...tok.encode(text)]
    if (ids.length < 2) throw new HybridizeError(`perplexity: ${files[doc]} encodes to no tokens`, {code: 'E_TASK'})
    const windows = rollingWindows(ids, seqLen)
    const limited = ctx.limit === undefined ? windows : windows.slice(0, ctx.limit)
    const batches = Array.from({length: Math.ceil(limited.length / ctx.batchSize)}, (_, b) => limited.slice(b * ctx.batchSize, (b + 1) * ctx.batchSize))
    let windowsDone = 0
    // Batches on every device at once (--devices), summed below in batch order.
    const scoredBatches = await mapOnDevices(ctx, batches, async (on, rows) => {
      const inputs = rows.map((w) => w.tokens.slice(0, -1))
      const positions = rows.map((w) => w.tokens.slice(-w.predict).map((target, k) => ({t: w.tokens.length - w.predict - 1 + k, target})))
      const scored = await tokenLogprobs(on.lm, inputs, positions, {precision: ctx.precision})
      ctx.progress(`perplexity ${(windowsDone += rows.length)}/${limited.length} windows`)
      return scored
    })
    for (const scored of scoredBatches) {
      for (const row of scored) for (const x of row) nll -= x.logprob
      predicted += scored.reduce((a, r) => a + r.length, 0)
    }
    // Words and bytes of the text scored: all of it, unless --limit cut the windows.
    const scoredText = limited.length === windows.length ? text : tok.decode(limited.flatMap((w) => w.tokens.slice(-w.predict)), {skipSpecialTokens: true})
    const docWords = scoredText.split(/\s+/).length
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
  const name = `ppl:${entries.map((f) => basename(f)).join(',')}`
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
      dataset_path: entries,
      output_type: 'loglikelihood_rolling',
      num_fewshot: 0,
      metric_list: [
        {metric: 'word_perplexity', aggregation: 'weighted_perplexity', higher_is_better: false},
        {metric: 'byte_perplexity', aggregation: 'weighted_perplexity', higher_is_better: false},
        {metric: 'bits_per_byte', aggregation: 'bits_per_byte', higher_is_better: false},
        {metric: 'token_perplexity', aggregation: 'weighted_perplexity', higher_is_better: false},
      ],
      metadata: {version: PPL_VERSION},
    },
  }
}

/** Version 2: the first token is predicted too, from the prefix token, and words and bytes are the text's (version 1 skipped it). */
const PPL_VERSION = 2

/**
 * lm-eval's get_rolling_token_windows with context_len 1 (lm_eval/utils.py) over `ids`, the prefix
 * token then the text's tokens: chunks of up to `seqLen` predictions, each row the `seqLen` tokens
 * before its chunk's end (one token of context for a full chunk, more for the last, shorter one)
 * plus the chunk's last token; `predict` is how many of the row's last tokens are scored.
 */
export function rollingWindows(ids: number[], seqLen: number): {tokens: number[]; predict: number}[] {
  const windows: {tokens: number[]; predict: number}[] = []
  for (let p0 = 1; p0 < ids.length; ) {
    const p1 = Math.min(p0 + seqLen, ids.length)
    windows.push({tokens: ids.slice(Math.max(0, p1 - 1 - seqLen), p1), predict: p1 - p0})
    p0 = p1
  }
  return windows
}
