/**
 * Issue 21's acceptance test of a teacher's heads, on keys no head selection saw: does ablating the heads find-heads
 * selected (heads.json, scored on the train half of the keys) take kv-retrieval on the HELD-OUT half to chance,
 * where random sets of as many other heads cost little?
 *
 *   npx vite-node scripts/natural-teacher-ablation.ts MODEL HEADS_JSON [--pairs 20] [--samples 100] [--seed 7000]
 *       [--random-draws 5] [--device auto|webgpu|cpu]
 *
 * Prints one JSON object: the figures (acc, argmax_acc, exact_acc; heads/choice-scoring.ts) with no head ablated,
 * with the selected heads ablated (zeroed, as find-heads' default), and with each random set ablated; and chance.
 */
import {readFile} from 'node:fs/promises'
import {parseArgs} from 'node:util'
import {createBackend, type DeviceChoice} from '../src/backend/device.js'
import {heldOutItems} from '../src/fixtures/natural-data.js'
import {ablationRunner, isSelected, type HeadId} from '../src/heads/ablation-runner.js'
import {scoreChoices, type ChoiceOutcome} from '../src/heads/choice-scoring.js'
import {loadTeacher} from '../src/models/load.js'
import {loadTokenizer} from '../src/tokenizer/load.js'
import {Random} from '../src/util/random.js'

const {values, positionals} = parseArgs({
  allowPositionals: true,
  options: {
    pairs: {type: 'string', default: '20'},
    samples: {type: 'string', default: '100'},
    seed: {type: 'string', default: '7000'},
    'random-draws': {type: 'string', default: '5'},
    device: {type: 'string', default: 'auto'},
  },
})
if (positionals.length !== 2) {
  console.error('usage: natural-teacher-ablation MODEL HEADS_JSON [--pairs 20] [--samples 100] [--seed 7000] [--random-draws 5] [--device auto]')
  process.exit(2)
}
const [modelDir, headsPath] = positionals
const selected = (JSON.parse(await readFile(headsPath, 'utf8')) as {selected: HeadId[]}).selected
const backend = await createBackend(values.device as DeviceChoice)
const model = await loadTeacher(modelDir, backend)
const items = heldOutItems(await loadTokenizer(modelDir), {pairs: Number(values.pairs), samples: Number(values.samples), seed: Number(values.seed)})
const {numLayers, numHeads} = model.config
const others: HeadId[] = []
for (let layer = 0; layer < numLayers; layer++) for (let head = 0; head < numHeads; head++) if (!isSelected(selected, [layer, head])) others.push([layer, head])
const rng = new Random(Number(values.seed), 1)
const draws = Array.from({length: Number(values['random-draws'])}, () => rng.sampleWithoutReplacement(others, selected.length))
const variants: (readonly HeadId[])[] = [[], selected, ...draws]
const outcomes = await scoreChoices(variants.flatMap((variant) => items.map((item) => ({item, variant}))), ablationRunner(model))
const figures = (v: number) => {
  const own: ChoiceOutcome[] = outcomes.slice(v * items.length, (v + 1) * items.length)
  const share = (pick: (o: ChoiceOutcome) => boolean) => own.filter(pick).length / own.length
  return {acc: share((o) => o.correct), argmax_acc: share((o) => o.argmaxCorrect), exact_acc: share((o) => o.exactCorrect)}
}
console.log(
  JSON.stringify({
    model: modelDir,
    task: {name: 'kv-retrieval', keys: 'heldout', pairs: Number(values.pairs), samples: items.length, seed: Number(values.seed)},
    chance: 1 / Number(values.pairs),
    baseline: figures(0),
    selected: {heads: selected, ...figures(1)},
    random: draws.map((heads, i) => ({heads, ...figures(i + 2)})),
  }),
)
backend.destroy()
process.exit(0)
