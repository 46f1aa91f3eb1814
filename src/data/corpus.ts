import {readdir, stat} from 'node:fs/promises'
import {extname, join, resolve} from 'node:path'
import {HybridizeError} from '../errors.js'

/**
 * What `--data` names: plain-text files (one document per file), JSONL files (one document per
 * line, its text under a field), a folder holding either (searched recursively, in path order), or
 * `brown`, the Brown corpus bundled with the package: its train part, 448 of the 500 files (tasks/brown.ts
 * holds the other 52 out for `eval --tasks ppl:brown-heldout`).
 */
export interface CorpusFile {
  path: string
  format: 'text' | 'jsonl'
}

export type Corpus = {kind: 'files'; spec: string; files: CorpusFile[]} | {kind: 'brown'; spec: 'brown'}

const JSONL_EXTENSIONS = new Set(['.jsonl', '.ndjson'])
const TEXT_EXTENSIONS = new Set(['.txt', '.text', '.md'])

export async function resolveCorpus(spec: string): Promise<Corpus> {
  const info = await stat(spec).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined
    throw err
  })
  if (!info) {
    if (spec === 'brown') return {kind: 'brown', spec}
    throw new HybridizeError(`--data ${spec}: no such file or folder (give text or JSONL files, a folder of them, or 'brown')`, {code: 'E_DATA'})
  }
  if (info.isFile()) return {kind: 'files', spec, files: [fileOf(resolve(spec))]}
  const files = (await listFolder(resolve(spec))).filter((f) => JSONL_EXTENSIONS.has(extname(f).toLowerCase()) || TEXT_EXTENSIONS.has(extname(f).toLowerCase()))
  if (files.length === 0) throw new HybridizeError(`--data ${spec}: the folder holds no .txt, .md, .jsonl or .ndjson files`, {code: 'E_DATA'})
  return {kind: 'files', spec, files: files.map(fileOf)}
}

function fileOf(path: string): CorpusFile {
  return {path, format: JSONL_EXTENSIONS.has(extname(path).toLowerCase()) ? 'jsonl' : 'text'}
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

