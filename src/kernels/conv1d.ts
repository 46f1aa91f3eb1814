import type {Kernel} from './kernel.js'
import {bindings, flatDispatch, flatShader, uniformWords, type UniformFields} from './wgsl.js'

/**
 * Causal depthwise conv1d over time, as Mamba runs it over [x | B | C] (PyTorch's
 * `conv1d(groups=C, padding=W-1)` truncated to the first T outputs):
 *   x:      [batch, seq, channels]
 *   weight: [channels, width]       (width 4 in every Mamba)
 *   bias:   [channels]              (when `bias`)
 *   y[b, t, c] = bias[c] + Σ_k weight[c, k] · x[b, t - (width-1) + k, c]   (x = 0 before t = 0)
 */
export interface Conv1dParams {
  batch: number
  seq: number
  channels: number
  width: number
  bias: boolean
}

const fields = (p: Conv1dParams): UniformFields => [
  ['count', p.batch * p.seq * p.channels],
  ['seq', p.seq],
  ['channels', p.channels],
  ['width', p.width],
]

export const conv1d: Kernel<Conv1dParams> = {
  name: 'conv1d',
  cpu: (p, [x, weight, bias], [y]) => {
    const {batch, seq, channels: C, width: W} = p
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t < seq; t++) {
        for (let c = 0; c < C; c++) {
          let acc = p.bias ? bias[c] : 0
          for (let k = Math.max(0, W - 1 - t); k < W; k++) acc += weight[c * W + k] * x[((b * seq) + t - (W - 1) + k) * C + c]
          y[(b * seq + t) * C + c] = acc
        }
      }
    }
  },
  gpu: {
    key: (p) => (p.bias ? 'bias' : ''),
    code: (p) =>
      flatShader(
        bindings(['x: array<f32>', 'weight: array<f32>', ...(p.bias ? ['bias: array<f32>'] : [])], ['y: array<f32>'], fields(p)),
        `  let c = i % u.channels;
  let t = (i / u.channels) % u.seq;
  let w = u.width;
  var acc = ${p.bias ? 'bias[c]' : '0.0'};
  for (var k = select(0u, w - 1u - t, t < w - 1u); k < w; k++) {
    acc += weight[c * w + k] * x[i + (k - (w - 1u)) * u.channels];
  }
  y[i] = acc;`,
      ),
    dispatch: (p) => flatDispatch(p.batch * p.seq * p.channels, fields(p)),
  },
}

/**
 * Gradient of conv1d with respect to x: a correlation of dy with the flipped kernel.
 *   dy: [batch, seq, channels], weight: [channels, width] -> dx: [batch, seq, channels]
 *   dx[b, s, c] = Σ_k weight[c, k] · dy[b, s + (width-1) - k, c]   (dy = 0 from t = seq)
 */
export const conv1dInputGrad: Kernel<Conv1dParams> = {
  name: 'conv1d_input_grad',
  cpu: (p, [dy, weight], [dx]) => {
    const {batch, seq, channels: C, width: W} = p
    for (let b = 0; b < batch; b++) {
      for (let s = 0; s < seq; s++) {
        for (let c = 0; c < C; c++) {
          let acc = 0
          for (let k = Math.max(0, s + W - seq); k < W; k++) acc += weight[c * W + k] * dy[((b * seq) + s + (W - 1) - k) * C + c]
          dx[(b * seq + s) * C + c] = acc
        }
      }
    }
  },
  gpu: {
    key: () => '',
    code: (p) =>
      flatShader(
        bindings(['dy: array<f32>', 'weight: array<f32>'], ['dx: array<f32>'], fields(p)),
        `  let c = i % u.channels;
  let s = (i / u.channels) % u.seq;
  let w = u.width;
  var acc = 0.0;
  for (var k = select(0u, s + w - u.seq, s + w > u.seq); k < w; k++) {
    acc += weight[c * w + k] * dy[i + ((w - 1u) - k) * u.channels];
  }
  dx[i] = acc;`,
      ),
    dispatch: (p) => flatDispatch(p.batch * p.seq * p.channels, fields(p)),
  },
}

/** Channels and row lanes of one workgroup in conv1dWeightGrad. */
const WG_CHANNELS = 32
const WG_ROWS = 8

/**
 * Gradients of conv1d with respect to its weight and bias: per-channel lagged sums over
 * batch and time.
 *   dy, x: [batch, seq, channels] -> dweight: [channels, width], dbias: [channels] (when `bias`)
 *   dweight[c, k] = Σ_{b,t} dy[b, t, c] · x[b, t - (width-1) + k, c];  dbias[c] = Σ_{b,t} dy[b, t, c]
 * WGSL: a workgroup owns 32 channels (coalesced reads along channels) and splits the
 * batch·seq rows over 8 lanes, reduced through workgroup memory.
 */
export const conv1dWeightGrad: Kernel<Conv1dParams> = {
  name: 'conv1d_weight_grad',
  cpu: (p, [dy, x], [dweight, dbias]) => {
    const {batch, seq, channels: C, width: W} = p
    for (let c = 0; c < C; c++) {
      const sums = new Float64Array(W + 1)
      for (let b = 0; b < batch; b++) {
        for (let t = 0; t < seq; t++) {
          const g = dy[(b * seq + t) * C + c]
          sums[W] += g
          for (let k = Math.max(0, W - 1 - t); k < W; k++) sums[k] += g * x[((b * seq) + t - (W - 1) + k) * C + c]
        }
      }
      for (let k = 0; k < W; k++) dweight[c * W + k] = sums[k]
      if (p.bias) dbias[c] = sums[W]
    }
  },
  gpu: {
    key: (p) => `w${p.width}${p.bias ? ',bias' : ''}`,
    code: (p) => {
      const sums = p.width + 1
      return `${bindings(['dy: array<f32>', 'x: array<f32>'], ['dweight: array<f32>', ...(p.bias ? ['dbias: array<f32>'] : [])], fields(p))}
const W = ${p.width}u;
const SUMS = ${sums}u;
var<workgroup> partial: array<f32, ${WG_CHANNELS * WG_ROWS * sums}>;
@compute @workgroup_size(${WG_CHANNELS}, ${WG_ROWS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let c = wid.x * ${WG_CHANNELS}u + lid.x;
  let C = u.channels;
  let rows = u.count / C;
  var acc = array<f32, ${sums}>();
  if (c < C) {
    for (var r = lid.y; r < rows; r += ${WG_ROWS}u) {
      let t = r % u.seq;
      let g = dy[r * C + c];
      acc[W] += g;
      for (var k = select(0u, W - 1u - t, t < W - 1u); k < W; k++) {
        acc[k] += g * x[(r + k - (W - 1u)) * C + c];
      }
    }
  }
  for (var k = 0u; k < SUMS; k++) { partial[(lid.y * ${WG_CHANNELS}u + lid.x) * SUMS + k] = acc[k]; }
  workgroupBarrier();
  if (lid.y == 0u && c < C) {
    for (var k = 0u; k < SUMS; k++) {
      var total = 0.0;
      for (var l = 0u; l < ${WG_ROWS}u; l++) { total += partial[(l * ${WG_CHANNELS}u + lid.x) * SUMS + k]; }
      if (k < W) { dweight[c * W + k] = total; }${p.bias ? ' else { dbias[c] = total; }' : ''}
    }
  }
}`
    },
    dispatch: (p) => ({
      workgroups: [Math.ceil(p.channels / WG_CHANNELS), 1, 1],
      uniforms: uniformWords(fields(p)),
    }),
  },
}
