import {mkdir, readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {FormatError, HybridizeError} from '../errors.js'
import {writeFileAtomic} from '../io/atomic.js'
import type {DistillSettings} from './options.js'

/** `<out>/run.json`: the settings a run started with, so `--resume` and `merge` know them. */
export const runFile = (out: string): string => join(out, 'run.json')

export async function writeRunSettings(out: string, settings: DistillSettings): Promise<void> {
  await mkdir(out, {recursive: true})
  await writeFileAtomic(runFile(out), JSON.stringify({format: 'hybridize-distill-run', version: 1, settings}, null, 2) + '\n')
}

export async function readRunSettings(out: string): Promise<DistillSettings> {
  let text: string
  try {
    text = await readFile(runFile(out), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new HybridizeError(`${out} is not a distillation run folder (no run.json)`, {code: 'E_RUN'})
    throw err
  }
  try {
    const json = JSON.parse(text) as {format?: string; settings?: DistillSettings}
    if (json.format !== 'hybridize-distill-run' || !json.settings) throw new Error('not a run file')
    return json.settings
  } catch {
    throw new FormatError(`${runFile(out)} is damaged or not a hybridize distill run file`)
  }
}
