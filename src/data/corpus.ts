import {readdir, stat} from 'node:fs/promises'
import {extname, join, resolve} from 'node:path'
import {HybridizeError} from '../errors.js'
import {checkTextColumn, readFooter} from './parquet-reader.js'

/**
 * What `--data` names: plain-text files (one document per file), JSONL files (one document per
 * line, its text under a field), parquet files (one document per row, its text in a column), a
 * folder holding any of them (searched recursively, in path order, as the hub's
 * `train-00000-of-00010.parquet` shards sort), or `brown`, the Brown corpus bundled with the package: its
 * train part, 448 of the 500 files (tasks/brown.ts holds the other 52 out for `eval --tasks ppl:brown-heldout`).
 */
export interface CorpusFile {
  path: string
  format: 'text' | 'jsonl' | 'parquet'
}

export type Corpus = {kind: 'files'; spec: string; files: CorpusFile[]} | {kind: 'brown'; spec: 'brown'}

const JSONL_EXTENSIONS = new Set(['.jsonl', '.ndjson'])
const TEXT_EXTENSIONS = new Set(['.txt', '.text', '.md'])
const PARQUET_EXTENSION = '.parquet'

/**
 * The files `spec` names. Each parquet file's footer is read now, so a file that is not parquet or
 * lacks the `textField` column fails before any model loads.
 */
export async function resolveCorpus(spec: string, textField = 'text'): Promise<Corpus> {
  const info = await stat(spec).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined
    throw err
  })
  if (!info) {
    if (spec === 'brown') return {kind: 'brown', spec}
    throw new HybridizeError(`--data ${spec}: no such file or folder (give text, JSONL or parquet files, a folder of them, or 'brown')`, {code: 'E_DATA'})
  }
  const files = info.isFile()
    ? [fileOf(resolve(spec))]
    : (await listFolder(resolve(spec))).filter((f) => JSONL_EXTENSIONS.has(ext(f)) || TEXT_EXTENSIONS.has(ext(f)) || ext(f) === PARQUET_EXTENSION).map(fileOf)
  if (files.length === 0) throw new HybridizeError(`--data ${spec}: the folder holds no .txt, .md, .jsonl, .ndjson or .parquet files`, {code: 'E_DATA'})
  for (const f of files) if (f.format === 'parquet') checkTextColumn(f.path, (await readFooter(f.path)).metadata, textField)
  return {kind: 'files', spec, files}
}

function ext(path: string): string {
  return extname(path).toLowerCase()
}

function fileOf(path: string): CorpusFile {
  const e = ext(path)
  return {path, format: JSONL_EXTENSIONS.has(e) ? 'jsonl' : e === PARQUET_EXTENSION ? 'parquet' : 'text'}
}

async function listFolder(folder: string): Promise<string[]> {
  const entries = await readdir(folder, {withFileTypes: true})
  const out: string[] = []
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (e.name.startsWith('.')) continue
    const path = join(folder, e.name)
    if (e.isDirectory()) out.push(...(await listFolder(path)))
    else if (e.isFile()) out.push(path)
  }
  return out
}

