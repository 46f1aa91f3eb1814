import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {FormatError} from '../errors.js'
import {writeFileAtomic} from '../io/atomic.js'
import type {SectionName} from './sections.js'

/**
 * `<out>/steps.json`: for each step, the command line (device left out) its output under `out` was
 * made with, written as the step starts. A complete output made with other settings is rerun, not
 * skipped, so editing the recipe and running it again does what it says.
 */
export type StepSettings = Partial<Record<SectionName, string>>

export const stepSettingsFile = (out: string): string => join(out, 'steps.json')

export async function readStepSettings(out: string): Promise<StepSettings> {
  const text = await readFile(stepSettingsFile(out), 'utf8').catch(() => undefined)
  if (text === undefined) return {}
  try {
    return JSON.parse(text) as StepSettings
  } catch (err) {
    throw new FormatError(`${stepSettingsFile(out)} is not JSON (${(err as Error).message}); delete it to rerun every step`)
  }
}

export async function recordStepSettings(out: string, name: SectionName, settings: string): Promise<void> {
  const recorded = await readStepSettings(out)
  await writeFileAtomic(stepSettingsFile(out), `${JSON.stringify({...recorded, [name]: settings}, null, 2)}\n`)
}
