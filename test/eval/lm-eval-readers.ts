/**
 * lm-evaluation-harness's readers of its own output files, ported key access for key access, so a
 * test fails where they would raise. Ported from lm-evaluation-harness at commit 4e7e0d47:
 *   lm_eval/utils.py            make_table, _build_hierarchy_info, get_results_filenames,
 *                               get_sample_results_filenames, get_latest_filename, get_file_datetime
 *   scripts/zeno_visualize.py   tasks_for_model, main, generate_dataset, generate_system_df
 * Python's errors become thrown Errors named like them (KeyError, TypeError, AttributeError).
 * Files are read with `loadPythonJson`, which keeps what json.load keeps: whether a number is a
 * float (written with '.' or an exponent) or an int, because make_table formats only floats.
 */

export class PyFloat {
  constructor(readonly value: number) {}
}

type Json = null | boolean | number | PyFloat | string | Json[] | {[key: string]: Json}

/** json.loads: numbers with a fraction or exponent (and NaN, Infinity) become PyFloat. */
export function loadPythonJson(text: string): Json {
  let i = 0
  const ws = () => {
    while (/\s/.test(text[i] ?? '')) i++
  }
  const value = (): Json => {
    ws()
    const c = text[i]
    if (c === '{') {
      i++
      const out: {[key: string]: Json} = {}
      ws()
      if (text[i] === '}') return i++, out
      for (;;) {
        ws()
        const key = value() as string
        ws()
        if (text[i++] !== ':') throw new SyntaxError(`expected ':' at ${i}`)
        out[key] = value()
        ws()
        if (text[i] === ',') i++
        else if (text[i++] === '}') return out
        else throw new SyntaxError(`expected ',' or '}' at ${i}`)
      }
    }
    if (c === '[') {
      i++
      const out: Json[] = []
      ws()
      if (text[i] === ']') return i++, out
      for (;;) {
        out.push(value())
        ws()
        if (text[i] === ',') i++
        else if (text[i++] === ']') return out
        else throw new SyntaxError(`expected ',' or ']' at ${i}`)
      }
    }
    if (c === '"') {
      const m = /^"(?:[^"\\]|\\.)*"/.exec(text.slice(i))!
      i += m[0].length
      return JSON.parse(m[0]) as string
    }
    for (const [word, v] of [['true', true], ['false', false], ['null', null], ['NaN', new PyFloat(NaN)], ['Infinity', new PyFloat(Infinity)], ['-Infinity', new PyFloat(-Infinity)]] as const) {
      if (text.startsWith(word, i)) return (i += word.length), v
    }
    const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i))
    if (!m) throw new SyntaxError(`unexpected ${c} at ${i}`)
    i += m[0].length
    return m[1] || m[2] ? new PyFloat(Number(m[0])) : Number(m[0])
  }
  const out = value()
  ws()
  if (i !== text.length) throw new SyntaxError(`trailing text at ${i}`)
  return out
}

type Dict = {[key: string]: Json}

function isDict(v: Json | undefined): v is Dict {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof PyFloat)
}

/** d[k] */
function getItem(d: Json | undefined, k: string | number): Json {
  if (Array.isArray(d) && typeof k === 'number') {
    if (k >= d.length) throw new Error(`IndexError: ${k}`)
    return d[k]
  }
  if (!isDict(d)) throw new Error(`TypeError: ${JSON.stringify(d)} is not subscriptable by ${JSON.stringify(k)}`)
  if (!(k in d)) throw new Error(`KeyError: '${k}'`)
  return d[k as string]
}

/** d.get(k, fallback), where d must be a dict (a str has no .get: AttributeError). */
function get(d: Json | undefined, k: string, fallback: Json): Json {
  if (!isDict(d)) throw new Error(`AttributeError: ${JSON.stringify(d)} has no attribute 'get'`)
  return k in d ? d[k] : fallback
}

/** f"{x:.4f}": ints and floats format; anything else raises. */
function format4(x: Json): string {
  if (x instanceof PyFloat) return x.value.toFixed(4)
  if (typeof x === 'number') return x.toFixed(4)
  throw new Error(`TypeError: unsupported format string passed to ${x === null ? 'NoneType' : typeof x}.__format__`)
}

/** str(x) for what a results file holds. */
function pyStr(x: Json): string {
  if (x === null) return 'None'
  if (x instanceof PyFloat) return Number.isInteger(x.value) ? x.value.toFixed(1) : String(x.value)
  return typeof x === 'object' ? JSON.stringify(x) : String(x)
}

function buildHierarchyInfo(groupSubtasks: Dict, availableKeys: Set<string>): {depthMap: Map<string, number>; ordered: string[]} {
  const depthMap = new Map<string, number>()
  const ordered: string[] = []
  const visit = (name: string, depth: number) => {
    depthMap.set(name, depth)
    if (availableKeys.has(name)) ordered.push(name)
    const children = (get(groupSubtasks, name, []) as Json[]).map((c) => c as string)
    for (const child of [...children].sort()) visit(child, depth + 1)
  }
  const allChildren = new Set(Object.values(groupSubtasks).flatMap((c) => (c as Json[]).map((x) => x as string)))
  for (const name of Object.keys(groupSubtasks).sort()) if (!allChildren.has(name)) visit(name, 0)
  for (const key of [...availableKeys].sort()) if (!depthMap.has(key)) ordered.push(key)
  return {depthMap, ordered}
}

const HIGHER_IS_BETTER_SYMBOLS = new Map<Json, string>([[true, '↑'], [false, '↓']])

/** lm_eval/utils.py make_table: the rows [Tasks, Version, Filter, n-shot, Metric, ↑↓, Value, ±, Stderr]. */
export function makeTable(resultDict: Json, column = 'results'): string[][] {
  const values: string[][] = []
  const groupSubtasks = get(resultDict, 'group_subtasks', {}) as Dict
  const columnDict = getItem(resultDict, column)
  if (!isDict(columnDict)) throw new Error(`AttributeError: result_dict[${column}] has no keys()`)
  const {depthMap, ordered} = buildHierarchyInfo(groupSubtasks, new Set(Object.keys(columnDict)))
  for (const key of ordered) {
    const dic: Dict = {...(getItem(columnDict, key) as Dict)}
    let version = pyStr(get(getItem(resultDict, 'versions'), key, '    N/A'))
    const n = pyStr(get(get(resultDict, 'n-shot', ' '), key, ' '))
    const higherIsBetter = get(get(resultDict, 'higher_is_better', {}), key, {})
    let displayName = pyStr('alias' in dic ? dic.alias : key)
    delete dic.alias
    delete dic.name
    delete dic.sample_len
    delete dic.sample_count
    const depth = depthMap.get(key) ?? 0
    if (depth > 0) displayName = ' '.repeat(depth) + '- ' + displayName
    let k = displayName
    for (const [mf, raw] of Object.entries(dic).sort(([a], [b]) => (a < b ? -1 : 1))) {
      const comma = mf.indexOf(',')
      const [m, f] = comma < 0 ? [mf, ''] : [mf.slice(0, comma), mf.slice(comma + 1)]
      if (m.endsWith('_stderr')) continue
      const hib = HIGHER_IS_BETTER_SYMBOLS.get(get(higherIsBetter, m, null)) ?? ''
      const v = raw instanceof PyFloat ? format4(raw) : pyStr(raw)
      const seKey = `${m}_stderr,${f}`
      if (seKey in dic) {
        const se = dic[seKey] === 'N/A' ? '   N/A' : format4(dic[seKey])
        values.push([k, version, f, n, m, hib, v, '±', se])
      } else {
        values.push([k, version, f, n, m, hib, v, '', ''])
      }
      k = ''
      version = ''
    }
  }
  return values
}

/** lm_eval/utils.py get_file_datetime, get_latest_filename, get_results_filenames, get_sample_results_filenames. */
export const getFileDatetime = (filename: string) => filename.slice(filename.lastIndexOf('_') + 1).replace('.jsonl', '')
export const getFileTaskName = (filename: string) => filename.slice(filename.indexOf('_') + 1, filename.lastIndexOf('_'))
export const getLatestFilename = (filenames: string[]) => filenames.reduce((a, b) => (getFileDatetime(b) > getFileDatetime(a) ? b : a))
export const getResultsFilenames = (filenames: string[]) => filenames.filter((f) => f.includes('/results_') && f.includes('.json'))
export const getSampleResultsFilenames = (filenames: string[]) => filenames.filter((f) => f.includes('/samples_') && f.includes('.json'))

/**
 * scripts/zeno_visualize.py, the accesses of main, tasks_for_model, generate_dataset and
 * generate_system_df to one model's latest results file and one task's samples.
 */
export function zenoRead(results: Json, task: string, samples: Json[]): {tasks: string[]; ids: Json[]; outputs: string[]; metricColumns: string[]} {
  const modelArgs = getItem(getItem(results, 'config'), 'model_args')
  if (typeof modelArgs !== 'string' && !isDict(modelArgs)) throw new Error('TypeError: model_args is neither str nor dict')
  const configs = getItem(results, 'configs')
  if (!isDict(configs)) throw new Error('AttributeError: configs has no keys()')
  const config = getItem(configs, task)
  const metricList = getItem(config, 'metric_list') as Json[]
  const metricColumns: string[] = []
  for (const metric of metricList) {
    get(metric, 'aggregation', null)
    metricColumns.push(getItem(metric, 'metric') as string)
  }
  const filterList = get(config, 'filter_list', null)
  const ids = samples.map((x) => (filterList ? `${pyStr(getItem(x, 'doc_id'))}.${pyStr(getItem(x, 'filter'))}` : getItem(x, 'doc_id')))
  for (const x of samples) getItem(x, 'target')
  const outputType = getItem(config, 'output_type')
  let outputs: string[] = []
  if (outputType === 'loglikelihood' || outputType === 'multiple_choice' || outputType === 'loglikelihood_rolling' || outputType === 'generate_until') {
    for (const x of samples) getItem(getItem(getItem(x, 'arguments'), 'gen_args_0'), 'arg_0')
  }
  if (outputType === 'multiple_choice') {
    outputs = samples.map((x) => (getItem(x, 'filtered_resps') as Json[]).map((y) => pyStr(getItem(y, 0))).join(', '))
  } else if (outputType === 'loglikelihood_rolling' || outputType === 'generate_until') {
    outputs = samples.map((x) => pyStr(getItem(getItem(x, 'filtered_resps'), 0)))
  }
  for (const m of metricColumns) for (const x of samples) getItem(x, m)
  return {tasks: Object.keys(configs), ids, outputs, metricColumns}
}
