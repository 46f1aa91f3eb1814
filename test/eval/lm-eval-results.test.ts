import {createHash} from 'node:crypto'
import {mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {runCli} from '../helpers/cli.js'
import {tinyModelWithTokenizer} from '../helpers/tiny-tokenizer-model.js'
import {
  getFileTaskName, getLatestFilename, getResultsFilenames, getSampleResultsFilenames, loadPythonJson, makeTable, PyFloat, zenoRead,
} from './lm-eval-readers.js'

/** Every key of lm_eval/result_schema.py's EvalResults that a run without groups or in-memory samples writes. */
const LM_EVAL_KEYS = [
  'results', 'group_subtasks', 'configs', 'versions', 'n-shot', 'higher_is_better', 'n-samples', 'config', 'git_hash', 'date',
  'pretty_env_info', 'transformers_version', 'lm_eval_version', 'upper_git_hash', 'tokenizer_pad_token', 'tokenizer_eos_token',
  'tokenizer_bos_token', 'eot_token_id', 'max_length', 'task_hashes', 'model_source', 'model_name', 'model_name_sanitized',
  'system_instruction', 'system_instruction_sha', 'fewshot_as_multiturn', 'chat_template', 'chat_template_sha', 'total_evaluation_time_seconds',
]

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex')

describe("eval's results and samples files load in lm-evaluation-harness's readers", () => {
  let root: string
  let fixture: Awaited<ReturnType<typeof tinyModelWithTokenizer>>
  let files: string[]
  let results: ReturnType<typeof loadPythonJson>
  let before: number
  let after: number

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'hybridize-lm-eval-'))
    fixture = await tinyModelWithTokenizer()
    const items = [
      {context: 'The river ran past the', choices: ['engine', 'house', 'garden'], gold: 1},
      {context: 'Question: which came first?\nAnswer:', choices: ['river', 'needle'], gold: 0},
      {context: 'One two three', choices: ['four', 'five'], gold: 0},
    ]
    await writeFile(join(root, 'items.jsonl'), items.map((x) => JSON.stringify(x)).join('\n') + '\n')
    await writeFile(join(root, 'text.txt'), 'The value of the key is the number that follows it in the dictionary.\n')
    before = Date.now() / 1000
    // --limit 1: one mc question, so its standard errors cannot be computed ("N/A").
    const r = runCli(['eval', fixture.folder, '--tasks', `mc:${join(root, 'items.jsonl')},ppl:${join(root, 'text.txt')},kv-retrieval`,
      '--limit', '1', '--log-samples', '--output-path', join(root, 'out'), '--device', 'cpu', '--seq-len', '16'])
    after = Date.now() / 1000
    expect(r.stderr).not.toMatch(/Error|at /)
    expect(r.status).toBe(0)
    const folder = join(root, 'out', fixture.folder.replace(/["<>:/|\\?*[\]]+/g, '__'))
    files = (await readdir(folder)).map((f) => `${folder}/${f}`)
    results = loadPythonJson(await readFile(getLatestFilename(getResultsFilenames(files)), 'utf8'))
  }, 180_000)
  afterAll(async () => {
    await fixture?.cleanup()
    await rm(root, {recursive: true, force: true})
  })

  it('names files as the EvaluationTracker does: <model, sanitized>/results_<isoformat date>.json', () => {
    const names = files.map((f) => f.slice(f.lastIndexOf('/') + 1))
    const date = /^results_(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d(\.\d{6})?)\.json$/.exec(names.find((n) => n.startsWith('results_'))!)![1]
    expect(names.sort()).toEqual([`results_${date}.json`, `samples_kv_retrieval_${date}.jsonl`, `samples_mc_items_jsonl_${date}.jsonl`, `samples_ppl_text_txt_${date}.jsonl`])
  })

  it('has every key lm-eval writes, with its types', () => {
    const r = results as Record<string, unknown>
    expect(Object.keys(r).filter((k) => LM_EVAL_KEYS.includes(k))).toEqual(LM_EVAL_KEYS)
    expect(r.date).toBeInstanceOf(PyFloat)
    expect((r.date as PyFloat).value).toBeGreaterThanOrEqual(before - 1)
    expect((r.date as PyFloat).value).toBeLessThanOrEqual(after)
    const tasks = ['mc:items.jsonl', 'ppl:text.txt', 'kv-retrieval']
    for (const key of ['results', 'group_subtasks', 'configs', 'versions', 'n-shot', 'higher_is_better', 'n-samples', 'task_hashes']) {
      expect(Object.keys(r[key] as object).sort(), key).toEqual([...tasks].sort())
    }
    const mc = (r.results as Record<string, Record<string, unknown>>)['mc:items.jsonl']
    expect(Object.keys(mc)).toEqual(['name', 'alias', 'sample_len', 'acc,none', 'acc_stderr,none', 'acc_norm,none', 'acc_norm_stderr,none'])
    expect(mc['acc_stderr,none']).toBe('N/A')
    expect(mc['acc,none']).toBeInstanceOf(PyFloat)
    expect((r['n-samples'] as Record<string, unknown>)['mc:items.jsonl']).toEqual({original: 3, effective: 1})
    expect((r.versions as Record<string, PyFloat>)['mc:items.jsonl'].value).toBe(2)
    expect((r.config as Record<string, unknown>).limit).toBe(1)
    expect(typeof r.total_evaluation_time_seconds).toBe('string')
    expect(r.model_name).toBe(fixture.folder)
  })

  it("lm_eval.utils.make_table prints it: versions, n-shot, arrows, floats as 0.0000, N/A standard errors", () => {
    const rows = makeTable(results)
    const first = rows.findIndex((x) => x[0] === 'mc:items.jsonl')
    const mc = rows.slice(first, first + 2)
    expect(mc[0].slice(0, 6)).toEqual(['mc:items.jsonl', '2.0', 'none', '0', 'acc', '↑'])
    expect(mc[0][6]).toMatch(/^[01]\.0000$/)
    expect(mc[0].slice(7)).toEqual(['±', '   N/A'])
    expect(mc[1].slice(4, 6)).toEqual(['acc_norm', '↑'])
    const ppl = rows.find((x) => x[0] === 'ppl:text.txt')!
    expect(ppl.slice(4, 6)).toEqual(['bits_per_byte', '↓'])
    expect(ppl[6]).toMatch(/^\d+\.\d{4}$/)
    // kv-retrieval pools the sweep points that fit the model's 256 positions, 1 sample each: a computed standard error.
    const kv = rows.slice(rows.findIndex((x) => x[0] === 'kv-retrieval'))
    expect(kv.find((x) => x[4] === 'acc' && x[2] === 'none')![8]).toMatch(/^\d\.\d{4}$/)
  })

  it("scripts/zeno_visualize.py reads each task's config and samples", async () => {
    const sampleFiles = getSampleResultsFilenames(files)
    for (const task of ['mc:items.jsonl', 'ppl:text.txt', 'kv-retrieval']) {
      const file = sampleFiles.find((f) => getFileTaskName(f.slice(f.lastIndexOf('/') + 1)) === task.replace(/\W/g, '_'))!
      const lines = (await readFile(file, 'utf8')).trim().split('\n').map((l) => loadPythonJson(l))
      const read = zenoRead(results, task, lines)
      expect(read.ids.length).toBe(lines.length)
      const hashes = lines.map((l) => {
        const s = l as Record<string, string>
        return s.doc_hash + s.prompt_hash + s.target_hash
      })
      expect(((results as Record<string, Record<string, string>>).task_hashes)[task]).toBe(sha256(hashes.join('')))
    }
  })

  it('writes mc samples in lm-eval\'s sample schema: one loglikelihood request per choice, delimiter included', async () => {
    const file = getSampleResultsFilenames(files).find((f) => f.includes('samples_mc_items_jsonl_'))!
    const text = await readFile(file, 'utf8')
    // json.dumps separators: ', ' and ': '.
    expect(text.startsWith('{"doc_id": 0, "doc": {"context": ')).toBe(true)
    const s = loadPythonJson(text.trim()) as Record<string, unknown>
    expect(Object.keys(s)).toEqual(['doc_id', 'doc', 'target', 'arguments', 'resps', 'filtered_resps', 'filter', 'metrics', 'doc_hash', 'prompt_hash', 'target_hash', 'acc', 'acc_norm'])
    expect(s.target).toBe('1')
    expect(s.arguments).toEqual({
      gen_args_0: {arg_0: 'The river ran past the', arg_1: ' engine'},
      gen_args_1: {arg_0: 'The river ran past the', arg_1: ' house'},
      gen_args_2: {arg_0: 'The river ran past the', arg_1: ' garden'},
    })
    const filtered = s.filtered_resps as string[][]
    expect(filtered).toHaveLength(3)
    for (const [lp, greedy] of filtered) {
      expect(Number(lp)).toBeLessThan(0)
      expect(['True', 'False']).toContain(greedy)
    }
    expect(s.resps).toEqual(filtered.map((f) => [f]))
    expect(s.prompt_hash).toBe(sha256('The river ran past the'))
    expect(s.target_hash).toBe(sha256('1'))
    expect(s.acc).toBeInstanceOf(PyFloat)
  })
})
