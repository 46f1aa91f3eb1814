import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {join, resolve} from 'node:path'
import {describe, expect, it} from 'vitest'
import {narrow} from '../../src/engine/layout-ops.js'
import {fromArray, type Tensor} from '../../src/engine/tensor.js'
import {createMixer} from '../../src/models/mixers/create.js'
import type {Mamba3Config} from '../../src/models/mixers/mamba3.js'
import {relativeError} from '../helpers/compare.js'
import {fixtureReference} from '../helpers/paths.js'
import {F64Backend} from '../ssm/helpers.js'

/**
 * hybridize's Mamba-3 against fixtures/reference/mamba3-mimo/, outputs that
 * scripts/mamba3-reference.py computes in torch from mamba_ssm's step reference (weights under
 * mamba_ssm's names, groups 2 / rank 2 and 3, and SISO). Skipped while that folder is absent: the
 * script needs torch, so it runs on the GPU machine and its output is committed afterwards.
 */
const folder = resolve(fixtureReference, 'mamba3-mimo')
const cases = existsSync(folder) ? readdirSync(folder).filter((f) => f.endsWith('.safetensors')).sort() : []

interface Fixture {
  config: Record<string, number | boolean>
  tensors: Map<string, {shape: number[]; data: Float64Array}>
}

function readFixture(file: string): Fixture {
  const bytes = readFileSync(file)
  const headerLength = Number(bytes.readBigUInt64LE(0))
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, unknown>
  const meta = header.__metadata__ as Record<string, string>
  const tensors = new Map<string, {shape: number[]; data: Float64Array}>()
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue
    const {dtype, shape, data_offsets: [from, to]} = info as {dtype: string; shape: number[]; data_offsets: [number, number]}
    if (dtype !== 'F32') throw new Error(`${file}: ${name} is ${dtype}, not F32`)
    const raw = bytes.subarray(8 + headerLength + from, 8 + headerLength + to)
    tensors.set(name, {shape, data: Float64Array.from(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)))})
  }
  return {config: JSON.parse(meta.config) as Record<string, number | boolean>, tensors}
}

async function values(t: Tensor): Promise<Float64Array> {
  return (await t.toArray()) as unknown as Float64Array
}

describe('Mamba-3 against fixtures/reference/mamba3-mimo', () => {
  if (cases.length === 0) it.skip('skipped: fixtures/reference/mamba3-mimo/ is absent (scripts/mamba3-reference.py makes it where torch is)', () => {})
  it.each(cases)('%s', async (file) => {
    const {config: c, tensors} = readFixture(join(folder, file))
    const cfg: Mamba3Config = {
      kind: 'mamba3', hiddenSize: c.d_model as number, heads: c.nheads as number, headDim: c.headdim as number, stateDim: c.d_state as number,
      groups: c.ngroups as number, mimoRank: c.mimo_rank as number, rotaryAngles: c.num_rope_angles as number, aFloor: c.A_floor as number,
      outNorm: c.is_outproj_norm as boolean, normEps: c.eps as number, bias: false, chunk: 4,
    }
    const backend = new F64Backend()
    const input = tensors.get('input')!
    const ref = tensors.get('output')!.data
    const weights = new Map([...tensors].filter(([name]) => name !== 'input' && name !== 'output'))
    const mixer = createMixer(cfg, new Map([...weights].map(([name, w]) => [name, fromArray(backend, w.data as unknown as Float32Array, w.shape)])), backend)
    const [Bn, T, C] = input.shape
    const u = fromArray(backend, input.data as unknown as Float32Array, [Bn, T, C])
    expect(relativeError(await values(mixer.forward(u).out), ref)).toBeLessThanOrEqual(1e-5)

    let state = mixer.zeroState(Bn)
    const stepped = new Float64Array(ref.length)
    for (let t = 0; t < T; t++) {
      const r = mixer.step(narrow(u, 1, t, 1).reshape([Bn, C]), state)
      state = r.state
      const o = await values(r.out)
      for (let i = 0; i < Bn; i++) stepped.set(o.subarray(i * C, (i + 1) * C), (i * T + t) * C)
    }
    expect(relativeError(stepped, ref)).toBeLessThanOrEqual(1e-5)
  })
})
