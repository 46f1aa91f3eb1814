/**
 * The TypeScript side of the natural fixture teachers (scripts/train-natural-teacher.py trains them in PyTorch):
 *
 *   natural-teacher-data prepare DIR
 *     DIR/tokenizer.json, tokenizer_config.json: the fixture tokenizer (fixture-tokenizer.ts)
 *     DIR/configs.json: {llama, phi}: config.json of the llama-tiny and phi-spread specs (specs.ts) for it
 *     DIR/brown-train.i32: the train part of Brown (tasks/brown.ts) as one int32 token stream
 *     DIR/eval-val.json, DIR/eval-test.json: kv-retrieval items on held-out keys (natural-data.ts heldOutItems)
 *       at 10, 20 and 40 pairs: `val` is scored during training and picks the best checkpoint, `test` (another
 *       seed) is scored once, on the checkpoint picked, so the figure reported was not selected on
 *   natural-teacher-data stream DIR RECIPE_JSON FROM_STEP
 *     writes the frames (natural-data.ts encodeFrame) of steps FROM_STEP, FROM_STEP + 1, ... to stdout until the
 *     reader closes the pipe (the recipe's `steps` only sets how fast the dictionaries grow)
 *
 * Run with vite-node here; on the GPU machine from the bundle scripts/gpu-pack.sh makes (.gpu/natural-teacher-data.mjs).
 */
import {mkdir, readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {heldOutItems, encodeFrame, naturalStep, type NaturalRecipe, type NaturalSources} from '../src/fixtures/natural-data.js'
import {fixtureTokenizer} from '../src/fixtures/fixture-tokenizer.js'
import {FIXTURE_SPECS} from '../src/fixtures/specs.js'
import {brownTokenStream, pieceEncoder} from '../src/fixtures/training-data.js'
import {commonNouns} from '../src/tasks/words.js'
import {loadTokenizer, type TextTokenizer} from '../src/tokenizer/load.js'
import {writeTokenizer} from '../src/tokenizer/tokenizer-json.js'

const EVAL_PAIRS = [10, 20, 40]
const EVAL_SETS = {val: {seed: 5000, samples: 50}, test: {seed: 6000, samples: 200}}

function specialIds(tok: TextTokenizer): {bos: number; eos: number; pad: number} {
  const eos = tok.tokenToId('<|endoftext|>')
  const pad = tok.tokenToId('<|pad|>')
  if (eos === undefined || pad === undefined) throw new Error('the fixture tokenizer lacks <|endoftext|> or <|pad|>')
  return {bos: eos, eos, pad}
}

async function prepare(dir: string): Promise<void> {
  await mkdir(dir, {recursive: true})
  const {bpe, tok} = await fixtureTokenizer()
  await writeTokenizer(dir, bpe)
  const special = specialIds(tok)
  const config = (name: string) => FIXTURE_SPECS.find((s) => s.name === name)!.config(bpe.vocab.length, special)
  await writeFile(join(dir, 'configs.json'), `${JSON.stringify({llama: config('llama-tiny'), phi: config('phi-spread')}, null, 2)}\n`)
  const stream = brownTokenStream(tok, Infinity, special.eos, 'train')
  await writeFile(join(dir, 'brown-train.i32'), new Uint8Array(stream.buffer, stream.byteOffset, stream.byteLength))
  for (const [name, set] of Object.entries(EVAL_SETS)) {
    const items = EVAL_PAIRS.map((pairs) => ({pairs, seed: set.seed, keys: 'heldout', items: heldOutItems(tok, {pairs, samples: set.samples, seed: set.seed})}))
    await writeFile(join(dir, `eval-${name}.json`), `${JSON.stringify(items)}\n`)
  }
  console.error(`natural-teacher-data: ${dir}: tokenizer (${bpe.vocab.length} tokens), ${stream.length} Brown tokens, eval sets at ${EVAL_PAIRS.join(', ')} pairs`)
}

async function stream(dir: string, recipe: NaturalRecipe, from: number): Promise<void> {
  const tok = await loadTokenizer(dir)
  const encode = pieceEncoder(tok)
  const bytes = await readFile(join(dir, 'brown-train.i32'))
  const src: NaturalSources = {
    encode,
    text: new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4),
    lookBackVocabulary: [...new Set([...commonNouns(), ...'0123456789'].flatMap((piece) => encode(piece)))],
    padId: specialIds(tok).pad,
  }
  // The trainer closes the pipe when it is done; that ends this process, quietly.
  process.stdout.on('error', () => process.exit(0))
  for (let step = from; ; step++) {
    // Wait while the pipe is full: the trainer reads a few steps ahead, no more.
    if (!process.stdout.write(encodeFrame(step, naturalStep(src, recipe, step)))) await new Promise((resolve) => process.stdout.once('drain', resolve))
  }
}

const [command, ...args] = process.argv.slice(2)
if (command === 'prepare' && args.length === 1) await prepare(args[0])
else if (command === 'stream' && args.length === 3) await stream(args[0], JSON.parse(args[1]) as NaturalRecipe, Number(args[2]))
else {
  console.error('usage: natural-teacher-data prepare DIR | stream DIR RECIPE_JSON FROM_STEP')
  process.exit(2)
}
