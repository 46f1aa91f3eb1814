import {mkdir, readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {PRECISIONS} from '../engine/precision.js'
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
  let settings: DistillSettings
  try {
    const json = JSON.parse(text) as {format?: string; settings?: DistillSettings}
    if (json.format !== 'hybridize-distill-run' || !json.settings) throw new Error('not a run file')
    settings = json.settings
  } catch {
    throw new FormatError(`${runFile(out)} is damaged or not a hybridize distill run file`)
  }
  // Runs from before --precision existed trained in f32.
  const precision = settings.precision ?? 'f32'
  if (!PRECISIONS.includes(precision)) throw new FormatError(`${runFile(out)}: precision '${String(precision)}' is not one of ${PRECISIONS.join(', ')}`)
  return {...settings, precision}
}
