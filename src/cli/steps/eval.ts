import {Flags, type Interfaces} from '@oclif/core'
import {EVALUATE_DEFAULTS, type EvaluateOutput, type EvaluateRequest} from '../../api/evaluate.js'
import {HybridizeError} from '../../errors.js'
import {resultsTable} from '../../eval/report.js'
import {parseTaskList, TASK_HELP} from '../../eval/run-tasks.js'
import {DEFAULT_GENERATION, isGenerationTask, type GenerationSettings} from '../../eval/tasks/generation.js'
import {parseTimeBudgets} from '../../eval/tasks/time-budget.js'
import {DECODE_FLAGS} from '../decode-flags.js'
import {deviceFlag} from '../device-flag.js'
import {devicesFlag, parseDevices} from '../devices-flag.js'
import {dtypeFlag, dtypeStatus} from '../dtype-flag.js'
import {parseNumber} from '../number-flag.js'
import type {StepIO} from './io.js'

/** `hybridize eval`'s flags; a recipe's eval section takes the same (less output-path and device). */
export const EVAL_FLAGS = {
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
  devices: devicesFlag('the scoring tasks (the retrieval tasks, mc:, ppl:) share their samples among them, the same metrics as on one; generation tasks and throughput run on the first.'),
  dtype: dtypeFlag,
  ...DECODE_FLAGS,
}

export type EvalFlags = Interfaces.InferredFlags<typeof EVAL_FLAGS>

/** The flags as the api's request, its status and progress lines going to `io`. */
export function evaluateRequest(models: string[], flags: EvalFlags, io: StepIO): EvaluateRequest {
  const tasks = parseTaskList(flags.tasks)
  const generation = generationSettings(flags, tasks)
  if (flags['kv-cache-dtype'] !== 'f32' && !tasks.some(decodes)) {
    throw new HybridizeError('--kv-cache-dtype applies to tasks that decode (gen:<file.jsonl>, arith-cot, throughput), and --tasks has none', {code: 'E_USAGE', exitCode: 2})
  }
  if (generation.temperature === 0 && (generation.numSamples > 1 || generation.timeBudgets)) {
    io.status('warning: --temperature 0 is greedy: every sample of a problem is the same answer')
  }
  return {
    models,
    tasks: flags.tasks,
    limit: flags.limit,
    generation,
    precision: flags.precision,
    kvCacheDtype: flags['kv-cache-dtype'],
    batchSize: flags['batch-size'],
    seqLen: flags['seq-len'],
    seed: flags.seed,
    outputPath: flags['output-path'],
    logSamples: flags['log-samples'],
    device: flags.device,
    devices: parseDevices(flags.devices, flags.device),
    dtype: flags.dtype,
    onDType: (dtype) => io.status(dtypeStatus(dtype)),
    status: io.status,
    progress: (model, text) => io.progress.update(`${model}: ${text}`),
    taskStarted: (model, task) => io.progress.start(`${model}: ${task}`),
    taskDone: (model, task) => io.progress.succeed(`${model}: ${task}`),
  }
}

/** The results table on stdout (a column per model), the files written on stderr. */
export function reportEvaluation({runs, files}: EvaluateOutput, io: StepIO): void {
  io.log(resultsTable(runs))
  for (const f of files) io.status(`wrote ${f}`)
}

/** A task that runs cached forwards, and so has a KV cache. */
const decodes = (task: string): boolean => isGenerationTask(task) || task === 'throughput'

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
