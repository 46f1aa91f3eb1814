import {mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {CpuBackend} from '../../src/backend/cpu.js'
import {writeCharts} from '../../src/eval/report.js'
import {parseTaskList, runTask} from '../../src/eval/run-tasks.js'
import {answerText, encodePrompt} from '../../src/eval/sample-answers.js'
import {majorityVote, passAtK} from '../../src/eval/sampling-metrics.js'
import {pythonRepr} from '../../src/eval/samples.js'
import {parseGenerationJsonl} from '../../src/eval/tasks/generation-docs.js'
import type {GenerationSettings} from '../../src/eval/tasks/generation.js'
import {parseTimeBudgets} from '../../src/eval/tasks/time-budget.js'
import type {EvalContext} from '../../src/eval/tasks/types.js'
import {loadModel} from '../../src/models/load-model.js'
import {arithmeticProblems} from '../../src/tasks/arithmetic-cot.js'
import {loadTokenizer} from '../../src/tokenizer/load.js'
import {runCli} from '../helpers/cli.js'
import {getResultsFilenames, loadPythonJson, makeTable} from './lm-eval-readers.js'
import {tinyModelWithTokenizer} from '../helpers/tiny-tokenizer-model.js'

describe('arith-cot problems', () => {
  const problems = arithmeticProblems(7, 60)

  it('are fixed by the seed, and each chain of thought adds up to its #### answer', () => {
    expect(arithmeticProblems(7, 60)).toEqual(problems)
    expect(arithmeticProblems(8, 60)).not.toEqual(problems)
    for (const p of problems) {
      expect(p.prompt).toMatch(/^Question: .* How many \w+ does \w+ have now\?\nAnswer:$/)
      const [cot, final] = p.answer.split('\n#### ')
      let last = Number(/starts with (\d+)/.exec(cot)![1])
      // Every "a op b = c" holds, and the last result is the answer.
      for (const [, a, op, b, c] of cot.matchAll(/(\d+) ([-+*]) (\d+) = (\d+)/g)) {
        const v = op === '+' ? +a + +b : op === '-' ? +a - +b : +a * +b
        expect(v).toBe(Number(c))
        last = v
      }
      expect(final).toBe(String(last))
      expect(last).toBeGreaterThanOrEqual(0)
    }
  })
})

describe('generation task input', () => {
  it('reads {"prompt", "answer"} lines, the gold answer being its number', () => {
    const docs = parseGenerationJsonl('{"prompt": "Q: 2+2?\\nA:", "answer": "2 + 2 = 4\\n#### 4"}\n\n{"prompt": "p", "answer": 1500}\n', 'f.jsonl')
    expect(docs.map((d) => d.gold)).toEqual(['4', '1500'])
  })

  it('refuses a bad line, naming it', () => {
    expect(() => parseGenerationJsonl('{"prompt": "p", "answer": "4"}\n{"prompt": "p"}', 'f.jsonl')).toThrow(/f.jsonl:2: "answer" must be/)
    expect(() => parseGenerationJsonl('{"prompt": "p", "answer": "none"}', 'f.jsonl')).toThrow(/f.jsonl:1: "answer" holds no number/)
    expect(() => parseGenerationJsonl('{"prompt": "", "answer": "4"}', 'f.jsonl')).toThrow(/f.jsonl:1: "prompt" must be/)
    expect(() => parseGenerationJsonl('nope', 'f.jsonl')).toThrow(/f.jsonl:1: not valid JSON/)
    expect(() => parseGenerationJsonl('\n', 'f.jsonl')).toThrow(/no problems/)
  })

  it('a gen: task takes one file, and arith-cot is a task name', () => {
    expect(parseTaskList('gen:a.jsonl,arith-cot,kv-retrieval')).toEqual(['gen:a.jsonl', 'arith-cot', 'kv-retrieval'])
    expect(() => parseTaskList('gen:a.jsonl,b.jsonl')).toThrow(/write gen:b.jsonl for another/)
  })

  it('an answer ends at a stop string or after the #### line', () => {
    expect(answerText(' 3 + 4 = 7.\n#### 7\nQuestion: next')).toBe(' 3 + 4 = 7.\n#### 7')
    expect(answerText(' 7 apples.\n\nMore text 9')).toBe(' 7 apples.')
    expect(answerText(' 5 then Question: 6')).toBe(' 5 then ')
    expect(answerText(' #### 12')).toBe(' #### 12')
  })

  it("a prompt gets the tokenizer's special tokens (BOS), unless it starts with the BOS text", () => {
    // A tokenizer whose post-processor puts BOS (1) in front, as Llama's does; characters are tokens.
    const tok = {encode: (text: string, o?: {addSpecialTokens?: boolean}) => [...(o?.addSpecialTokens ?? true ? [1] : []), ...[...text].map((c) => c.charCodeAt(0))]}
    expect(encodePrompt(tok, 'Q', '<s>')).toEqual([1, 81])
    expect(encodePrompt(tok, '<s>Q', '<s>')).toEqual([60, 115, 62, 81])
    expect(encodePrompt(tok, 'Q', undefined)).toEqual([1, 81])
  })

  it('--time-budget reads durations, sorted, and refuses anything else', () => {
    expect(parseTimeBudgets('30s,10s,1m,10')).toEqual([10, 30, 60])
    expect(parseTimeBudgets('0.5s,1.5')).toEqual([0.5, 1.5])
    expect(() => parseTimeBudgets('10s,fast')).toThrow(/--time-budget must be durations/)
    expect(() => parseTimeBudgets('0s')).toThrow(/--time-budget/)
  })

  it('gen_kwargs are written as Python writes a dict', () => {
    expect(pythonRepr({until: ['Question:', '\n\n'], do_sample: true, top_k: 0, x: null, q: "it's"})).toBe(`{'until': ['Question:', '\\n\\n'], 'do_sample': True, 'top_k': 0, 'x': None, 'q': "it's"}`)
  })
})

describe('generation tasks on a tiny model', () => {
  let model: Awaited<ReturnType<typeof tinyModelWithTokenizer>>
  let root: string
  beforeAll(async () => {
    model = await tinyModelWithTokenizer()
    root = await mkdtemp(join(tmpdir(), 'hybridize-gen-'))
  })
  afterAll(async () => {
    await model.cleanup()
    await rm(root, {recursive: true, force: true})
  })

  const sampling: GenerationSettings = {numSamples: 4, temperature: 1.5, topP: 1, topK: 0, maxGenToks: 12}
  const run = async (spec: string, generation: GenerationSettings, opts: Partial<EvalContext> = {}) => {
    const backend = new CpuBackend()
    const lm = await loadModel(model.folder, backend)
    const ctx: EvalContext = {lm, tokenizer: await loadTokenizer(model.folder), batchSize: 3, seed: 5, logSamples: true, progress: () => {}, generation, eosTokenIds: [], ...opts}
    try {
      return await runTask(spec, ctx, 64)
    } finally {
      for (const w of lm.weights.values()) w.dispose()
    }
  }

  it('samples K answers a problem (in batches), and reports score-first, maj@k and pass@k from them', async () => {
    const file = join(root, 'p.jsonl')
    const prompts = ['Question: Mia has 3 apples.', 'The value of the key', '12 + 30 =']
    await writeFile(file, prompts.map((p, i) => JSON.stringify({prompt: p, answer: `#### ${i}`})).join('\n'))
    const first = await run(`gen:${file}`, sampling)
    expect(first.task).toBe('gen:p.jsonl')
    expect(Object.keys(first.metrics).filter((k) => !k.includes('_stderr')).sort()).toEqual(
      ['exact_match,maj@2', 'exact_match,maj@4', 'exact_match,score-first', 'pass@1,extract', 'pass@2,extract', 'pass@4,extract'],
    )
    expect(first.metrics['exact_match_stderr,maj@4']).toBeGreaterThanOrEqual(0)
    // One record per problem and filter, as lm-eval logs a task with several filters.
    expect(first.samples!.map((s) => `${s.doc_id}.${s.filter}`)).toEqual([0, 1, 2].flatMap((d) => ['score-first', 'maj@2', 'maj@4', 'extract'].map((f) => `${d}.${f}`)))
    for (const s of first.samples!) {
      expect(s.resps[0]).toHaveLength(4)
      expect(s.metrics).toEqual(s.filter === 'extract' ? ['pass@1', 'pass@2', 'pass@4'] : ['exact_match'])
      expect(s.arguments.gen_args_0.arg_1).toBe(`{'until': ['Question:', '\\n\\n'], 'do_sample': True, 'temperature': 1.5, 'top_p': 1.0, 'top_k': 0, 'max_gen_toks': 12}`)
    }
    // Make each problem's gold answer the one its samples voted for (or, failing a number, its second
    // sample's): the metrics must then follow from the logged answers, and the run repeats exactly.
    const extracted = (r: typeof first) => r.samples!.filter((s) => s.filter === 'extract')
    const answers = extracted(first).map((s) => s.filtered_resps[0] as string[])
    const gold = answers.map((a, i) => (majorityVote(a) !== '[invalid]' ? majorityVote(a)! : a.find((x) => x !== '[invalid]') ?? String(i)))
    await writeFile(file, prompts.map((p, i) => JSON.stringify({prompt: p, answer: `#### ${gold[i]}`})).join('\n'))
    const second = await run(`gen:${file}`, sampling)
    expect(second.samples!.map((s) => s.resps)).toEqual(first.samples!.map((s) => s.resps))
    // A vote record holds the voted answer (lm-eval's majority_vote then take_first).
    expect(second.samples!.filter((s) => s.filter === 'maj@4').map((s) => s.filtered_resps[0])).toEqual(answers.map((a) => majorityVote(a)))
    const mean = (f: (a: string[], g: string) => number) => answers.reduce((sum, a, i) => sum + f(a, gold[i]), 0) / answers.length
    expect(second.metrics['exact_match,maj@4']).toBeCloseTo(mean((a, g) => (majorityVote(a) === g ? 1 : 0)), 12)
    expect(second.metrics['exact_match,score-first']).toBeCloseTo(mean((a, g) => (a[0] === g ? 1 : 0)), 12)
    for (const k of [1, 2, 4]) expect(second.metrics[`pass@${k},extract`]).toBeCloseTo(mean((a, g) => passAtK(4, a.filter((x) => x === g).length, k)), 12)
    expect(second.metrics['pass@4,extract']).toBeGreaterThan(0)
  })

  it('under a time budget, more seconds never give fewer samples, and the results and chart have every budget', async () => {
    // A clock that advances 1 ms each time it is read: what is sampled by when is the same on any machine.
    let reads = 0
    const clock = () => reads++ / 1000
    const budgets = [0.05, 0.2, 0.5]
    const result = await run('arith-cot', {...sampling, timeBudgets: budgets}, {limit: 3, logSamples: false, clock})
    const at = (m: string) => budgets.map((b) => result.metrics[`${m},budget=${b}s`])
    const samples = at('samples')
    expect(samples.every((n) => Number.isInteger(n))).toBe(true)
    expect(samples[1]).toBeGreaterThanOrEqual(samples[0])
    expect(samples[2]).toBeGreaterThan(samples[1])
    at('coverage').forEach((c, i) => expect(c).toBeGreaterThanOrEqual(at('maj_acc')[i]))
    expect(result.config.time_budgets).toEqual(budgets)
    reads = 0
    expect((await run('arith-cot', {...sampling, timeBudgets: budgets}, {limit: 3, logSamples: false, clock})).metrics).toEqual(result.metrics)
    const files = await writeCharts(root, [{model: 'teacher', results: [result]}, {model: 'student', results: [result]}])
    const chart = files.find((f) => f.endsWith('arith-cot_accuracy_vs_seconds.svg'))!
    const svg = await readFile(chart, 'utf8')
    for (const name of ['teacher (majority vote)', 'teacher (coverage)', 'student (majority vote)', 'student (coverage)']) expect(svg).toContain(name)
  })

  it("writes results that lm-eval's make_table reads: filters score-first, maj@k, extract and budget=..", async () => {
    const file = join(root, 'q.jsonl')
    await writeFile(file, [JSON.stringify({prompt: 'The value of the key', answer: '#### 3'}), JSON.stringify({prompt: '12 + 30 =', answer: '42'})].join('\n'))
    const out = join(root, 'out')
    const common = ['eval', model.folder, '--device', 'cpu', '--max-gen-toks', '6', '-q']
    const fixed = runCli([...common, '--tasks', `gen:${file}`, '--num-samples', '4', '--output-path', join(out, 'fixed')])
    const budget = runCli([...common, '--tasks', 'arith-cot', '--limit', '2', '--time-budget', '0.1s,0.2s', '--output-path', join(out, 'budget')])
    expect([fixed.status, budget.status, fixed.stderr + budget.stderr]).toEqual([0, 0, ''])
    const table = async (dir: string) => {
      const files = (await readdir(dir, {recursive: true})).map((f) => join(dir, f))
      return makeTable(loadPythonJson(await readFile(getResultsFilenames(files)[0], 'utf8')))
    }
    const rows = (await table(join(out, 'fixed'))).map((r) => [r[2], r[4], r[5], r[7]])
    expect(rows).toEqual([
      ['maj@2', 'exact_match', '↑', '±'], ['maj@4', 'exact_match', '↑', '±'], ['score-first', 'exact_match', '↑', '±'],
      ['extract', 'pass@1', '↑', '±'], ['extract', 'pass@2', '↑', '±'], ['extract', 'pass@4', '↑', '±'],
    ])
    expect((await table(join(out, 'budget'))).map((r) => `${r[4]},${r[2]}`)).toEqual([
      'coverage,budget=0.1s', 'coverage,budget=0.2s', 'maj_acc,budget=0.1s', 'maj_acc,budget=0.2s', 'samples,budget=0.1s', 'samples,budget=0.2s',
    ])
  })

  it('on the real clock too (asserting nothing about speed)', async () => {
    const result = await run('arith-cot', {...sampling, timeBudgets: [0.1, 0.3]}, {limit: 2, logSamples: false})
    expect(result.metrics['samples,budget=0.3s']).toBeGreaterThanOrEqual(result.metrics['samples,budget=0.1s'])
  })
})

describe('eval generation flags', () => {
  it('refuse a bad budget, and sampler flags without a generation task, with exit 2', () => {
    const bad = runCli(['eval', 'fixtures/none', '--tasks', 'arith-cot', '--time-budget', 'soon'])
    expect(bad.status).toBe(2)
    expect(bad.stderr).toMatch(/--time-budget must be durations such as 10s,30s,1m, got 'soon'/)
    const misplaced = runCli(['eval', 'fixtures/none', '--tasks', 'kv-retrieval', '--num-samples', '4'])
    expect(misplaced.status).toBe(2)
    expect(misplaced.stderr).toMatch(/--num-samples applies to generation tasks/)
  })

  it('refuse a bad gen: file before any model loads', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hybridize-gen-cli-'))
    const file = join(dir, 'bad.jsonl')
    await writeFile(file, '{"prompt": "p", "answer": "4"}\n{"prompt": "p", "answer": "four"}\n')
    const r = runCli(['eval', 'fixtures/none', '--tasks', `gen:${file}`])
    await rm(dir, {recursive: true, force: true})
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/bad.jsonl:2: "answer" holds no number/)
  })
})
