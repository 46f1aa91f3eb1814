import {mkdtemp, readdir, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {EvalRun, RunSettings} from '../../src/eval/lm-eval-results.js'
import {sanitizeModelName, writeReports} from '../../src/eval/report.js'

const SETTINGS: RunSettings = {batchSize: 8, limit: null, seed: 1, precision: 'f32', kvCacheDtype: 'f32', device: 'cpu', environment: 'test', hybridizeVersion: '0.0.0'}

function run(model: string): EvalRun {
  return {
    model,
    results: [{
      task: 'mc:q.jsonl', metrics: {'acc,none': 0.5, 'acc_stderr,none': 0.25}, counts: {original: 4, effective: 4},
      config: {task: 'mc:q.jsonl', output_type: 'multiple_choice', num_fewshot: 0, metric_list: [{metric: 'acc', aggregation: 'mean', higher_is_better: true}], metadata: {version: 2}},
    }],
    info: {numParameters: 1, revision: 'main', sha: '', padToken: [null, 'None'], eosToken: [null, 'None'], bosToken: [null, 'None'], eotTokenId: null, maxLength: 2048},
    startTime: 1e9,
    seconds: 1.5,
  }
}

describe('--output-path as lm-eval reads it', () => {
  let root: string
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'hybridize-output-path-'))
  })
  afterAll(() => rm(root, {recursive: true, force: true}))

  it('a folder gets one folder per model, named by lm_eval.utils.sanitize_model_name', async () => {
    const now = new Date(2026, 0, 2, 3, 4, 5, 678)
    const files = await writeReports(join(root, 'out'), [run('./runs/phi-tiny'), run('org/model@v1')], SETTINGS, now)
    expect(files).toEqual([
      join(root, 'out', '.__runs__phi-tiny', 'results_2026-01-02T03-04-05.678000.json'),
      join(root, 'out', 'org__model@v1', 'results_2026-01-02T03-04-05.678000.json'),
    ])
    expect(sanitizeModelName('a/b:c|d?e*f[g]h"<>\\\\i')).toBe('a__b__c__d__e__f__g__h__i')
  })

  it('a path ending in .json names the results file, NAME_<date>.json, for one model', async () => {
    const files = await writeReports(join(root, 'res', 'phi.json'), [run('m')], SETTINGS, new Date(2026, 0, 2, 3, 4, 5, 0))
    expect(files).toEqual([join(root, 'res', 'phi_2026-01-02T03-04-05.json')])
    expect(await readdir(join(root, 'res'))).toEqual(['phi_2026-01-02T03-04-05.json'])
    await expect(writeReports(join(root, 'res', 'two.json'), [run('a'), run('b')], SETTINGS)).rejects.toThrow(/names one results file, and 2 models were given; give a folder/)
  })
})
