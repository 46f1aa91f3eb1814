import type {Config, Interfaces} from '@oclif/core'
import type {BaseCommand} from '../cli/base-command.js'
import Distill from '../commands/distill.js'
import Eval from '../commands/eval.js'
import FindHeads from '../commands/find-heads.js'
import Rewrite from '../commands/rewrite.js'

/** A hybridize command class, as the runner constructs and validates it. */
export type CommandClass = (new (argv: string[], config: Config) => BaseCommand & {run(): Promise<unknown>}) & {
  flags: Interfaces.FlagInput
  baseFlags: Interfaces.FlagInput
  args: Interfaces.ArgInput
  strict: boolean
}

/** The recipe's step sections, in the order they run. */
export const SECTION_NAMES = ['find_heads', 'rewrite', 'distill', 'eval'] as const
export type SectionName = (typeof SECTION_NAMES)[number]

export interface SectionSpec {
  /** The command id, for equivalent command lines. */
  id: string
  command: CommandClass
  /** What the step writes, under the recipe's out folder. */
  output: string
  /** Flags the runner sets itself (inputs, outputs, device): not recipe keys. */
  runnerFlags: readonly string[]
  /** Flags that take a comma-separated list; the recipe may give a YAML sequence. */
  listFlags: readonly string[]
  /** Keys the section must set. */
  required: readonly string[]
  /** Sections whose output the step reads when the recipe has them: the step reruns when one of them ran. */
  reads: readonly SectionName[]
  /** Of those, the ones the step cannot do without. */
  needs: readonly SectionName[]
}

export const SECTIONS: Record<SectionName, SectionSpec> = {
  find_heads: {id: 'find-heads', command: FindHeads, output: 'heads.json', runnerFlags: ['out', 'device', 'force'], listFlags: [], required: [], reads: [], needs: []},
  rewrite: {id: 'rewrite', command: Rewrite, output: 'hybrid', runnerFlags: ['heads', 'out', 'force'], listFlags: [], required: [], reads: ['find_heads'], needs: ['find_heads']},
  distill: {id: 'distill', command: Distill, output: 'distill', runnerFlags: ['teacher', 'out', 'resume', 'device'], listFlags: ['stage', 'tokens', 'lr', 'layers', 'freeze'], required: ['data'], reads: ['rewrite'], needs: ['rewrite']},
  eval: {id: 'eval', command: Eval, output: 'eval', runnerFlags: ['output-path', 'device'], listFlags: ['tasks'], required: ['tasks'], reads: ['rewrite', 'distill'], needs: []},
}

/** A recipe key (snake_case) as its command's flag (kebab-case). */
export const flagOf = (key: string): string => key.replaceAll('_', '-')
export const keyOf = (flag: string): string => flag.replaceAll('-', '_')
