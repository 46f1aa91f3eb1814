import {execFileSync} from 'node:child_process'
import type {Precision} from '../engine/precision.js'
import type {KvCacheDtype} from '../models/decode-cache.js'
import type {ModelInfo} from './model-info.js'
import {pyFloat, pythonStr, type PyFloat} from './python-json.js'
import {sha256} from './samples.js'
import type {TaskResult} from './tasks/types.js'

/**
 * A `results_<date>.json` with every key lm-evaluation-harness writes, in its order:
 * `evaluate()` (lm_eval/evaluator_utils.py, EvalAcc._to_eval_results) gives results, group_subtasks,
 * configs, versions, n-shot, higher_is_better, n-samples; `simple_evaluate()` (lm_eval/evaluator.py)
 * adds config, git_hash, date, the environment and tokenizer fields; the EvaluationTracker
 * (lm_eval/loggers/evaluation_tracker.py, save_results_aggregated) adds task_hashes and the
 * model's name and source. The field list is lm_eval/result_schema.py's EvalResults. There are no
 * task groups here, so no "groups" key, and each task is its own entry in group_subtasks.
 */
export interface EvalRun {
  model: string
  results: TaskResult[]
  info: ModelInfo
  /** Unix time in seconds when this model's evaluation started, and how long it took. */
  startTime: number
  seconds: number
}

export interface RunSettings {
  batchSize: number
  limit: number | null
  seed: number
  /** --precision and --kv-cache-dtype, written into model_args as a vLLM run's kv_cache_dtype is. */
  precision: Precision
  kvCacheDtype: KvCacheDtype
  device: string
  /** A line about the machine, for lm-eval's free-form pretty_env_info. */
  environment: string
  hybridizeVersion: string
}

type Metrics = Record<string, string | number | PyFloat>

export function lmEvalResults(run: EvalRun, settings: RunSettings, gitHash = gitDescribe()): Record<string, unknown> {
  const byTask = <T>(f: (r: TaskResult) => T): Record<string, T> => Object.fromEntries(run.results.map((r) => [r.task, f(r)]))
  const sortedByTask = <T>(f: (r: TaskResult) => T): Record<string, T> => Object.fromEntries(Object.entries(byTask(f)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  const taskHashes = Object.fromEntries(
    run.results.filter((r) => r.samples).map((r) => [r.task, sha256(r.samples!.map((s) => s.doc_hash + s.prompt_hash + s.target_hash).join(''))]),
  )
  return {
    results: byTask((r) => ({name: r.task, alias: r.task, sample_len: r.counts.effective, ...metricsOf(r)})),
    group_subtasks: byTask(() => []),
    configs: sortedByTask((r) => ({...r.config, metadata: {...r.config.metadata, version: pyFloat(r.config.metadata.version)}})),
    versions: sortedByTask((r) => pyFloat(r.config.metadata.version)),
    'n-shot': sortedByTask((r) => r.config.num_fewshot),
    higher_is_better: sortedByTask((r) => Object.fromEntries(r.config.metric_list.map((m) => [m.metric, m.higher_is_better]))),
    'n-samples': byTask((r) => r.counts),
    config: {
      model: run.model,
      model_args: `pretrained=${run.model},precision=${settings.precision},kv_cache_dtype=${settings.kvCacheDtype}`,
      model_num_parameters: run.info.numParameters,
      // Weights are widened to f32 on load, and every kernel sums in f32 (precision=mixed in
      // model_args: linear layers take f16-rounded operands).
      model_dtype: 'torch.float32',
      model_revision: run.info.revision,
      model_sha: run.info.sha,
      batch_size: settings.batchSize,
      batch_sizes: [],
      device: settings.device,
      use_cache: null,
      limit: settings.limit,
      // lm-eval's default; for the mean metrics here it computes the same analytic standard error.
      bootstrap_iters: 100000,
      gen_kwargs: null,
      random_seed: settings.seed,
      numpy_seed: null,
      torch_seed: null,
      fewshot_seed: null,
    },
    git_hash: gitHash,
    date: pyFloat(run.startTime),
    pretty_env_info: settings.environment,
    transformers_version: 'N/A',
    lm_eval_version: 'N/A',
    upper_git_hash: null,
    tokenizer_pad_token: run.info.padToken,
    tokenizer_eos_token: run.info.eosToken,
    tokenizer_bos_token: run.info.bosToken,
    eot_token_id: run.info.eotTokenId,
    max_length: run.info.maxLength,
    task_hashes: taskHashes,
    model_source: 'hybridize',
    model_name: run.model,
    model_name_sanitized: sanitizeModelName(run.model),
    system_instruction: null,
    system_instruction_sha: null,
    fewshot_as_multiturn: false,
    chat_template: null,
    chat_template_sha: null,
    total_evaluation_time_seconds: pythonStr(run.seconds),
    hybridize_version: settings.hybridizeVersion,
  }
}

/**
 * A task's metrics as lm-eval writes them: floats, each followed by its standard error, "N/A"
 * where there is none (one sample, or a metric without one).
 */
function metricsOf(r: TaskResult): Metrics {
  const out: Metrics = {}
  for (const [key, value] of Object.entries(r.metrics)) {
    const [metric, filter] = splitKey(key)
    if (metric.endsWith('_stderr')) continue
    const stderr = r.metrics[`${metric}_stderr,${filter}`]
    out[key] = pyFloat(value)
    out[`${metric}_stderr,${filter}`] = stderr !== undefined && Number.isFinite(stderr) ? pyFloat(stderr) : 'N/A'
  }
  return out
}

function splitKey(key: string): [string, string] {
  const comma = key.indexOf(',')
  return comma < 0 ? [key, 'none'] : [key.slice(0, comma), key.slice(comma + 1)]
}

/** lm_eval.utils.sanitize_model_name: the folder a model's results go in. */
export function sanitizeModelName(model: string): string {
  return model.replace(/["<>:/|\\?*[\]]+/g, '__')
}

/** lm_eval.loggers.utils.get_git_commit_hash: `git describe --always` where the evaluation runs, else null. */
function gitDescribe(): string | null {
  try {
    return execFileSync('git', ['describe', '--always'], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000}).trim() || null
  } catch {
    return null
  }
}

/**
 * lm-eval's date_id in file names: `datetime.now().isoformat().replace(":", "-")`, local time,
 * microseconds (left out when zero, as isoformat does).
 */
export function dateId(now: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0')
  const base = `${p(now.getFullYear(), 4)}-${p(now.getMonth() + 1)}-${p(now.getDate())}T${p(now.getHours())}-${p(now.getMinutes())}-${p(now.getSeconds())}`
  return now.getMilliseconds() === 0 ? base : `${base}.${p(now.getMilliseconds() * 1000, 6)}`
}
