import {spawnSync} from 'node:child_process'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

/**
 * lm-evaluation-harness's own code reads what `hybridize eval` writes (scripts/lm-eval-read-results.py: its file-name
 * rules, make_table on the results, every samples line), run only where HYBRIDIZE_LM_EVAL_PYTHON names a python that
 * imports lm_eval (e.g. a virtualenv with `pip install lm_eval`); test/eval/lm-eval-results.test.ts checks the same
 * file against our transcription of those readers on every run.
 */
const python = process.env.HYBRIDIZE_LM_EVAL_PYTHON
const TASKS = ['kv-retrieval', 'mc:fixtures/tasks/mc-heldout-12.jsonl', 'ppl:brown-heldout']

describe.skipIf(!python)('interoperability with lm-evaluation-harness (HYBRIDIZE_LM_EVAL_PYTHON)', () => {
  let out: string
  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'hybridize-lm-eval-'))
  })
  afterAll(() => rm(out, {recursive: true, force: true}))

  it("lm_eval.utils finds the results and samples files, and make_table renders every task's metrics", () => {
    const args = ['bin/run.js', 'eval', 'fixtures/llama-tiny', '--tasks', TASKS.join(','), '--limit', '2', '--device', 'cpu', '--output-path', out, '--log-samples', '-q']
    const evaluated = spawnSync(process.execPath, args, {encoding: 'utf8'})
    expect(evaluated.status, evaluated.stderr).toBe(0)
    const read = spawnSync(python!, ['scripts/lm-eval-read-results.py', out], {encoding: 'utf8'})
    expect(read.status, read.stderr).toBe(0)
    for (const task of ['kv-retrieval', 'mc:mc-heldout-12.jsonl', 'ppl:brown-heldout']) expect(read.stdout).toContain(`| ${task} |`)
    expect(read.stdout).toMatch(/\| word_perplexity \| ↓ \| [\d.]+ \| ± \| +N\/A \|/)
    expect(read.stdout.match(/: \d+ samples$/gm)).toHaveLength(3)
  }, 120_000)
})
