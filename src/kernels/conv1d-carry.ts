import type {Conv1dParams} from './conv1d.js'
import type {Kernel} from './kernel.js'
import {bindings, flatDispatch, flatShader, type UniformFields} from './wgsl.js'

/**
 * conv1d.ts's causal depthwise conv continuing a sequence, as decoding runs it: the inputs before x
 * come from the carried window, and the window after x is written too, in one kernel (the composite
 * of concat, conv1d over the joined rows and two narrows is four).
 *   x:      [batch, seq, channels]        win: [batch, width-1, channels] (the inputs just before x)
 *   weight: [channels, width]             bias: [channels] (when `bias`)
 *   y[b, t, c]    = bias[c] + Σ_k weight[c, k] · s[b, t - (width-1) + k, c]
 *   next[b, j, c] = s[b, seq - (width-1) + j, c]        (j < width-1: the last width-1 inputs)
 * where s[b, j, c] is x[b, j, c] for j >= 0 and win[b, width-1+j, c] before. width >= 2.
 */
const fields = (p: Conv1dParams): UniformFields => [
  ['count', p.batch * (p.seq + p.width - 1) * p.channels],
  ['seq', p.seq],
  ['channels', p.channels],
  ['width', p.width],
  ['ny', p.batch * p.seq * p.channels],
]

export const conv1dCarry: Kernel<Conv1dParams> = {
  name: 'conv1d_carry',
  cpu: (p, [x, win, weight, bias], [y, next]) => {
    const {batch, seq, channels: C, width: W} = p
    const lag = W - 1
    const s = (b: number, j: number, c: number): number => (j >= 0 ? x[(b * seq + j) * C + c] : win[(b * lag + lag + j) * C + c])
    for (let b = 0; b < batch; b++) {
      for (let c = 0; c < C; c++) {
        for (let t = 0; t < seq; t++) {
          let acc = p.bias ? bias[c] : 0
          for (let k = 0; k < W; k++) acc += weight[c * W + k] * s(b, t - lag + k, c)
          y[(b * seq + t) * C + c] = acc
        }
        for (let j = 0; j < lag; j++) next[(b * lag + j) * C + c] = s(b, seq - lag + j, c)
      }
    }
  },
  gpu: {
    key: (p) => (p.bias ? 'bias' : ''),
    code: (p) =>
      flatShader(
        `${bindings(['x: array<f32>', 'win: array<f32>', 'weight: array<f32>', ...(p.bias ? ['bias: array<f32>'] : [])], ['y: array<f32>', 'next: array<f32>'], fields(p))}
fn input(b: u32, j: i32, c: u32) -> f32 {
  let lag = i32(u.width) - 1;
  if (j < 0) { return win[(b * u32(lag) + u32(lag + j)) * u.channels + c]; }
  return x[(b * u.seq + u32(j)) * u.channels + c];
}`,
        `  let lag = i32(u.width) - 1;
  if (i < u.ny) {
    let c = i % u.channels;
    let t = (i / u.channels) % u.seq;
    let b = i / (u.channels * u.seq);
    var acc = ${p.bias ? 'bias[c]' : '0.0'};
    for (var k = 0u; k < u.width; k++) { acc += weight[c * u.width + k] * input(b, i32(t) - lag + i32(k), c); }
    y[i] = acc;
  } else {
    let r = i - u.ny;
    let c = r % u.channels;
    let j = (r / u.channels) % u32(lag);
    let b = r / (u.channels * u32(lag));
    next[r] = input(b, i32(u.seq) - lag + i32(j), c);
  }`,
      ),
    dispatch: (p) => flatDispatch(p.batch * (p.seq + p.width - 1) * p.channels, fields(p)),
  },
}
