import {readFileSync} from 'node:fs'
import {resolve} from 'node:path'
import {describe, expect, it} from 'vitest'
import {conv1d, ssdChunked} from '../../src/engine/ssm-ops.js'
import {fromArray} from '../../src/engine/tensor.js'
import {relativeError} from '../helpers/compare.js'
import {fixtureReference} from '../helpers/paths.js'
import {F64Backend} from './helpers.js'

/**
 * The SSD conventions against transformers: layer 1 of fixtures/reference/mamba2-tiny recomputed
 * from its input (hidden_states.0) to its output (hidden_states.1). Projections, norms and gates
 * are plain float64 loops here; conv1d and ssdChunked are the ops under test, fed as a Mamba-2
 * caller feeds them: dA = A·Δ with A = -exp(A_log), x scaled by Δ, D skip and the gated RMSNorm
 * applied outside.
 */
const folder = resolve(fixtureReference, 'mamba2-tiny')

function readSafetensors(file: string): Map<string, {shape: number[]; data: Float64Array}> {
  const bytes = readFileSync(file)
  const headerLength = Number(bytes.readBigUInt64LE(0))
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, {dtype: string; shape: number[]; data_offsets: [number, number]}>
  const tensors = new Map<string, {shape: number[]; data: Float64Array}>()
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__' || info.dtype !== 'F32') continue
    const [from, to] = info.data_offsets
    const raw = bytes.subarray(8 + headerLength + from, 8 + headerLength + to)
    tensors.set(name, {shape: info.shape, data: Float64Array.from(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)))})
  }
  return tensors
}

/** rows x [n, inF] · W [outF, inF]ᵀ */
function linear(x: Float64Array, w: Float64Array, inF: number, outF: number): Float64Array {
  const rows = x.length / inF
  const y = new Float64Array(rows * outF)
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let acc = 0
      for (let i = 0; i < inF; i++) acc += x[r * inF + i] * w[o * inF + i]
      y[r * outF + o] = acc
    }
  }
  return y
}

function rmsnorm(x: Float64Array, w: Float64Array, eps: number): Float64Array {
  const n = w.length
  const y = new Float64Array(x.length)
  for (let r = 0; r < x.length / n; r++) {
    let ss = 0
    for (let i = 0; i < n; i++) ss += x[r * n + i] ** 2
    const inv = 1 / Math.sqrt(ss / n + eps)
    for (let i = 0; i < n; i++) y[r * n + i] = w[i] * x[r * n + i] * inv
  }
  return y
}

const silu = (v: number): number => v / (1 + Math.exp(-v))
const softplus = (v: number): number => (v > 20 ? v : Math.log1p(Math.exp(v)))

describe('SSD against transformers Mamba2ForCausalLM (mamba2-tiny, layer 1)', () => {
  it('reproduces the layer output to 1e-6 relative error', async () => {
    const config = JSON.parse(readFileSync(resolve(folder, 'config.json'), 'utf8'))
    const weights = readSafetensors(resolve(folder, 'model.safetensors'))
    const reference = readSafetensors(resolve(folder, 'reference.safetensors'))
    const w = (name: string): Float64Array => weights.get(`backbone.layers.1.${name}`)!.data
    const [batch, seq, hidden] = reference.get('hidden_states.0')!.shape
    const H = config.num_heads as number
    const P = config.head_dim as number
    const N = config.state_size as number
    const G = config.n_groups as number
    const inner = H * P
    const convDim = inner + 2 * G * N
    const projDim = inner + convDim + H
    const eps = config.layer_norm_epsilon as number
    const rows = batch * seq
    const input = reference.get('hidden_states.0')!.data

    const proj = linear(rmsnorm(input, w('norm.weight'), eps), w('mixer.in_proj.weight'), hidden, projDim)
    const column = (from: number, width: number): Float64Array => {
      const out = new Float64Array(rows * width)
      for (let r = 0; r < rows; r++) out.set(proj.subarray(r * projDim + from, r * projDim + from + width), r * width)
      return out
    }
    const z = column(0, inner)
    const dt = column(inner + convDim, H)

    const backend = new F64Backend()
    const t = (data: Float64Array, shape: number[]) => fromArray(backend, data as unknown as Float32Array, shape)
    const conv = await conv1d(t(column(inner, convDim), [batch, seq, convDim]), t(w('mixer.conv1d.weight'), [convDim, config.conv_kernel]), t(w('mixer.conv1d.bias'), [convDim])).toArray()
    const xBC = Float64Array.from(conv, silu)
    const x = new Float64Array(rows * inner)
    const B = new Float64Array(rows * G * N)
    const C = new Float64Array(rows * G * N)
    const delta = new Float64Array(rows * H)
    const dA = new Float64Array(rows * H)
    for (let r = 0; r < rows; r++) {
      x.set(xBC.subarray(r * convDim, r * convDim + inner), r * inner)
      B.set(xBC.subarray(r * convDim + inner, r * convDim + inner + G * N), r * G * N)
      C.set(xBC.subarray(r * convDim + inner + G * N, (r + 1) * convDim), r * G * N)
      for (let h = 0; h < H; h++) {
        delta[r * H + h] = softplus(dt[r * H + h] + w('mixer.dt_bias')[h])
        dA[r * H + h] = -Math.exp(w('mixer.A_log')[h]) * delta[r * H + h]
      }
    }
    const xDelta = x.map((v, i) => v * delta[Math.floor(i / P)])
    const {y} = ssdChunked(t(xDelta, [batch, seq, H, P]), t(dA, [batch, seq, H]), t(B, [batch, seq, G, N]), t(C, [batch, seq, G, N]), {chunk: config.chunk_size})
    const ySsd = await y.toArray()

    const gated = new Float64Array(rows * inner)
    for (let i = 0; i < gated.length; i++) gated[i] = (ySsd[i] + w('mixer.D')[Math.floor(i / P) % H] * x[i]) * silu(z[i])
    // The gated RMSNorm normalises groups of inner / G channels; this fixture has G = 1.
    expect(G).toBe(1)
    const out = linear(rmsnorm(gated, w('mixer.norm.weight'), eps), w('mixer.out_proj.weight'), inner, hidden).map((v, i) => v + input[i])

    const want = reference.get('hidden_states.1')!.data
    const err = relativeError(out, want)
    expect(err, `relative error ${err.toExponential(2)}`).toBeLessThan(1e-6)
    // The SSD term matters: without it the layer is far off.
    const noSsd = linear(rmsnorm(x.map((v, i) => w('mixer.D')[Math.floor(i / P) % H] * v * silu(z[i])), w('mixer.norm.weight'), eps), w('mixer.out_proj.weight'), inner, hidden).map((v, i) => v + input[i])
    expect(relativeError(noSsd, want)).toBeGreaterThan(1e-2)
  })
})
