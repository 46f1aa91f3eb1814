import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {evaluate} from '../../src/api/evaluate.js'
import {CpuBackend} from '../../src/backend/cpu.js'
import {encodePair} from '../../src/eval/loglikelihood.js'
import {loadTokenizer} from '../../src/tokenizer/load.js'
import {repoRoot} from '../helpers/paths.js'

/**
 * Issue 22's acceptance: on a held-out 12-item multiple-choice task (fixtures/tasks/mc-heldout-12.jsonl,
 * general-knowledge questions written for this check, never trained or selected on),
 * `hybridize eval --tasks mc:FILE` gives what transformers gives when the file is scored the
 * lm-evaluation-harness way (scripts/mc-reference.py, run on the GPU machine by
 * scripts/mc-reference-h200.sh): the same tokens, every choice's log-likelihood within 1e-4
 * (relative), the same greedy flags, acc and acc_norm per item and over the task.
 */
const TASK = join(repoRoot, 'fixtures', 'tasks', 'mc-heldout-12.jsonl')

interface ReferenceItem {
  context: string
  continuations: string[]
  context_tokens: number[]
  continuation_tokens: number[][]
  logprobs: number[]
  is_greedy: boolean[]
  acc: number
  acc_norm: number
}

interface Reference {
  versions: Record<string, string>
  metrics: Record<'acc,none' | 'acc_stderr,none' | 'acc_norm,none' | 'acc_norm_stderr,none', number>
  items: ReferenceItem[]
}

describe.each(['llama-tiny', 'phi-tiny'])('mc-heldout-12 on fixtures/%s against transformers', (model) => {
  const file = join(repoRoot, 'fixtures', 'reference', 'mc-heldout-12', `${model}.json`)
  const missing = existsSync(file) ? '' : `(skipped: no fixtures/reference/mc-heldout-12/${model}.json yet; scripts/mc-reference-h200.sh makes it on the GPU machine) `

  it.skipIf(missing !== '')(`${missing}scores every choice, acc and acc_norm as transformers scored them the lm-eval way`, async () => {
    const reference = JSON.parse(readFileSync(file, 'utf8')) as Reference
    const folder = join(repoRoot, 'fixtures', model)
    const backend = new CpuBackend()
    const {runs} = await evaluate({models: [folder], tasks: `mc:${TASK}`, logSamples: true, device: backend}).finally(() => backend.destroy())
    const result = runs[0].results[0]
    expect(result.samples).toHaveLength(reference.items.length)

    // The same requests, split into the same tokens (lm-eval's _encode_pair).
    const tok = await loadTokenizer(folder)
    for (const [i, item] of reference.items.entries()) {
      item.continuations.forEach((continuation, c) => {
        expect(encodePair(tok, item.context, continuation), `item ${i} choice ${c}`).toEqual({context: item.context_tokens, continuation: item.continuation_tokens[c]})
      })
    }
    for (const [i, sample] of result.samples!.entries()) {
      const item = reference.items[i]
      ;(sample.filtered_resps as string[][]).forEach(([logprob, greedy], c) => {
        const want = item.logprobs[c]
        expect(Math.abs(Number(logprob) - want) / Math.abs(want), `item ${i} choice ${c}: ${logprob}, transformers ${want}`).toBeLessThan(1e-4)
        expect(greedy, `item ${i} choice ${c} is_greedy`).toBe(item.is_greedy[c] ? 'True' : 'False')
      })
      // Written as Python floats (PyFloat); their JSON is the number.
      expect(JSON.parse(JSON.stringify([sample.acc, sample.acc_norm])), `item ${i} acc, acc_norm`).toEqual([item.acc, item.acc_norm])
    }
    for (const metric of ['acc,none', 'acc_norm,none'] as const) expect(result.metrics[metric], metric).toBe(reference.metrics[metric])
    for (const metric of ['acc_stderr,none', 'acc_norm_stderr,none'] as const) expect(result.metrics[metric], metric).toBeCloseTo(reference.metrics[metric], 12)
  })
})
