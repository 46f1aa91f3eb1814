import type {Backend} from '../src/backend/backend.js'
import {CpuBackend} from '../src/backend/cpu.js'
import {dkvVersions, dqVersions, statsVersions, type AttentionBackwardVersionParams} from '../dev/kernels/attention-backward.js'
import {attentionVersions, type AttentionVersionParams} from '../dev/kernels/attention.js'
import {matmulF16Versions, type MatmulF16VersionParams} from '../dev/kernels/matmul-f16.js'
import {matmulVersions, type MatmulVersionParams} from '../dev/kernels/matmul.js'
import {ssdChunkMixVersions} from '../dev/kernels/ssd-mix.js'
import {packF16} from '../src/kernels/f16.js'
import type {HostArray, Kernel} from '../src/kernels/kernel.js'
import {tensorCoreSupport} from '../src/kernels/matmul-f16.js'
import {chunkCount, ssdChunkCumsum, ssdChunkState, ssdStatePass, type ChunkShape} from '../src/kernels/ssd-chunk.js'

/**
 * `--check`: before timing, every fast kernel version runs once on the benchmark's device at small
 * shapes against its CPU twin (the tests do the same on llvmpipe; this is where the real GPU, its
 * tile sizes and its tensor cores meet the reference). Reported as ‖gpu − cpu‖ / ‖cpu‖, outputs
 * poisoned with NaN first so an unwritten element fails.
 */
export interface CheckResult {
  name: string
  relError: number
  ok: boolean
  /** The device's error, when the kernel did not run (a tile over its workgroup-memory limit). */
  error?: string
}

function randomArray(n: number, seed: number): Float32Array {
  const out = new Float32Array(n)
  let s = seed >>> 0
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0
    out[i] = s / 2 ** 32 - 0.5
  }
  return out
}

async function run<P>(backend: Backend, kernel: Kernel<P>, params: P, inputs: HostArray[], sizes: number[]): Promise<HostArray[]> {
  const ins = inputs.map((data) => {
    const s = backend.alloc(data.length, data instanceof Int32Array ? 'i32' : 'f32')
    backend.write(s, data)
    return s
  })
  const outs = sizes.map((n) => {
    const s = backend.alloc(n, 'f32')
    backend.write(s, new Float32Array(n).fill(NaN))
    return s
  })
  backend.run(kernel, params, ins, outs)
  const results = await Promise.all(outs.map((s) => backend.read(s)))
  for (const s of [...ins, ...outs]) backend.free(s)
  return results
}

function relativeError(got: HostArray, want: HostArray): number {
  let num = 0
  let den = 0
  for (let i = 0; i < want.length; i++) {
    num += (got[i] - want[i]) ** 2
    den += want[i] ** 2
  }
  return Math.sqrt(num / Math.max(den, 1e-30))
}

export async function runChecks(backend: Backend): Promise<CheckResult[]> {
  const cpu = new CpuBackend({description: 'cpu (checks)'})
  const results: CheckResult[] = []
  const check = async <P>(name: string, kernel: Kernel<P>, params: P, inputs: HostArray[], sizes: number[], tol: number): Promise<void> => {
    const want = await run(cpu, kernel, params, inputs, sizes)
    try {
      const got = await run(backend, kernel, params, inputs, sizes)
      const relError = Math.max(...want.map((w, i) => relativeError(got[i], w)))
      results.push({name, relError, ok: relError <= tol})
    } catch (err) {
      results.push({name, relError: NaN, ok: false, error: (err instanceof Error ? err.message : String(err)).split('\n')[0]})
    }
  }

  for (const [label, extra] of [
    ['v1', {version: 1}],
    ['v2 default tile', {version: 2}],
    ['v2 128x128x16', {version: 2, tile: {bm: 128, bn: 128, bk: 16, tm: 8, tn: 8, group: 8}}],
    ['v2 128x64x16', {version: 2, tile: {bm: 128, bn: 64, bk: 16, tm: 8, tn: 4, group: 8}}],
    ['v2 256x128x8 unrolled', {version: 2, tile: {bm: 256, bn: 128, bk: 8, tm: 16, tn: 8, group: 8, unroll: true}}],
    ['v2 128x128x16 unrolled', {version: 2, tile: {bm: 128, bn: 128, bk: 16, tm: 8, tn: 8, group: 8, unroll: true}}],
  ] as const) {
    for (const [transA, transB] of [[false, false], [true, false], [false, true]]) {
      const p: MatmulVersionParams = {batch: 2, m: 256, n: 256, k: 96, transA, transB, broadcastB: transB, bias: true, ...extra}
      const inputs = [randomArray(2 * 256 * 96, 1), randomArray((p.broadcastB ? 1 : 2) * 256 * 96, 2), randomArray(256, 3)]
      await check(`matmul ${label} ${transA ? 'Aᵀ' : 'A'}${transB ? 'Bᵀ shared' : 'B'} 2x256x256x96`, matmulVersions, p, inputs, [2 * 256 * 256], 1e-5)
    }
  }

  const shape = {batch: 2, tq: 200, tk: 200, hq: 8, hkv: 2, d: 64}
  const qn = shape.batch * shape.tq * shape.hq * shape.d
  const kvn = shape.batch * shape.tk * shape.hkv * shape.d
  const [q, k, v, out, gy] = [qn, kvn, kvn, qn, qn].map((n, i) => randomArray(n, 10 + i).map((x) => 4 * x))
  for (const tile of [undefined, {rows: 128, keys: 64}, {rows: 32, keys: 32}]) {
    const p: AttentionVersionParams = {...shape, scale: 0.125, headMask: false, returnProbs: false, version: 2, tile}
    await check(`attention v2 ${tile ? `rows ${tile.rows} keys ${tile.keys}` : 'default tile'}`, attentionVersions, p, [q, k, v], [qn], 1e-5)
    const bp: AttentionBackwardVersionParams = {...shape, scale: 0.125, headMask: false, version: 2, tile}
    await check(`attention bwd stats v2 ${tile ? `rows ${tile.rows}` : 'default'}`, statsVersions, bp, [q, k, out, gy], [shape.batch * shape.hq * shape.tq * 2], 1e-5)
    const [stats] = await run(cpu, statsVersions, bp, [q, k, out, gy], [shape.batch * shape.hq * shape.tq * 2])
    await check(`attention bwd dq v2 ${tile ? `rows ${tile.rows}` : 'default'}`, dqVersions, bp, [q, k, v, gy, stats], [qn], 1e-5)
    await check(`attention bwd dk/dv v2 ${tile ? `rows ${tile.rows}` : 'default'}`, dkvVersions, bp, [q, k, v, gy, stats], [kvn, kvn], 1e-5)
  }

  await checkSsd(check, cpu)

  const tc = tensorCoreSupport(backend)
  const big = {subgroupsM: 2, subgroupsN: 2, fragmentsM: 4, fragmentsN: 4}
  const variants: Pick<MatmulF16VersionParams, 'tensorCores' | 'version'>[] = [{}]
  if (tc) {
    for (const version of [2, 3, 4, 5, 6] as const) variants.push({tensorCores: tc, version}, {tensorCores: {...tc, tile: {...big, fragmentsN: 2}}, version})
    // K 64 a slice fits the 48 KB of workgroup memory with one buffer only.
    for (const version of [4, 6] as const) variants.push({tensorCores: {...tc, tile: {...big, subgroupsN: 4, fragmentsN: 2, stageK: 64}}, version})
  }
  for (const {tensorCores, version} of variants) {
    for (const transB of [false, true]) {
      const [m, n, kk] = [256, 256, 128]
      const t = tensorCores?.tile
      const label = tensorCores && t ? `tensor cores v${version} ${t.subgroupsM}x${t.subgroupsN} subgroups of ${t.fragmentsM}x${t.fragmentsN} fragments, K ${t.stageK ?? 32}` : 'CUDA cores'
      await check(`matmul f16 ${label}${transB ? ' Bᵀ' : ''}`, matmulF16Versions, {m, n, k: kk, transB, tensorCores, version}, [packF16(randomArray(m * kk, 20)), packF16(randomArray(kk * n, 21))], [m * n], 1e-5)
    }
  }
  return results
}

type Check = <P>(name: string, kernel: Kernel<P>, params: P, inputs: HostArray[], sizes: number[], tol: number) => Promise<void>

/**
 * The chunked SSD scan's kernels at a shape whose last chunk is short, with in-chunk log-decay
 * cumsums that fall as a real scan's do. (The mix kernel's slab loop was wrong on the H200 while
 * right on llvmpipe: chunks of several slabs are what this must cover.)
 */
async function checkSsd(check: Check, cpu: CpuBackend): Promise<void> {
  const chunk: ChunkShape = {batch: 2, seq: 200, heads: 4, chunk: 64}
  const [B, T, H, P, N, G] = [chunk.batch, chunk.seq, chunk.heads, 16, 16, 1]
  const K = chunkCount(chunk)
  const dA = randomArray(B * T * H, 30).map((x) => -0.05 * (x + 0.5) - 0.01)
  const [acs] = await run(cpu, ssdChunkCumsum, chunk, [dA], [B * H * T])
  const [x, Bm, Cm, S] = [[B * T * H * P, 31], [B * T * G * N, 32], [B * T * G * N, 33], [B * H * K * P * N, 34]].map(([n, seed]) => randomArray(n, seed))
  const head = {heads: H, dim: P}
  const group = {heads: G, dim: N}
  await check('ssd chunk cumsum', ssdChunkCumsum, chunk, [dA], [B * H * T], 1e-5)
  for (const decay of ['toEnd', 'fromStart'] as const) {
    await check(`ssd chunk state ${decay}`, ssdChunkState, {...chunk, u: head, v: group, decay}, [x, Bm, acs], [B * H * K * P * N], 1e-5)
  }
  for (const reverse of [false, true]) {
    await check(`ssd state pass ${reverse ? 'reverse' : 'forward'}`, ssdStatePass, {...chunk, size: P * N, reverse, init: false}, [S, acs], [B * H * K * P * N, B * H * P * N], 1e-5)
  }
  // Both versions of the mix, at chunks of one key tile (64) and of three, the last partial (150).
  for (const Q of [64, 150]) {
    const mixChunk = {...chunk, chunk: Q}
    const [mixAcs] = await run(cpu, ssdChunkCumsum, mixChunk, [dA], [B * H * T])
    const mixS = randomArray(B * H * chunkCount(mixChunk) * P * N, 35)
    for (const version of [1, 2] as const) {
      for (const anticausal of [false, true]) {
        const label = `ssd chunk mix v${version} Q=${Q} ${anticausal ? 'anticausal' : 'causal'}`
        await check(`${label} (y, dx)`, ssdChunkMixVersions, {...mixChunk, q: group, k: group, v: head, anticausal, stateLayout: 'ji', version}, [Cm, Bm, x, mixAcs, mixS], [B * T * H * P], 1e-5)
        await check(`${label} (dB, dC)`, ssdChunkMixVersions, {...mixChunk, q: head, k: head, v: group, anticausal, stateLayout: 'ij', version}, [x, x, Cm, mixAcs, mixS], [B * T * H * N], 1e-5)
      }
    }
  }
}

export function formatChecks(results: CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length))
  return results.map((r) => `${r.ok ? 'ok  ' : 'FAIL'}  ${r.name.padEnd(width)}  ${r.error ?? `rel err ${r.relError.toExponential(2)}`}`).join('\n')
}
