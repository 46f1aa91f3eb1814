import {readFile} from 'node:fs/promises'
import {parse} from 'yaml'
import {FormatError} from '../../errors.js'

/**
 * How an `mc:` task reads its questions: the JSON Lines file, its fields, the target_delimiter.
 * `mc:questions.jsonl` takes the defaults; `mc:task.yaml` reads an lm-evaluation-harness task
 * config, so one YAML runs in both tools (lm_eval --include_path DIR --tasks NAME):
 *
 *   task: my_mc                      the task's name in results
 *   dataset_path: json               local JSON Lines only
 *   dataset_kwargs: {data_files: {test: questions.jsonl}}   relative to the current folder, as datasets reads it
 *   test_split: test                 (else validation_split) picks the data file
 *   output_type: multiple_choice
 *   doc_to_text: question            each a field name of the lines (templates are not read here)
 *   doc_to_choice: options
 *   doc_to_target: label
 *   target_delimiter: " "            lm-eval's default
 */
export interface McTask {
  name?: string
  dataFile: string
  targetDelimiter: string
  fields: {text: string; choices: string; target: string}
}

export const MC_DEFAULTS = {targetDelimiter: ' ', fields: {text: 'context', choices: 'choices', target: 'gold'}}

export async function loadMcTask(path: string): Promise<McTask> {
  if (!/\.ya?ml$/.test(path)) return {dataFile: path, ...MC_DEFAULTS}
  let config: Record<string, unknown>
  try {
    config = parse(await readFile(path, 'utf8')) as Record<string, unknown>
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code) throw err
    throw new FormatError(`${path}: not valid YAML (${(err as Error).message.split('\n')[0]})`)
  }
  if (typeof config !== 'object' || config === null) throw new FormatError(`${path}: expected an lm-eval task config (a mapping)`)
  const bad = (key: string, why: string) => new FormatError(`${path}: ${key}: ${why}`)
  if (config.output_type !== undefined && config.output_type !== 'multiple_choice') throw bad('output_type', 'an mc: task is multiple_choice')
  if (config.dataset_path !== undefined && config.dataset_path !== 'json') throw bad('dataset_path', 'only local JSON Lines files are read (dataset_path: json)')
  if (config.num_fewshot !== undefined && config.num_fewshot !== 0) throw bad('num_fewshot', 'few-shot examples are not supported; use 0')
  const split = String(config.test_split ?? config.validation_split ?? 'test')
  const dataFiles = (config.dataset_kwargs as {data_files?: unknown} | undefined)?.data_files
  const dataFile = typeof dataFiles === 'string' ? dataFiles : (dataFiles as Record<string, unknown> | undefined)?.[split]
  if (typeof dataFile !== 'string') throw bad('dataset_kwargs.data_files', `name the ${split} split's JSON Lines file`)
  const field = (key: string, fallback: string): string => {
    const v = config[key] ?? fallback
    if (typeof v !== 'string' || /[{}]/.test(v)) throw bad(key, 'give a field name of the lines (templates are not read by hybridize)')
    return v
  }
  const delimiter = config.target_delimiter ?? MC_DEFAULTS.targetDelimiter
  if (typeof delimiter !== 'string') throw bad('target_delimiter', 'must be a string')
  return {
    name: typeof config.task === 'string' ? config.task : undefined,
    dataFile,
    targetDelimiter: delimiter,
    fields: {text: field('doc_to_text', 'context'), choices: field('doc_to_choice', 'choices'), target: field('doc_to_target', 'gold')},
  }
}
