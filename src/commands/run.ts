import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {executePlan, type StepReport} from '../recipe/execute.js'
import {loadRecipe} from '../recipe/load.js'
import {planRecipe, type Action} from '../recipe/plan.js'
import {DEVICES} from '../recipe/recipe.js'
import {commandLine, type StepName} from '../recipe/steps.js'

interface PlannedStepSummary {
  step: StepName
  action: Action
  reason: string
  output: string
  command: string
}

type RunResult =
  | {recipe: string; out: string; dryRun: true; steps: PlannedStepSummary[]}
  | {recipe: string; out: string; dryRun: false; steps: StepReport[]}

export default class Run extends BaseCommand {
  static override summary = 'Run the pipeline a recipe file describes: download, find-heads, rewrite, distill, eval.'

  static override description = `A recipe is a YAML file; every key but teacher and out is optional:

  teacher: fixtures/phi-tiny   # a folder, or org/name[@revision] to download
  out: runs/phi-tiny           # the folder every step writes under
  device: cpu                  # auto, webgpu or cpu; --device overrides it
  seed: 0                      # for find_heads, distill and eval
  find_heads: {samples: 20}    # writes out/heads.json and out/heads.svg
  rewrite: {budget: 5%}        # writes out/hybrid/
  distill: {data: brown}       # writes out/distill/, the student in student/
  eval: {tasks: kv-retrieval}  # writes out/eval/: teacher and students

A step section's keys are its command's flags in snake_case (top_k for --top-k, batch_size for --batch-size); the runner sets each step's inputs, outputs and device. A section left out is skipped; a section with no keys (\`rewrite:\`) runs with the defaults. rewrite needs find_heads, distill needs rewrite; eval compares the teacher with every student the recipe makes. Relative paths are relative to the current folder. Flags that take a comma-separated list (tasks, tokens, lr, stage, layers, freeze) also take a YAML list. \`hybridize schema recipe\` prints the recipe's JSON Schema, for editors and CI.

Each step calls the library function its command calls, with the same options and output as \`hybridize <command>\` with those flags (--dry-run prints the command lines). A step whose output is complete is skipped, unless a step it reads runs; an interrupted distillation resumes from its last checkpoint; --force reruns every step (a hub teacher already in the cache is not downloaded again). Ctrl-C stops the run and keeps every finished step's output.

A step replaces only outputs this recipe wrote (out/steps.json records each step as it starts): a file or folder already at an output's place that the recipe did not write (say, your own out/hybrid/) is refused, and replaced only with --force.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> recipes/phi-tiny.yaml',
    '<%= config.bin %> <%= command.id %> recipes/phi-tiny.yaml --dry-run',
    '<%= config.bin %> <%= command.id %> recipes/phi-tiny.yaml --device cpu --force --json',
  ]

  static override args = {
    recipe: Args.string({required: true, description: 'The recipe: a YAML file.'}),
  }

  static override flags = {
    force: Flags.boolean({description: 'Rerun every step, even those whose output is complete, replacing outputs this recipe did not write.'}),
    'dry-run': Flags.boolean({description: 'Print the plan (each step, its output, run or skip, its command line) and exit.'}),
    device: Flags.option({options: DEVICES, description: "Where to compute, overriding the recipe's device.", helpGroup: 'COMPUTE'})(),
  }

  async run(): Promise<RunResult> {
    const {args, flags} = await this.parse(Run)
    const loaded = await loadRecipe(args.recipe)
    const recipe = flags.device === undefined ? loaded : {...loaded, device: flags.device}
    const plan = await planRecipe(recipe, {force: flags.force})
    const header = {recipe: recipe.file, out: recipe.out}
    if (flags['dry-run']) {
      const steps = plan.map((s) => ({step: s.name, action: s.action, reason: s.reason, output: s.output, command: commandLine(s)}))
      this.log(table([['step', 'action', 'reason', 'output'], ...steps.map((s) => [s.step, s.action, s.reason, s.output])], steps.map((s) => s.command)))
      return {...header, dryRun: true, steps}
    }
    const steps = await executePlan(plan, {out: recipe.out, io: this.io, quiet: flags.quiet || this.jsonEnabled()})
    if (steps.some((s) => s.status !== 'skipped')) this.log('')
    this.log(table([['step', 'status', 'seconds', 'output'], ...steps.map((s) => [s.step, s.status, s.seconds.toFixed(1), s.output])]))
    return {...header, dryRun: false, steps}
  }
}

/** Aligned columns; `notes[i]`, when given, goes indented under row i + 1. */
function table(rows: string[][], notes: string[] = []): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)))
  return rows.map((r, i) => {
    const line = r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd()
    return i > 0 && notes[i - 1] ? `${line}\n  ${notes[i - 1]}` : line
  }).join('\n')
}
