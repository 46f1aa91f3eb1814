/**
 * The papers' curves at small scale on the natural Phi (issue 21, point 3), every student distilled
 * the same way (MOHAWK stages 1, 2, 3, one `hybridize distill` each, the main-job recipe's lr, batch,
 * sequence length and mix) at one stated token budget, under each data seed of --seeds:
 *   heads      heads kept K = 0 ("none"), 1, 2, 4, 8 of find-heads' individual ranking (the papers'
 *              selection), beside layer-level hybrids that keep every head of --layer-counts layers
 *              (evenly spaced: layer floor((i + 1/2) L / n), the others pure SSM);
 *   state      K = --keep with d_state N (the head dim), N/2, N/4, N/8;
 *   mixer      K = --keep as discrete Mamba-2, Mamba-2, Mamba-3 SISO and Mamba-3 MIMO rank 2 (without
 *              stage 1, its tokens to stage 3: a MIMO head's mixing matrix is R x R blocks, and stage 1
 *              has no one attention matrix to match each with);
 *   selection  --keep heads chosen by individual ablation, greedy ablation, aggregate pattern, at
 *              random (drawn afresh for each data seed: Random(12345 + seed)), and none (K = 0);
 *   stages     K = --keep without stage 1 (its tokens go to stage 3) and without stage 2 (likewise),
 *              and all three variants again at the --budgets fractions of the budget.
 * Each finished student is scored at once, in its own `hybridize eval` process: kv-retrieval on
 * --eval-keys (default the held-out half of the key vocabulary, which neither find-heads nor the
 * distillation mix ever sees) at --pairs, log-likelihood acc and greedy exact match, --samples per
 * pair count, and word perplexity on held-out Brown (ppl:brown-heldout, text distill never reads).
 * Memory per sequence at --context tokens (16-bit: KV cache of the kept heads + SSM and conv state)
 * comes from the student's config (src/models/memory.ts, what `inspect` reports).
 *
 *   npx vite-node scripts/natural-curves.ts -- [--out runs/natural-curves] [--seconds S] [--jobs 16]
 *       [--device webgpu] [--seeds 0,1] [--curves heads,state,mixer,selection,stages] [--tokens ...]
 *
 * --seconds S fits the budget (keeping the --tokens ratios, 1 : 1 : 4) so that every chain of stages and
 * its eval take about S seconds with --jobs processes at once, from a probe of each mixer's tokens a second
 * and the teacher's eval time; the budget lands in <out>/budget.json and a later run (e.g. a second device
 * call) reuses it, so every student of the experiment has the same budget. --end-by T (a Unix time in
 * seconds) fits it instead to the time left after the probe until T. Every step is skipped when
 * its output exists; a stage interrupted by SIGINT saves a checkpoint and resumes. The first SIGINT lets
 * the processes running save and stop, then the results of the students finished so far are written:
 * <out>/results.json, <out>/results.md (scripts/plot-natural-curves.ts draws the charts).
 */
import {existsSync} from 'node:fs'
import {mkdir, readFile, rename, writeFile} from 'node:fs/promises'
import {join, resolve} from 'node:path'
import {parseArgs} from 'node:util'
import {parsePerStage} from '../src/distill/options.js'
import {parseTeacherConfig} from '../src/models/config.js'
import {parseHybridConfig} from '../src/models/hybrid-config.js'
import {readConfigJson} from '../src/models/load.js'
import {hybridSequenceMemory, teacherSequenceMemory, type SequenceMemory} from '../src/models/memory.js'
import {hybridizeCli, makespan, probeRates, Slots, stageRunner, writeHeadsFile, writeRandomHeads, type Stage} from './distill-pieces.js'

const CURVES = ['heads', 'state', 'mixer', 'selection', 'stages'] as const
type Curve = (typeof CURVES)[number]

const {values: args} = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    teacher: {type: 'string', default: 'fixtures/phi-natural'},
    'heads-dir': {type: 'string', default: 'experiments/natural-teachers/find-heads-phi-natural'},
    out: {type: 'string', default: 'runs/natural-curves'},
    // The main-job recipe (recipes/phi-tiny.yaml): 1 : 1 : 4, its lr, batch, sequence length and mix.
    tokens: {type: 'string', default: '57344,57344,229376'},
    lr: {type: 'string', default: '2e-3,2e-3,1e-3'},
    'batch-size': {type: 'string', default: '16'},
    'seq-len': {type: 'string', default: '128'},
    'kv-share': {type: 'string', default: '0.75'},
    'train-pairs': {type: 'string', default: '10-20'},
    data: {type: 'string', default: 'brown'},
    keep: {type: 'string', default: '2'},
    'layer-counts': {type: 'string', default: '1,2'},
    budgets: {type: 'string', default: '0.25,0.5'},
    seeds: {type: 'string', default: '0,1'},
    curves: {type: 'string', default: CURVES.join(',')},
    pairs: {type: 'string', default: '10,20,40'},
    samples: {type: 'string', default: '50'},
    'eval-keys': {type: 'string', default: 'heldout'},
    'ppl-seq-len': {type: 'string', default: '512'},
    context: {type: 'string', default: '4096'},
    device: {type: 'string', default: 'cpu'},
    jobs: {type: 'string', default: '1'},
    seconds: {type: 'string'},
    'end-by': {type: 'string'},
    'eval-factor': {type: 'string', default: '3'},
    'probe-steps': {type: 'string', default: '24'},
  },
})

const out = resolve(args.out!)
const teacherDir = resolve(args.teacher!)
const headsDir = resolve(args['heads-dir']!)
const keep = Number(args.keep)
const rowTokens = Number(args['batch-size']) * Number(args['seq-len'])
const lrs = parsePerStage('lr', args.lr!, 3, false)
const seeds = args.seeds!.split(',').map(Number)
const pairs = args.pairs!.split(',').map(Number)
const curves = args.curves!.split(',') as Curve[]
for (const c of curves) if (!CURVES.includes(c)) throw new Error(`--curves ${c}: one of ${CURVES.join(', ')}`)
const mix = `kv-retrieval:${args['kv-share']}:pairs=${args['train-pairs']}`
const slots = new Slots(Number(args.jobs))
const cli = hybridizeCli(slots)
const stageSettings = (seed: number) => ({
  teacherDir, device: args.device!,
  common: ['--data', args.data!, '--mix', mix, '--seq-len', args['seq-len']!, '--batch-size', args['batch-size']!, '--seed', String(seed), '--device', args.device!, '--save-every', '50', '--quiet'],
})
/** One stage runner per data seed (the seed is one of the flags every stage shares). */
const runners = new Map(seeds.map((seed) => [seed, stageRunner(cli, stageSettings(seed))]))

/** A rewritten student: how it is made and what it varies. */
interface StudentSpec {
  name: string
  heads: string
  /** Heads kept from the file's ranking; absent: its selection. */
  keep?: number
  selection: 'individual' | 'greedy' | 'aggregate' | 'random' | 'none' | 'layers'
  mixer: 'discrete-mamba2' | 'mamba2' | 'mamba3'
  mimoRank?: number
  dState?: number
  /** Curves it stands in with the full budget and all three stages. */
  curves: Curve[]
  /** Random heads are drawn per data seed; every other student serves every seed. */
  seed?: number
  /**
   * Skips stage 1 (its tokens go to stage 3): a MIMO mixer's mixing matrix is R x R blocks a head,
   * which stage 1 has no single attention matrix to compare with.
   */
  noStage1?: boolean
}

type Ablation = 'all stages' | 'no stage 1' | 'no stage 2'

interface Chain {
  spec: StudentSpec
  seed: number
  /** Share of the budget this chain gets. */
  fraction: number
  ablation: Ablation
  curves: Curve[]
}

interface TeacherShape {
  num_hidden_layers: number
  num_attention_heads: number
  head_dim?: number
  hidden_size: number
}

/** The students of the curves asked for. */
async function studentSpecs(cfg: TeacherShape): Promise<StudentSpec[]> {
  const individual = join(headsDir, 'heads-individual-k4.json')
  const N = cfg.head_dim ?? cfg.hidden_size / cfg.num_attention_heads
  const want = (...c: Curve[]) => c.filter((x) => curves.includes(x))
  const base = {heads: individual, keep, selection: 'individual', mixer: 'discrete-mamba2'} as const
  const specs: StudentSpec[] = [
    {...base, name: `k${keep}`, curves: want('heads', 'state', 'mixer', 'selection', 'stages')},
    ...[0, 1, 2, 4, 8].filter((k) => k !== keep).map((k): StudentSpec => ({...base, name: `k${k}`, keep: k, selection: k === 0 ? 'none' : 'individual', curves: want('heads', ...(k === 0 ? ['selection' as const] : []))})),
  ]
  await mkdir(join(out, 'heads'), {recursive: true})
  for (const n of args['layer-counts']!.split(',').map(Number)) {
    const layers = Array.from({length: n}, (_, i) => Math.floor(((i + 0.5) * cfg.num_hidden_layers) / n))
    const file = join(out, 'heads', `layers-${n}.json`)
    if (!existsSync(file)) await writeHeadsFile(individual, file, layers.flatMap((l) => Array.from({length: cfg.num_attention_heads}, (_, h) => [l, h])), `every head of layers ${layers.join(', ')} (of ${cfg.num_hidden_layers}): a layer-level hybrid`)
    specs.push({name: `layers-${n}`, heads: file, selection: 'layers', mixer: 'discrete-mamba2', curves: want('heads')})
  }
  for (const d of [2, 4, 8].map((f) => N / f)) specs.push({...base, name: `k${keep}-d${d}`, dState: d, curves: want('state')})
  specs.push({...base, name: `k${keep}-mamba2`, mixer: 'mamba2', curves: want('mixer')})
  specs.push({...base, name: `k${keep}-mamba3`, mixer: 'mamba3', curves: want('mixer')})
  specs.push({...base, name: `k${keep}-mamba3-mimo2`, mixer: 'mamba3', mimoRank: 2, noStage1: true, curves: want('mixer')})
  for (const selection of ['greedy', 'aggregate'] as const) {
    specs.push({...base, name: `${selection}-k${keep}`, heads: join(headsDir, `heads-${selection}-k${keep}.json`), selection, curves: want('selection')})
  }
  for (const seed of seeds) {
    const file = join(out, 'heads', `random-k${keep}-seed${seed}.json`)
    if (!existsSync(file)) await writeRandomHeads(individual, file, keep, cfg, 12345 + seed)
    specs.push({...base, name: `random-k${keep}-seed${seed}`, heads: file, keep: undefined, selection: 'random', seed, curves: want('selection')})
  }
  return specs
}

/**
 * Every chain of stages, in the order they should finish (an interrupted call leaves whole curves): each
 * student's full chain, both seeds together, curve by curve in --curves' order; then the stage ablations.
 */
function chainsOf(specs: StudentSpec[]): Chain[] {
  const seedsOf = (spec: StudentSpec) => seeds.filter((s) => spec.seed === undefined || spec.seed === s)
  // In the order of --curves (a chain in several curves by the first of them), so a call cut short leaves the curves named first whole.
  const rank = (c: Chain) => Math.min(...c.curves.map((x) => curves.indexOf(x)))
  const full = specs.filter((spec) => spec.curves.length > 0).flatMap((spec) => seedsOf(spec).map((seed): Chain => ({spec, seed, fraction: 1, ablation: spec.noStage1 ? 'no stage 1' : 'all stages', curves: spec.curves})))
  full.sort((a, b) => rank(a) - rank(b))
  const variants: [number, Ablation][] = [[1, 'no stage 1'], [1, 'no stage 2'], ...args.budgets!.split(',').map(Number).flatMap((f) => (['all stages', 'no stage 1', 'no stage 2'] as const).map((a): [number, Ablation] => [f, a]))]
  const ablations = specs.filter((spec) => spec.curves.includes('stages')).flatMap((spec) => seedsOf(spec).flatMap((seed) => variants.map(([fraction, ablation]): Chain => ({spec, seed, fraction, ablation, curves: ['stages']}))))
  return [...full, ...ablations]
}

/** The stages a chain runs and their tokens: a skipped stage's tokens go to stage 3. */
function stagesOf(chain: Chain, budget: number[]): [Stage, number][] {
  const t = budget.map((x) => Math.max(1, Math.round((x * chain.fraction) / rowTokens)) * rowTokens)
  if (chain.ablation === 'no stage 1') return [[2, t[1]], [3, t[2] + t[0]]]
  if (chain.ablation === 'no stage 2') return [[1, t[0]], [3, t[2] + t[1]]]
  return [[1, t[0]], [2, t[1]], [3, t[2]]]
}

/** A chain's run folders are named by the stages it has run, so chains that start alike share their first runs. */
const runName = (chain: Chain, stages: [Stage, number][]): string => `${chain.spec.name}-x${chain.fraction}-${stages.map(([s]) => s).join('')}`

async function rewritten(spec: StudentSpec): Promise<string> {
  const folder = join(out, 'students', spec.name)
  const extra = [
    ...(spec.keep === undefined ? [] : ['--keep', String(spec.keep)]), '--mixer', spec.mixer,
    ...(spec.dState === undefined ? [] : ['--d-state', String(spec.dState)]), ...(spec.mimoRank === undefined ? [] : ['--mimo-rank', String(spec.mimoRank)]),
  ]
  if (!existsSync(join(folder, 'model.safetensors'))) await cli(['rewrite', teacherDir, '--heads', spec.heads, ...extra, '--out', folder, '--quiet'], {priority: -1})
  return folder
}

interface Scores {
  kv: {acc: number; exact: number; byPairs: Record<string, number>; exactByPairs: Record<string, number>}
  ppl: {word: number; token: number; bitsPerByte: number}
  evalSeconds: number
}

/** `hybridize eval` of a model: kv-retrieval at each of --pairs and held-out Brown perplexity, written to `file` once complete. */
async function scored(model: string, file: string, priority: number): Promise<Scores> {
  if (!existsSync(file)) {
    const tasks = [...pairs.map((p) => `kv-retrieval:keys=${args['eval-keys']}:pairs=${p}`), 'ppl:brown-heldout']
    const started = Date.now()
    const stdout = await cli(['eval', model, '--tasks', tasks.join(','), '--limit', args.samples!, '--seq-len', args['ppl-seq-len']!, '--device', args.device!, '--json'], {priority, capture: true})
    const results = (JSON.parse(stdout) as {models: {results: {metrics: Record<string, number>}[]}[]}).models[0].results.map((r) => r.metrics)
    const kv = results.slice(0, pairs.length)
    const ppl = results[pairs.length]
    const mean = (key: string) => kv.reduce((a, m) => a + m[key], 0) / kv.length
    const byPairs = (key: string) => Object.fromEntries(pairs.map((p, i) => [String(p), kv[i][key]]))
    const s: Scores = {
      kv: {acc: mean('acc,none'), exact: mean('exact_acc,none'), byPairs: byPairs('acc,none'), exactByPairs: byPairs('exact_acc,none')},
      ppl: {word: ppl['word_perplexity,none'], token: ppl['token_perplexity,none'], bitsPerByte: ppl['bits_per_byte,none']},
      evalSeconds: (Date.now() - started) / 1000,
    }
    const numbers = [s.kv.acc, s.kv.exact, s.ppl.word, s.ppl.token]
    if (!numbers.every(Number.isFinite)) throw new Error(`eval of ${model}: a non-finite score (${numbers.join(', ')})`)
    await writeFile(file + '.tmp', JSON.stringify(s, null, 2) + '\n')
    await rename(file + '.tmp', file)
  }
  return JSON.parse(await readFile(file, 'utf8')) as Scores
}

interface Budget {
  /** Stage 1, 2, 3 tokens of a full-budget chain. */
  tokens: number[]
  /** How it was fitted (absent: --tokens as given). */
  fit?: {seconds: number; jobs: number; rates: Record<string, number[]>; startSeconds: number; evalSeconds: number; chains: number}
}

/** The mixer a student runs, as the probe times them. */
const mixerKey = (spec: StudentSpec): string => `${spec.mixer}${spec.mimoRank && spec.mimoRank > 1 ? `-mimo${spec.mimoRank}` : ''}`

/**
 * <out>/budget.json if an earlier run fitted one; else --tokens, scaled with --seconds so that the chains
 * (their steps at the probed rates, each process's start, their evals), run in order --jobs at a time,
 * end within S.
 */
async function budgetFor(chains: Chain[], students: Map<string, string>, evalSeconds: number): Promise<Budget> {
  const file = join(out, 'budget.json')
  if (existsSync(file)) return JSON.parse(await readFile(file, 'utf8')) as Budget
  const tokens = parsePerStage('tokens', args.tokens!, 3)
  if (!args.seconds && !args['end-by']) return {tokens}
  if (args.seconds && args['end-by']) throw new Error('--seconds or --end-by, not both')
  const jobs = Math.max(1, Number(args.jobs))
  // One probe student per mixer, the rest of the slots filled with the first student, so the probe runs as loaded as the experiment.
  const byMixer = new Map<string, StudentSpec>()
  for (const c of chains) if (!byMixer.has(mixerKey(c.spec))) byMixer.set(mixerKey(c.spec), c.spec)
  const probeKeys = [...byMixer.keys()]
  while (probeKeys.length < Math.min(jobs, chains.length)) probeKeys.push(probeKeys[0])
  const probed = probeKeys.map((k) => byMixer.get(k)!)
  const measured = await probeRates(runners.get(seeds[0])!, probed.map((spec) => students.get(spec.name)!), join(out, 'probe'), rowTokens, Number(args['probe-steps']), (i, stage) => stage !== 1 || !probed[i].noStage1)
  // What is left of the clock once the probe has run.
  const seconds = args.seconds ? Number(args.seconds) : Number(args['end-by']) - Date.now() / 1000
  const rates: Record<string, number[]> = {}
  probeKeys.forEach((k, i) => (rates[k] = rates[k] ? rates[k].map((r, s) => Math.min(r, measured.rates[i][s])) : measured.rates[i]))
  const trainSeconds = chains.map((c) => stagesOf(c, tokens).reduce((a, [s, t]) => a + t / rates[mixerKey(c.spec)][s - 1], 0))
  // What does not scale with the budget: each process's start, and the eval, which shares the device with
  // the other processes: --eval-factor times what the teacher's took alone (on this 2-core CPU
  // with 4 processes a student's eval took 5 times the teacher's: 93 s against 18 s).
  const fixedSeconds = chains.map((c) => stagesOf(c, tokens).length * measured.startSeconds + Number(args['eval-factor']) * evalSeconds)
  const lasts = (scale: number) => makespan(chains.map((_, i) => fixedSeconds[i] + scale * trainSeconds[i]), jobs)
  if (lasts(0) >= seconds) throw new Error(`${seconds.toFixed(0)} s: the processes' starts and evals alone take ${lasts(0).toFixed(0)} s (${chains.length} chains, ${jobs} at once)`)
  // The largest scale whose schedule ends within the time (bisection: the end grows with the scale).
  let [lo, hi] = [0, 1]
  while (lasts(hi) < seconds) hi *= 2
  for (let i = 0; i < 50; i++) [lo, hi] = lasts((lo + hi) / 2) < seconds ? [(lo + hi) / 2, hi] : [lo, (lo + hi) / 2]
  const scale = lo
  const budget: Budget = {tokens: tokens.map((t) => Math.max(1, Math.round((t * scale) / rowTokens)) * rowTokens), fit: {seconds, jobs, rates, startSeconds: measured.startSeconds, evalSeconds, chains: chains.length}}
  console.error(`probe: tokens/s a process with ${probeKeys.length} running, stages 1-3: ${Object.entries(rates).map(([k, r]) => `${k} ${r.map((x) => x.toFixed(0)).join('/')}`).join('; ')}; ${measured.startSeconds.toFixed(1)} s a process outside its steps`)
  console.error(`budget for ${seconds.toFixed(0)} s: tokens ${budget.tokens.join(',')} a full chain`)
  await writeFile(file, JSON.stringify(budget, null, 2) + '\n')
  return budget
}

/** Stages in order, then the eval of the last one's student; nothing when that eval is there (an earlier call's). */
async function runChain(chain: Chain, student: string, budget: Budget, priority: number): Promise<{chain: Chain; stages: [Stage, number][]; scores: Scores}> {
  const stages = stagesOf(chain, budget.tokens)
  const runs = join(out, 'runs', `seed${chain.seed}`)
  const evalFile = join(runs, runName(chain, stages), 'eval.json')
  if (existsSync(evalFile)) return {chain, stages, scores: await scored('', evalFile, priority)}
  let from = student
  for (let i = 0; i < stages.length; i++) {
    const [stage, tokens] = stages[i]
    from = await runners.get(chain.seed)!(runName(chain, stages.slice(0, i + 1)), from, stage, tokens, lrs[stage - 1], runs, priority)
  }
  return {chain, stages, scores: await scored(from, evalFile, priority)}
}

/** Memory one sequence holds at --context tokens, 2 bytes an element (bf16, the checkpoints' dtype). */
async function memoryOf(folder: string, teacher: boolean): Promise<SequenceMemory> {
  const json = await readConfigJson(folder)
  const context = Number(args.context)
  return teacher ? teacherSequenceMemory(parseTeacherConfig(json), context, 2) : hybridSequenceMemory(parseHybridConfig(json), context, 2)
}

async function main(): Promise<void> {
  await mkdir(out, {recursive: true})
  let stopping = false
  process.on('SIGINT', () => {
    // The children got it too: each saves a checkpoint after its step and stops; results are written below.
    if (stopping) process.exit(130)
    stopping = true
    slots.stop()
    console.error('natural-curves: stopping; writing the results of the students finished so far')
  })
  const cfg = JSON.parse(await readFile(join(teacherDir, 'config.json'), 'utf8')) as TeacherShape
  const specs = await studentSpecs(cfg)
  const chains = chainsOf(specs)
  const used = specs.filter((s) => chains.some((c) => c.spec === s))
  const students = new Map(await Promise.all(used.map(async (s) => [s.name, await rewritten(s)] as const)))
  const teacher = await scored(teacherDir, join(out, 'teacher-eval.json'), -1)
  const budget = await budgetFor(chains, students, teacher.evalSeconds)
  console.error(`natural-curves: ${chains.length} chains, tokens ${budget.tokens.join(',')} a full chain, ${args.jobs} at once`)
  const settled = await Promise.allSettled(chains.map((c, i) => runChain(c, students.get(c.spec.name)!, budget, i)))
  const failed = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected')
  if (!stopping) for (const f of failed) console.error(`natural-curves: ${String(f.reason)}`)
  const done = settled.filter((s) => s.status === 'fulfilled').map((s) => s.value)
  const results = await Promise.all(done.map(async ({chain, stages, scores}) => {
    const config = parseHybridConfig(await readConfigJson(students.get(chain.spec.name)!))
    const heads = config.layers.flatMap((l, i) => l.attentionHeads.map((h) => [i, h]))
    return {
      name: chain.spec.name, seed: chain.seed, curves: chain.curves, selection: chain.spec.selection, mixer: mixerKey(chain.spec),
      headsKept: heads.length, heads, attentionLayers: config.layers.filter((l) => l.attentionHeads.length === cfg.num_attention_heads).length,
      dState: config.mixer.stateDim, ablation: chain.ablation, budgetFraction: chain.fraction, stages, tokens: stages.reduce((a, [, t]) => a + t, 0),
      kv: scores.kv, ppl: scores.ppl, memory: await memoryOf(students.get(chain.spec.name)!, false),
    }
  }))
  const report = {
    teacher: {folder: teacherDir, kv: teacher.kv, ppl: teacher.ppl, memory: await memoryOf(teacherDir, true), heads: cfg.num_hidden_layers * cfg.num_attention_heads},
    settings: {...args, mix}, budget, chains: chains.length, finished: results.length, results,
  }
  await writeFile(join(out, 'results.json'), JSON.stringify(report, null, 2) + '\n')
  await writeFile(join(out, 'results.md'), markdown(report))
  console.log(markdown(report))
  console.error(`natural-curves: ${results.length} of ${chains.length} chains finished${failed.length ? `, ${failed.length} not` : ''}`)
  process.exit(failed.length > 0 && !stopping ? 1 : 0)
}

type Report = {teacher: {kv: Scores['kv']; ppl: Scores['ppl']; memory: SequenceMemory; heads: number}; results: {name: string; seed: number; headsKept: number; dState: number; mixer: string; selection: string; ablation: string; budgetFraction: number; tokens: number; kv: Scores['kv']; ppl: Scores['ppl']; memory: SequenceMemory}[]}

function markdown(r: Report): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`
  const kb = (b: number) => `${(b / 1024).toFixed(0)} KiB`
  const cols = pairs.map((p) => `exact ${p} | acc ${p}`).join(' | ')
  const row = (who: string[], kv: Scores['kv'], ppl: Scores['ppl'], memory: SequenceMemory) =>
    `| ${who.join(' | ')} | ${pairs.map((p) => `${pct(kv.exactByPairs[p])} | ${pct(kv.byPairs[p])}`).join(' | ')} | ${ppl.word.toFixed(1)} | ${kb(memory.totalBytes)} |`
  const sorted = [...r.results].sort((a, b) => a.name.localeCompare(b.name) || a.ablation.localeCompare(b.ablation) || a.budgetFraction - b.budgetFraction || a.seed - b.seed)
  return [
    `| student | seed | heads kept | d_state | mixer | selection | stages | tokens | ${cols} | word ppl (Brown held-out) | memory / sequence at ${args.context} |`,
    '|' + ' --- |'.repeat(10 + 2 * pairs.length),
    row(['teacher', '-', String(r.teacher.heads), '-', '-', '-', '-', '-'], r.teacher.kv, r.teacher.ppl, r.teacher.memory),
    ...sorted.map((v) => row([v.name, String(v.seed), String(v.headsKept), String(v.dState), v.mixer, v.selection, v.ablation, `${(v.tokens / 1e3).toFixed(0)}k`], v.kv, v.ppl, v.memory)),
  ].join('\n') + '\n'
}

await main()
