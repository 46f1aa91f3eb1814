import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {deviceFlag} from '../cli/device-flag.js'
import {evaluate, EVALUATE_DEFAULTS} from '../api/evaluate.js'
import {dtypeFlag, dtypeStatus} from '../cli/dtype-flag.js'
import {parseNumber} from '../cli/number-flag.js'
import {HybridizeError} from '../errors.js'
import type {EvalRun} from '../eval/lm-eval-results.js'
import {resultsTable} from '../eval/report.js'
import {parseTaskList, TASK_HELP} from '../eval/run-tasks.js'
import {DEFAULT_GENERATION, isGenerationTask, type GenerationSettings} from '../eval/tasks/generation.js'
import {parseTimeBudgets} from '../eval/tasks/time-budget.js'

interface EvalResult {
  models: {model: string; results: EvalRun['results']}[]
  files: string[]
}

export default class Eval extends BaseCommand {
  static override summary = 'Evaluate models side by side: perplexity, retrieval, multiple choice, sampled answers.'

  static override description = `Runs each task on each model and prints one table with a column per model (teacher
and students). Metric names and the results JSON follow lm-evaluation-harness ("acc,none",
"acc_stderr,none", ...). Tasks:
  ppl:<file>[,<file>]   perplexity of plain text as lm-evaluation-harness computes it (loglikelihood_rolling,
                        rolling windows of --seq-len tokens): word_perplexity, byte_perplexity, bits_per_byte
  mc:<file.jsonl>       multiple choice, as lm-evaluation-harness scores it; each line {"context": "...",
                        "choices": ["a", "b"], "gold": 0}, a choice scored as the continuation
                        target_delimiter + choice (" " unless the item says otherwise): acc and acc_norm
                        (log-likelihood over the choice's length in characters)
  mc:<task.yaml>        the same, from an lm-eval task config: data_files, doc_to_text/doc_to_choice/
                        doc_to_target as field names, target_delimiter
  gen:<file.jsonl>      sampled answers; each line {"prompt": "...", "answer": "... #### 42"}. An answer is
                        the number after GSM8K's "#### ", else the last number of the text (commas, $, a
                        final period ignored). --num-samples K per problem: exact_match,score-first,
                        exact_match,maj@k (majority vote of the first k; a tie goes to the answer sampled
                        first) and coverage pass@k,extract (Chen et al.'s unbiased estimator), k = 1, 2, 4.. K
  arith-cot             the same on seeded multi-step arithmetic word problems (250; --seed), prompt
                        "Question: ...\nAnswer:", chain-of-thought answer ending in "#### n"
  kv-retrieval          key-value retrieval, 10 to 100 pairs (a curve of accuracy against pairs; distill --mix
                        trains on 10 to 50); :template=sentences asks in other words than the default
                        dictionary; :pairs=30 scores one point
  mc-retrieval          multiple-choice letter retrieval in the MMLU layout
  needle                needle in a haystack of held-out Brown-corpus text, 500 to 8000 characters
  arith-lookup          the number arith-cot's chain of thought copies next from the question, scored over the
                        question's numbers (find-heads --task arith-lookup: the heads a reasoner copies through)
  :keys=heldout|train|all   which half of the key vocabulary a retrieval task asks about: heldout (default),
                        never in distill --mix's samples or find-heads' prompts; a point whose prompts exceed
                        the model's context (max_position_embeddings) is skipped with a warning
  ppl:brown-heldout     perplexity on the 52 Brown-corpus files distill --data brown never reads (ca05, ca15..)
  throughput            prefill and decode tokens/s against batch size (1, 2, 4, .. --batch-size) and context
                        length (--seq-len / 8 .. --seq-len), and the decode state a sequence holds (KV cache
                        and SSM state bytes, computed, and as allocated on WebGPU)
With --time-budget 10s,30s,60s a generation task gives each model the same wall-clock seconds on the
same device: it samples --batch-size answers to a problem at a time, round the problems, until the
largest budget is spent, and reports maj_acc, coverage and samples at each budget, plotted as accuracy
against seconds with every model on one chart.
Retrieval tasks report acc (log-likelihood over candidates), argmax_acc (the answer's first token is
the argmax after the prompt) and exact_acc (every answer token is the argmax: greedy decoding writes
the answer). Tasks are separated by commas, in any order; files after ppl:<file> belong to that ppl task. With
--output-path, results_<date>.json (and with --log-samples samples_<task>_<date>.jsonl) are written in
lm-evaluation-harness's schema under a folder per model, and curves as SVG images beside them.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> fixtures/phi-tiny --tasks kv-retrieval --limit 20',
    '<%= config.bin %> <%= command.id %> teacher/ student/ --tasks kv-retrieval,mc:arc.jsonl --output-path results/',
    '<%= config.bin %> <%= command.id %> meta-llama/Llama-3.2-1B --tasks ppl:wiki.txt --seq-len 1024 --json',
    '<%= config.bin %> <%= command.id %> teacher/ student/ --tasks arith-cot --limit 50 --num-samples 8 --temperature 0.8 --top-p 0.95',
    '<%= config.bin %> <%= command.id %> teacher/ student/ --tasks gen:problems.jsonl --time-budget 10s,30s,60s --batch-size 32 --output-path results/',
  ]

  static override strict = false

  static override args = {
    model: Args.string({required: true, description: 'One or more models: folders or org/name[@revision] from the Hugging Face cache.'}),
  }

  static override flags = {
    tasks: Flags.string({char: 't', required: true, description: `Comma-separated tasks: ${TASK_HELP}.`}),
    limit: Flags.integer({description: 'At most this many samples per task (or per point of a sweep; windows for ppl).', min: 1}),
    'batch-size': Flags.integer({description: 'Sequences per forward pass (throughput: the largest batch).', default: EVALUATE_DEFAULTS.batchSize, min: 1}),
    'seq-len': Flags.integer({description: 'Window length for ppl tasks (throughput: the longest context).', default: EVALUATE_DEFAULTS.seqLen, min: 2}),
    seed: Flags.integer({description: 'Seed of the synthetic tasks and of the sampler.', default: EVALUATE_DEFAULTS.seed}),
    'num-samples': Flags.integer({description: 'Generation tasks: answers sampled per problem (K), drawn in batches of --batch-size.', min: 1, exclusive: ['time-budget']}),
    temperature: Flags.string({description: 'Generation tasks: softmax temperature; 0 is greedy. [default: 0 for one sample, else 1]'}),
    'top-p': Flags.string({description: 'Generation tasks: sample among the most likely tokens that together reach this probability. [default: 1]'}),
    'top-k': Flags.integer({description: 'Generation tasks: sample among the k most likely tokens; 0 keeps all.', default: 0, min: 0}),
    'max-gen-toks': Flags.integer({description: 'Generation tasks: most tokens in an answer (lm-eval\'s max_gen_toks).', default: 256, min: 1}),
    'time-budget': Flags.string({description: 'Generation tasks: wall-clock budgets per model, e.g. 10s,30s,1m: sample until the largest is spent, report each.'}),
    'output-path': Flags.string({description: 'Folder for results JSON (lm-evaluation-harness layout) and curve images; a path ending in .json names the results file (NAME_<date>.json) of one model.'}),
    'log-samples': Flags.boolean({description: 'Also write every scored sample (needs --output-path).', dependsOn: ['output-path']}),
    device: deviceFlag,
    dtype: dtypeFlag,
  }

  async run(): Promise<EvalResult> {
    const {argv, flags} = await this.parse(Eval)
    const tasks = parseTaskList(flags.tasks)
    const generation = generationSettings(flags, tasks)
    if (generation.temperature === 0 && (generation.numSamples > 1 || generation.timeBudgets)) {
      this.status('warning: --temperature 0 is greedy: every sample of a problem is the same answer')
    }
    const {runs, files} = await evaluate({
      models: argv as string[],
      tasks: flags.tasks,
      limit: flags.limit,
      generation,
      batchSize: flags['batch-size'],
      seqLen: flags['seq-len'],
      seed: flags.seed,
      outputPath: flags['output-path'],
      logSamples: flags['log-samples'],
      device: flags.device,
      dtype: flags.dtype,
      onDType: (dtype) => this.status(dtypeStatus(dtype)),
      status: (text) => this.status(text),
      progress: (model, text) => this.progress.update(`${model}: ${text}`),
      taskStarted: (model, task) => this.progress.start(`${model}: ${task}`),
      taskDone: (model, task) => this.progress.succeed(`${model}: ${task}`),
      version: this.config.version,
    })
    this.log(resultsTable(runs))
    for (const f of files) this.status(`wrote ${f}`)
    return {models: runs.map(({model, results}) => ({model, results})), files}
  }
}

/** The sampler's flags for generation tasks; refused when no generation task is asked for. */
function generationSettings(
  flags: {'num-samples'?: number; temperature?: string; 'top-p'?: string; 'top-k': number; 'max-gen-toks': number; 'time-budget'?: string},
  tasks: string[],
): GenerationSettings {
  const given = (['num-samples', 'temperature', 'top-p', 'time-budget'] as const).filter((f) => flags[f] !== undefined)
  if (given.length > 0 && !tasks.some(isGenerationTask)) {
    throw new HybridizeError(`--${given[0]} applies to generation tasks (gen:<file.jsonl>, arith-cot), and --tasks has none`, {code: 'E_USAGE', exitCode: 2})
  }
  const timeBudgets = flags['time-budget'] === undefined ? undefined : parseTimeBudgets(flags['time-budget'])
  const numSamples = flags['num-samples'] ?? DEFAULT_GENERATION.numSamples
  const sampled = numSamples > 1 || timeBudgets !== undefined
  return {
    numSamples,
    temperature: flags.temperature === undefined ? (sampled ? 1 : 0) : parseNumber('--temperature', flags.temperature, 0, Infinity),
    topP: flags['top-p'] === undefined ? 1 : parseNumber('--top-p', flags['top-p'], Number.MIN_VALUE, 1),
    topK: flags['top-k'],
    maxGenToks: flags['max-gen-toks'],
    timeBudgets,
  }
}
