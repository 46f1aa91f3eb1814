import type {Interfaces} from '@oclif/core'
import {DISTILL_FLAGS} from '../cli/steps/distill.js'
import {EVAL_FLAGS} from '../cli/steps/eval.js'
import {FIND_HEADS_FLAGS} from '../cli/steps/find-heads.js'
import {REWRITE_FLAGS} from '../cli/steps/rewrite.js'

/** The recipe's step sections, in the order they run. */
export const SECTION_NAMES = ['find_heads', 'rewrite', 'distill', 'eval'] as const
export type SectionName = (typeof SECTION_NAMES)[number]

export interface SectionSpec {
  /** The command id, for equivalent command lines. */
  id: string
  /** The command's flags: the section's keys are these (less runnerFlags) in snake_case. */
  flags: Interfaces.FlagInput
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
  find_heads: {id: 'find-heads', flags: FIND_HEADS_FLAGS, output: 'heads.json', runnerFlags: ['out', 'device', 'force'], listFlags: [], required: [], reads: [], needs: []},
  rewrite: {id: 'rewrite', flags: REWRITE_FLAGS, output: 'hybrid', runnerFlags: ['heads', 'out', 'force'], listFlags: [], required: [], reads: ['find_heads'], needs: ['find_heads']},
  distill: {id: 'distill', flags: DISTILL_FLAGS, output: 'distill', runnerFlags: ['teacher', 'out', 'resume', 'device'], listFlags: ['stage', 'tokens', 'lr', 'layers', 'freeze'], required: ['data'], reads: ['rewrite'], needs: ['rewrite']},
  eval: {id: 'eval', flags: EVAL_FLAGS, output: 'eval', runnerFlags: ['output-path', 'device'], listFlags: ['tasks'], required: ['tasks'], reads: ['rewrite', 'distill'], needs: []},
}

/** A recipe key (snake_case) as its command's flag (kebab-case). */
export const flagOf = (key: string): string => key.replaceAll('_', '-')
export const keyOf = (flag: string): string => flag.replaceAll('-', '_')
