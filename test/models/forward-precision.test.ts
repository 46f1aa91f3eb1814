import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {SafetensorsFile} from '../../src/io/safetensors/reader.js'
import {writeSafetensors} from '../../src/io/safetensors/writer.js'
import {runCli} from '../helpers/cli.js'
import {relativeError} from '../helpers/compare.js'
import {repoRoot} from '../helpers/paths.js'
import {Rng} from '../helpers/random.js'

/**
 * `forward --precision mixed`: the teacher's linear layers on f16-rounded operands with f32 sums,
 * as mixed-precision training runs them (the f16-compute check of scripts/mixed-h200.sh on
 * Llama-3.2-1B). llama-tiny is stored BF16: --dtype auto loads it as f32 for mixed precision.
 */
const teacher = resolve(repoRoot, 'fixtures/llama-tiny')
let dir: string
let input: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hybridize-forward-precision-'))
  input = join(dir, 'ids.safetensors')
  const rng = new Rng(5)
  await writeSafetensors(input, [{name: 'input_ids', dtype: 'I32', shape: [2, 48], data: Int32Array.from({length: 96}, () => rng.int(0, 4093))}])
})

afterAll(async () => {
  await rm(dir, {recursive: true, force: true})
})

async function logits(precision: string): Promise<Float32Array> {
  const output = join(dir, `${precision}.safetensors`)
  const run = runCli(['forward', teacher, '--input', input, '--output', output, '--device', 'cpu', '--precision', precision])
  expect(run.status, run.stderr).toBe(0)
  // The checkpoint's BF16 values, exact in f32 as well: only the matmuls differ between the two.
  expect(run.stderr).toContain(precision === 'mixed' ? 'weights: f32' : 'weights: bf16')
  const file = await SafetensorsFile.open(output)
  try {
    return (await file.read('logits')).data as Float32Array
  } finally {
    await file.close()
  }
}

describe('hybridize forward --precision', () => {
  it('mixed: logits within f16 rounding of f32 (relative error < 1e-2), but not the same numbers', async () => {
    const [f32, mixed] = [await logits('f32'), await logits('mixed')]
    const err = relativeError(mixed, f32)
    expect(err).toBeGreaterThan(0)
    expect(err).toBeLessThan(1e-2)
  })

  it('refuses --precision mixed with half-precision weights (exit 2)', () => {
    const run = runCli(['forward', teacher, '--input', input, '--output', join(dir, 'x.safetensors'), '--device', 'cpu', '--precision', 'mixed', '--dtype', 'bf16'])
    expect(run.status).toBe(2)
    expect(run.stderr).toMatch(/--precision mixed rounds f32 weights to f16 itself: it takes --dtype auto or f32, not bf16/)
  })
})
