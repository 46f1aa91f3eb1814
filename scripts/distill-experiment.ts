/**
 * The distillation experiment of EXPERIMENTS.md, reproducing retrieval-aware distillation at small
 * scale on a fixture teacher. Run after `npm run build`:
 *
 *   npx vite-node scripts/distill-experiment.ts -- [--teacher fixtures/phi-tiny] [--out runs/distill-experiment]
 *       [--tokens 40k,60k,200k] [--lr 1e-3,1e-3,3e-4] [--keep 1] [--selection aggregate] [--samples 50] [--heads-samples 100]
 *       [--seq-len 128] [--batch-size 8] [--kv-share 0.5] [--pairs 4,8,12,16] [--data brown] [--eval-batches 4] [--device cpu]
 *       [--jobs 1] [--seconds S] [--seed 0] [--only find-heads-selection-aggregate,find-heads-no-stage-1,...]
 *       [--init attention|random] [--eval-keys heldout|train|all] [--train-pairs 10-20] [--student NAME=HEADS.json ...]
 *
 * Retrieval is trained (a --kv-share of the rows, dictionaries of --train-pairs, by default the range of
 * --pairs, on the train half of the key vocabulary) and scored at --pairs, by default 4 up to the maxPairs
 * of the fixture's training.json in steps of 4, on --eval-keys (default: the held-out half, which neither
 * find-heads nor distillation ever sees; the tables of EXPERIMENTS.md before the tenth session used all).
 * --student NAME=FILE (repeatable) adds a student rewritten from that heads.json (all its heads kept).
 *
 * Steps, each skipped when its output exists (so an interrupted experiment continues):
 *   1. find-heads picks the teacher's --keep heads on kv-retrieval (--selection: aggregate, by attention
 *      pattern, by default; greedy and individual by ablation).
 *   2. rewrite builds five students: find-heads' top --keep heads; no heads (pure SSM); as many random
 *      heads; as many heads chosen the other way (find-heads --selection greedy, by ablation, when the
 *      experiment's is aggregate, by attention pattern; else aggregate); find-heads' heads with d_state
 *      cut 4x. Their SSM mixers start from the attention weights, or with --init random from random
 *      projections, MOHAWK's own starting point.
 *   3. distill runs the stages one invocation each (stage 1, then 2, then 3), the same data and token
 *      budget for every student; plus two ablations of the find-heads student at the same total
 *      budget: without stage 1 (its tokens go to stage 3) and without stage 2 (likewise). --jobs runs
 *      that many distill processes at once (on a GPU each is bound by dispatch latency, so several
 *      share it well). --seconds S scales the --tokens budgets, keeping their ratios, so that the
 *      students' training takes about S seconds: a probe first times a few steps of each stage with
 *      --jobs processes running. --only runs the named students (their names in results.md, lower case,
 *      non-alphanumerics as '-'); --seed is the distillation data's seed.
 *   4. measures on held-out batches: the stage-1 mixing-matrix error and stage-2 hidden-state error
 *      before and after their stage, the final distillation loss (soft-target CE and KL), and
 *      kv-retrieval accuracy (log-likelihood over the candidates, 10 to 50 pairs) of teacher and students.
 * Writes <out>/results.json and <out>/results.md.
 */
import {existsSync} from 'node:fs'
import {mkdir, readFile, writeFile} from 'node:fs/promises'
import {join, resolve} from 'node:path'
import {parseArgs} from 'node:util'
import type {Backend} from '../src/backend/backend.js'
import {createBackend, type DeviceChoice} from '../src/backend/device.js'
import {BatchStream} from '../src/data/batches.js'
import {resolveCorpus} from '../src/data/corpus.js'
import {parseMix} from '../src/data/mix.js'
import {hybridStudent} from '../src/distill/hybrid-student.js'
import {parsePerStage, type DistillSettings} from '../src/distill/options.js'
import {STAGES} from '../src/distill/run.js'
import type {DistillTeacher} from '../src/distill/stage.js'
import type {DistillStudent} from '../src/distill/student.js'
import {noGrad} from '../src/engine/autograd.js'
import {klDivergence, softTargetCrossEntropy} from '../src/engine/losses.js'
import {fromArray, scopeAsync} from '../src/engine/tensor.js'
import type {LanguageModel} from '../src/models/language-model.js'
import {loadHybrid} from '../src/models/hybrid.js'
import {loadTeacher} from '../src/models/load.js'
import type {TeacherModel} from '../src/models/teacher.js'
import {loadTokenizer, type TextTokenizer} from '../src/tokenizer/load.js'
import {hybridizeCli, kvAccuracy, probeRates, retrievalPairs, slugOf, Slots, stageRunner, writeRandomHeads, type KvFigures, type Stage} from './distill-pieces.js'

const {values: args} = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    teacher: {type: 'string', default: 'fixtures/phi-tiny'},
    out: {type: 'string', default: 'runs/distill-experiment'},
    tokens: {type: 'string', default: '40k,60k,200k'},
    lr: {type: 'string', default: '1e-3,1e-3,3e-4'},
    keep: {type: 'string', default: '1'},
    selection: {type: 'string', default: 'aggregate'},
    samples: {type: 'string', default: '50'},
    'seq-len': {type: 'string', default: '128'},
    'batch-size': {type: 'string', default: '8'},
    'kv-share': {type: 'string', default: '0.5'},
    pairs: {type: 'string'},
    data: {type: 'string', default: 'brown'},
    'eval-batches': {type: 'string', default: '4'},
    'heads-samples': {type: 'string', default: '100'},
    device: {type: 'string', default: 'cpu'},
    jobs: {type: 'string', default: '1'},
    seed: {type: 'string', default: '0'},
    only: {type: 'string'},
    seconds: {type: 'string'},
    init: {type: 'string', default: 'attention'},
    'eval-keys': {type: 'string', default: 'heldout'},
    'train-pairs': {type: 'string'},
    student: {type: 'string', multiple: true, default: []},
  },
})

const out = resolve(args.out!)
const teacherDir = resolve(args.teacher!)
const keep = Number(args.keep)
let [t1, t2, t3] = parsePerStage('tokens', args.tokens!, 3)
const rowTokens = Number(args['batch-size']) * Number(args['seq-len'])
const [lr1, lr2, lr3] = parsePerStage('lr', args.lr!, 3, false)
const pairs = await retrievalPairs(args.pairs, teacherDir)
const mix = `kv-retrieval:${args['kv-share']}:pairs=${args['train-pairs'] ?? `${Math.min(...pairs)}-${Math.max(...pairs)}`}`
if (!['heldout', 'train', 'all'].includes(args['eval-keys']!)) throw new Error(`--eval-keys ${args['eval-keys']}: heldout, train or all`)
const common = ['--data', args.data!, '--mix', mix, '--seq-len', args['seq-len']!, '--batch-size', args['batch-size']!, '--seed', args.seed!, '--device', args.device!, '--save-every', '50', '--quiet']

const cli = hybridizeCli(new Slots(Number(args.jobs)))
const runStage = stageRunner(cli, {teacherDir, device: args.device!, common})
const distillStage = (name: string, from: string, stage: Stage, tokens: number, lr: number): Promise<string> => runStage(name, from, stage, tokens, lr, join(out, 'runs'))

interface StageError {
  stage: number
  before: number
  after: number
  rewritten?: number
}

interface Variant {
  name: string
  student: string
  /** Stages as run, with their token budgets. */
  stages: [1 | 2 | 3, number][]
}

async function main(): Promise<void> {
  await mkdir(out, {recursive: true})
  const heads = join(out, 'heads.json')
  const findHeads = async (selection: string, file: string): Promise<void> => {
    if (!existsSync(file)) await cli(['find-heads', teacherDir, '--samples', args['heads-samples']!, '--top-k', String(Math.max(1, keep)), '--selection', selection, '--out', file, '--device', args.device!, '--quiet'])
  }
  await findHeads(args.selection!, heads)
  const teacherConfig = JSON.parse(await readFile(join(teacherDir, 'config.json'), 'utf8')) as {num_hidden_layers: number; num_attention_heads: number; head_dim?: number; hidden_size: number}
  const headDim = teacherConfig.head_dim ?? teacherConfig.hidden_size / teacherConfig.num_attention_heads
  const randomHeads = join(out, 'heads-random.json')
  if (!existsSync(randomHeads)) await writeRandomHeads(heads, randomHeads, keep, teacherConfig)
  // The other way of choosing: ablation (greedy) beside aggregate, and the reverse.
  const contrast = args.selection === 'aggregate' ? 'greedy' : 'aggregate'
  const contrastHeads = join(out, `heads-${contrast}.json`)
  await findHeads(contrast, contrastHeads)
  const rewritten = async (name: string, extra: string[]): Promise<string> => {
    const folder = join(out, 'students', name)
    if (!existsSync(join(folder, 'config.json'))) await cli(['rewrite', teacherDir, '--out', folder, '--quiet', '--init', args.init!, ...extra])
    return folder
  }
  const initial: Record<string, string> = {
    [`find-heads --selection ${args.selection}`]: await rewritten('find-heads', ['--heads', heads, '--keep', String(keep)]),
    'pure SSM': await rewritten('ssm', ['--heads', heads, '--keep', '0']),
    'random heads': await rewritten('random', ['--heads', randomHeads]),
    [`find-heads --selection ${contrast}`]: await rewritten(contrast, ['--heads', contrastHeads, '--keep', String(keep)]),
    'find-heads, d_state / 4': await rewritten('find-heads-dstate', ['--heads', heads, '--keep', String(keep), '--d-state', String(Math.max(1, headDim / 4))]),
  }
  for (const spec of args.student!) {
    const [name, file] = spec.split('=')
    if (!name || !file) throw new Error(`--student ${spec}: NAME=HEADS.json`)
    initial[name] = await rewritten(slugOf(name), ['--heads', resolve(file)])
  }
  const main = `find-heads --selection ${args.selection}`
  const fh = initial[main]
  const chains: Record<string, () => Promise<Variant>> = Object.fromEntries(Object.entries(initial).map(([name, student]) => [name, async (): Promise<Variant> => {
    const s1 = await distillStage(`${slugOf(name)}-s1`, student, 1, t1, lr1)
    const s2 = await distillStage(`${slugOf(name)}-s2`, s1, 2, t2, lr2)
    return {name, student: await distillStage(`${slugOf(name)}-s3`, s2, 3, t3, lr3), stages: [[1, t1], [2, t2], [3, t3]]}
  }]))
  chains['find-heads, no stage 1'] = async () => ({
    name: 'find-heads, no stage 1', student: await distillStage('skip1-s3', await distillStage('skip1-s2', fh, 2, t2, lr2), 3, t3 + t1, lr3), stages: [[2, t2], [3, t3 + t1]],
  })
  chains['find-heads, no stage 2'] = async () => ({
    name: 'find-heads, no stage 2', student: await distillStage('skip2-s3', await distillStage(`${slugOf(main)}-s1`, fh, 1, t1, lr1), 3, t3 + t2, lr3), stages: [[1, t1], [3, t3 + t2]],
  })
  const only = args.only?.split(',')
  const chosen = Object.keys(chains).filter((name) => !only || only.includes(slugOf(name)))
  if (only && chosen.length !== only.length) throw new Error(`--only ${args.only}: students are ${Object.keys(chains).map(slugOf).join(', ')}`)
  // The chains read t1..t3 when they start, after the budget is fitted.
  if (args.seconds) await fitBudget(Object.values(initial), Number(args.seconds), chosen.length)
  const variants = await Promise.all(chosen.map((name) => chains[name]()))

  console.error('measuring')
  const backend = await createBackend(args.device as DeviceChoice)
  const teacher = await loadTeacher(teacherDir, backend)
  const tokenizer = await loadTokenizer(teacherDir)
  const batches = await heldOutBatches(tokenizer, teacher)
  /** Per student: each stage's error before and after it; for stage 2 also as rewritten (before stage 1). */
  const stageErrors: Record<string, StageError[]> = {}
  for (const [name, student] of Object.entries(initial).filter(([name]) => chosen.includes(name))) {
    const s1 = join(out, 'runs', `${slugOf(name)}-s1`, 'student')
    const s2 = join(out, 'runs', `${slugOf(name)}-s2`, 'student')
    stageErrors[name] = [
      {stage: 1, before: await stageLoss(1, student, teacher, backend, batches), after: await stageLoss(1, s1, teacher, backend, batches)},
      {stage: 2, before: await stageLoss(2, s1, teacher, backend, batches), after: await stageLoss(2, s2, teacher, backend, batches), rewritten: await stageLoss(2, student, teacher, backend, batches)},
    ]
    console.error(name, JSON.stringify(stageErrors[name]))
  }
  const samples = Number(args.samples)
  const teacherKv = await kvAccuracy(teacher, tokenizer, samples, pairs, args['eval-keys']!)
  console.error('teacher kv-retrieval', JSON.stringify(teacherKv))
  const results = []
  for (const v of variants) {
    const model = await loadHybrid(v.student, backend)
    const kd = await kdLoss(hybridStudent(model), teacher, batches)
    const kv = await kvAccuracy(model, tokenizer, samples, pairs, args['eval-keys']!)
    const attentionHeads = model.config.layers.reduce((n, l) => n + l.attentionHeads.length, 0)
    results.push({...v, attentionHeads, stateDim: model.config.mixer.stateDim, kd, kv, kvRelative: kv.acc / teacherKv.acc})
    console.error(v.name, JSON.stringify(results.at(-1)))
    for (const w of model.weights.values()) w.dispose()
  }
  const report = {teacher: teacherDir, totalHeads: teacherConfig.num_hidden_layers * teacherConfig.num_attention_heads, settings: args, teacherKv, stageErrors, results}
  await writeFile(join(out, 'results.json'), JSON.stringify(report, null, 2) + '\n')
  await writeFile(join(out, 'results.md'), markdown(report))
  console.log(markdown(report))
  backend.destroy()
}

/**
 * Scales t1..t3 (keeping their ratios) so that the longest chain of stages, at the probed rates,
 * takes about `seconds`. Rounded to whole steps. The budgets land in results.json's settings.
 */
async function fitBudget(students: string[], seconds: number, chains: number): Promise<void> {
  const jobs = Math.max(1, Number(args.jobs))
  const probeStudents = Array.from({length: Math.min(jobs, chains)}, (_, i) => students[i % students.length])
  // The slowest student's rate for each stage.
  const perStudent = (await probeRates(runStage, probeStudents, join(out, 'probe'), rowTokens)).rates
  const [r1, r2, r3] = [0, 1, 2].map((s) => Math.min(...perStudent.map((r) => r[s])))
  console.error(`probe: tokens/s a process with ${probeStudents.length} running, stages 1-3: ${[r1, r2, r3].map((r) => r.toFixed(0)).join(', ')}`)
  // Chains of about equal length share `jobs` slots: ceil(chains / jobs) rounds of one chain each.
  const rounds = Math.ceil(chains / jobs)
  const chainSeconds = t1 / r1 + t2 / r2 + t3 / r3
  const scale = seconds / rounds / chainSeconds
  const whole = (t: number) => Math.max(1, Math.round((t * scale) / rowTokens)) * rowTokens
  ;[t1, t2, t3] = [whole(t1), whole(t2), whole(t3)]
  args.tokens = `${t1},${t2},${t3}`
  console.error(`budget for ${seconds} s: tokens ${args.tokens} a student`)
}

/** The same held-out batches for every measurement: the training mix under another seed. */
async function heldOutBatches(tokenizer: TextTokenizer, teacher: TeacherModel): Promise<Int32Array[]> {
  const seqLen = Number(args['seq-len'])
  const stream = new BatchStream({
    corpus: await resolveCorpus(args.data!), tokenizer, eosId: teacher.config.eosTokenId as number, seqLen, seed: 99_991, mix: parseMix(mix),
  })
  const out: Int32Array[] = []
  for (let i = 0; i < Number(args['eval-batches']); i++) out.push(await stream.next(Number(args['batch-size'])))
  await stream.close()
  return out
}

const settingsFor = (): DistillSettings => ({
  teacher: teacherDir, student: '', data: args.data!, textField: 'text', stages: [1, 2, 3], tokens: [1, 1, 1], lr: [1, 1, 1],
  batchSize: Number(args['batch-size']), seqLen: Number(args['seq-len']), gradAccum: 1, seed: 0, loss: 'ce', temperature: 1, clip: 1,
  weightDecay: 0.1, warmup: 0.1, decay: 0.1, saveEvery: 1, precision: 'f32',
})

/** A stage's loss (summed over layers for stages 1-2, as trained) averaged over the held-out batches. */
async function stageLoss(stage: 1 | 2, folder: string, teacher: DistillTeacher, backend: Backend, batches: Int32Array[]): Promise<number> {
  const model = await loadHybrid(folder, backend)
  const student = hybridStudent(model)
  const layers = [...Array(student.numLayers).keys()].filter((l) => stage === 2 || model.mixers[l] !== undefined)
  const ctx = {student, teacher, settings: settingsFor(), layers}
  let total = 0
  for (const ids of batches) {
    total += await scopeAsync(async () => {
      const parts = noGrad(() => STAGES[stage].losses(ctx, fromArray(backend, ids, [Number(args['batch-size']), Number(args['seq-len'])])))
      let sum = 0
      for (const p of parts) sum += (await p.toArray())[0]
      return sum
    })
  }
  for (const w of model.weights.values()) w.dispose()
  return total / batches.length
}

/** Stage 3's loss (soft-target CE) and the KL part of it, averaged over the held-out batches. */
async function kdLoss(student: DistillStudent, teacher: DistillTeacher, batches: Int32Array[]): Promise<{ce: number; kl: number}> {
  let ce = 0
  let kl = 0
  for (const ids of batches) {
    const [c, k] = await scopeAsync(async () => {
      const t = fromArray(student.backend, ids, [Number(args['batch-size']), Number(args['seq-len'])])
      const target = teacher.forward(t).logits
      const logits = noGrad(() => student.forward(t).logits)
      return [(await softTargetCrossEntropy(logits, target).toArray())[0], (await klDivergence(logits, target).toArray())[0]]
    })
    ce += c / batches.length
    kl += k / batches.length
  }
  return {ce, kl}
}

function markdown(r: {teacherKv: KvFigures; totalHeads: number; stageErrors: Record<string, StageError[]>; results: {name: string; attentionHeads: number; stateDim: number; stages: [number, number][]; kd: {ce: number; kl: number}; kv: KvFigures; kvRelative: number}[]}): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`
  const pairs = Object.keys(r.teacherKv.byPairs)
  const lines = [
    '| student | heads kept | d_state | stages (tokens) | KD loss (CE) | KL | kv acc | vs teacher | ' + pairs.map((p) => `${p} pairs`).join(' | ') +
      ' | kv exact | vs teacher | ' + pairs.map((p) => `exact ${p}`).join(' | ') + ' |',
    '|' + ' --- |'.repeat(10 + 2 * pairs.length),
    `| teacher | ${r.totalHeads} | - | - | - | - | ${pct(r.teacherKv.acc)} | 100% | ` + pairs.map((p) => pct(r.teacherKv.byPairs[p])).join(' | ') +
      ` | ${pct(r.teacherKv.exact)} | 100% | ` + pairs.map((p) => pct(r.teacherKv.exactByPairs[p])).join(' | ') + ' |',
    ...r.results.map((v) =>
      `| ${v.name} | ${v.attentionHeads} (${pct(v.attentionHeads / r.totalHeads)}) | ${v.stateDim} | ${v.stages.map(([s, t]) => `${s}: ${t / 1000}k`).join(', ')} | ${v.kd.ce.toFixed(3)} | ${v.kd.kl.toFixed(3)} | ${pct(v.kv.acc)} | ${pct(v.kvRelative)} | ` +
      pairs.map((p) => pct(v.kv.byPairs[p])).join(' | ') + ` | ${pct(v.kv.exact)} | ${pct(v.kv.exact / r.teacherKv.exact)} | ` + pairs.map((p) => pct(v.kv.exactByPairs[p])).join(' | ') + ' |'),
    '',
    '| student | stage | error as rewritten | error before the stage | after | lowered by the stage | lowered since the rewrite |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...Object.entries(r.stageErrors).flatMap(([name, rows]) => rows.map((e) => {
      const rewritten = e.rewritten ?? e.before
      return `| ${name} | ${e.stage} | ${rewritten.toFixed(3)} | ${e.before.toFixed(3)} | ${e.after.toFixed(3)} | ${(e.before / e.after).toFixed(1)}x | ${(rewritten / e.after).toFixed(1)}x |`
    })),
  ]
  return lines.join('\n') + '\n'
}

await main()
process.exit(0)
