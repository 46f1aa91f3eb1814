import {cp, mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import type {Backend} from '../../src/backend/backend.js'
import {CpuBackend} from '../../src/backend/cpu.js'
import {openCheckpoint} from '../../src/io/safetensors/checkpoint.js'
import {writeSafetensors, type TensorToWrite} from '../../src/io/safetensors/writer.js'
import {embedding} from '../../src/kernels/embedding.js'
import {f16Bits} from '../../src/kernels/f16.js'
import {widenHalf} from '../../src/kernels/half-precision.js'
import type {HalfDType, HostArray, Kernel} from '../../src/kernels/kernel.js'
import {matmul, type MatmulParams} from '../../src/kernels/matmul.js'
import {fitsV2} from '../../src/kernels/matmul-v2.js'
import {matmulTileOf} from '../../src/kernels/matmul-wgsl.js'
import {loadTeacher} from '../../src/models/load.js'
import {forwardIds} from '../../src/models/run-forward.js'
import {roundToHalf, type WeightDTypeChoice} from '../../src/models/weight-dtype.js'
import {cpuBackend, poisoned, referenceBackend, webgpuBackend} from '../helpers/backends.js'
import {runCli} from '../helpers/cli.js'
import {relativeError} from '../helpers/compare.js'
import {expectClose} from '../helpers/close.js'
import {fixtureReference} from '../helpers/paths.js'
import {Rng} from '../helpers/random.js'

const gpu = await webgpuBackend()
const bf16Teacher = join(fixtureReference, 'llama-sharded-bf16')
const ids = Int32Array.from({length: 12}, (_, i) => (i * 37 + 5) % 200)

/** Run a kernel whose inputs may be half precision (a Uint16Array is stored as `half`). */
async function run<P>(backend: Backend, kernel: Kernel<P>, params: P, inputs: HostArray[], outSize: number, half: HalfDType): Promise<Float32Array> {
  const ins = inputs.map((data) => {
    const s = backend.alloc(data.length, data instanceof Int32Array ? 'i32' : data instanceof Uint16Array ? half : 'f32')
    backend.write(s, data)
    return s
  })
  const out = poisoned(backend, outSize)
  backend.run(kernel, params, ins, [out])
  const result = (await backend.read(out)) as Float32Array
  for (const s of [...ins, out]) backend.free(s)
  return result
}

/** Random half patterns of finite values around ±1 (f16 exponents kept well inside range). */
function randomHalf(rng: Rng, n: number, dtype: HalfDType): Uint16Array {
  return roundToHalf(rng.floats(n), dtype)
}

const matmulCases: MatmulParams[] = [
  {batch: 1, m: 5, n: 7, k: 9, transA: false, transB: true, broadcastB: false, bias: true},
  {batch: 2, m: 3, n: 6, k: 11, transA: false, transB: false, broadcastB: true, bias: false},
  {batch: 1, m: 64, n: 128, k: 32, transA: false, transB: true, broadcastB: false, bias: false},
  // Shapes that fill version 2's tiles (matmul-v2.ts: B read as vec2u, four halves at a time).
  {batch: 1, m: 128, n: 128, k: 24, transA: false, transB: true, broadcastB: false, bias: true},
  {batch: 2, m: 256, n: 128, k: 16, transA: false, transB: true, broadcastB: true, bias: false},
  {batch: 1, m: 128, n: 256, k: 32, transA: false, transB: false, broadcastB: false, bias: false},
]

describe('half-precision B: matmul and embedding', () => {
  it('the cases reach both WGSL versions', () => {
    expect(matmulCases.filter((p) => fitsV2(p, matmulTileOf(p))).length).toBe(3)
  })

  for (const dtype of ['bf16', 'f16'] as const) {
    it(`${dtype}: the reference, the CPU fast path and the WGSL equal matmul over the widened f32 B`, async () => {
      const rng = new Rng(20)
      const fast = cpuBackend()
      for (const p0 of matmulCases) {
        const p = {...p0, bDtype: dtype}
        const a = rng.floats(p.batch * p.m * p.k)
        const b = randomHalf(rng, (p.broadcastB ? 1 : p.batch) * p.k * p.n, dtype)
        const bias = rng.floats(p.n)
        const inputs = p.bias ? [a, b, bias] : [a, b]
        const want = await run(referenceBackend(), matmul, p0, p.bias ? [a, widenHalf(dtype, b), bias] : [a, widenHalf(dtype, b)], p.batch * p.m * p.n, dtype)
        expect(await run(referenceBackend(), matmul, p, inputs, want.length, dtype)).toEqual(want)
        expectClose(await run(fast, matmul, p, inputs, want.length, dtype), want, `${dtype} fast ${JSON.stringify(p0)}`)
        if (gpu) expectClose(await run(gpu, matmul, p, inputs, want.length, dtype), want, `${dtype} webgpu ${JSON.stringify(p0)}`)
      }
    })

    it(`${dtype}: the embedding gathers widened rows (odd width: rows straddle words)`, async () => {
      const rng = new Rng(21)
      const p = {n: 4, dim: 7, vocab: 9, tableDtype: dtype}
      const table = randomHalf(rng, p.vocab * p.dim, dtype)
      const tokens = Int32Array.from([3, 0, 8, 3])
      const want = await run(referenceBackend(), embedding, {n: 4, dim: 7, vocab: 9}, [tokens, widenHalf(dtype, table)], 28, dtype)
      expect(await run(referenceBackend(), embedding, p, [tokens, table], 28, dtype)).toEqual(want)
      if (gpu) expect(await run(gpu, embedding, p, [tokens, table], 28, dtype)).toEqual(want)
    })
  }

  it('widens bf16 and f16 patterns exactly', () => {
    expect([...widenHalf('bf16', Uint16Array.from([0x3f80, 0xc000, 0x3e80]))]).toEqual([1, -2, 0.25])
    expect([...widenHalf('f16', Uint16Array.from([f16Bits(1), f16Bits(-2), f16Bits(0.25)]))]).toEqual([1, -2, 0.25])
  })
})

async function forwardLogits(folder: string, backend: Backend, dtype: WeightDTypeChoice): Promise<{logits: Float32Array; chosen: string}> {
  let chosen = ''
  const model = await loadTeacher(folder, backend, {dtype, onDType: (d) => (chosen = d)})
  const out = await forwardIds(model, backend, ids, [1, ids.length])
  return {logits: out.logits.data, chosen}
}

let f16Folder = ''
/** llama-sharded-bf16 rewritten in F16 (every value rounded to f16 once), one file. */
async function f16Teacher(): Promise<string> {
  if (f16Folder) return f16Folder
  const dir = await mkdtemp(join(tmpdir(), 'hybridize-f16-'))
  await cp(join(bf16Teacher, 'config.json'), join(dir, 'config.json'))
  const ckpt = await openCheckpoint(bf16Teacher)
  const tensors: TensorToWrite[] = []
  for (const name of ckpt.names()) {
    const bits = roundToHalf(await ckpt.readF32(name), 'f16')
    tensors.push({name, dtype: 'F16', shape: ckpt.shape(name), data: new Uint8Array(bits.buffer)})
  }
  await ckpt.close()
  await writeSafetensors(join(dir, 'model.safetensors'), tensors)
  f16Folder = dir
  return dir
}
afterAll(async () => {
  if (f16Folder) await rm(f16Folder, {recursive: true, force: true})
})

describe('teachers with half-precision weights', () => {
  const backends: [string, () => Backend | undefined][] = [['cpu', () => new CpuBackend()], ['webgpu', () => gpu]]
  for (const [name, make] of backends) {
    it.skipIf(name === 'webgpu' && !gpu)(`${name}: the bf16 and f16 forwards equal the f32 forward of the same weights (1e-6 relative)`, async () => {
      const backend = make()!
      const f32 = await forwardLogits(bf16Teacher, backend, 'f32')
      const bf16 = await forwardLogits(bf16Teacher, backend, 'auto')
      expect(bf16.chosen).toBe('bf16')
      expect(relativeError(bf16.logits, f32.logits)).toBeLessThan(1e-6)
      const folder = await f16Teacher()
      const f16f32 = await forwardLogits(folder, backend, 'f32')
      const f16 = await forwardLogits(folder, backend, 'auto')
      expect(f16.chosen).toBe('f16')
      expect(relativeError(f16.logits, f16f32.logits)).toBeLessThan(1e-6)
    })
  }

  it.skipIf(!gpu)('webgpu: bf16 and f16 weights loaded as f32 (uploaded as stored, widened on the device) equal the CPU\'s widening bit for bit', async () => {
    for (const folder of [bf16Teacher, await f16Teacher()]) {
      const onCpu = await loadTeacher(folder, new CpuBackend(), {dtype: 'f32'})
      const onGpu = await loadTeacher(folder, gpu!, {dtype: 'f32'})
      expect([...onGpu.weights.keys()]).toEqual([...onCpu.weights.keys()])
      for (const [name, t] of onCpu.weights) {
        const want = new Uint32Array((await t.toArray()).buffer)
        const got = new Uint32Array((await onGpu.weights.get(name)!.toArray()).buffer)
        if (got.length !== want.length || got.some((bits, i) => bits !== want[i])) expect(`${folder} ${name}: differs`).toBe(`${name}: equal`)
      }
      for (const t of onGpu.weights.values()) t.dispose()
    }
  })

  it('auto keeps an f32 checkpoint f32; --dtype bf16 rounds one to nearest even', async () => {
    const tiny = join(fixtureReference, 'llama-tiny')
    expect((await forwardLogits(tiny, new CpuBackend(), 'auto')).chosen).toBe('f32')
    const rounded = await forwardLogits(tiny, new CpuBackend(), 'bf16')
    const exact = await forwardLogits(tiny, new CpuBackend(), 'f32')
    // bf16 keeps 8 significant bits: close to the f32 forward, not equal to it.
    expect(relativeError(rounded.logits, exact.logits)).toBeGreaterThan(0)
    expect(relativeError(rounded.logits, exact.logits)).toBeLessThan(0.1)
    expect([...roundToHalf(Float32Array.from([1 + 2 ** -8, 1 + 3 * 2 ** -8, -0.1]), 'bf16')]).toEqual([0x3f80, 0x3f82, 0xbdcd])
  })

  it('the weights take half the memory: the CPU bytes of the matrices, WebGPU allocatedBytes', async () => {
    const cpu = new CpuBackend()
    const bytes = async (dtype: WeightDTypeChoice): Promise<number> => {
      const model = await loadTeacher(bf16Teacher, cpu, {dtype})
      let total = 0
      for (const t of model.weights.values()) total += cpu.view(t.storage).byteLength
      return total
    }
    const f32 = await bytes('f32')
    expect((await bytes('bf16')) / f32).toBeGreaterThan(0.5)
    expect((await bytes('bf16')) / f32).toBeLessThan(0.52)
    if (!gpu) return
    const allocated = async (dtype: WeightDTypeChoice): Promise<number> => {
      await gpu.trimPool()
      const before = gpu.allocatedBytes
      const model = await loadTeacher(bf16Teacher, gpu, {dtype})
      const used = gpu.allocatedBytes - before
      for (const t of model.weights.values()) t.dispose()
      return used
    }
    const gpuF32 = await allocated('f32')
    expect((await allocated('bf16')) / gpuF32).toBeLessThan(0.55)
  })
})

describe('hybridize forward --dtype', () => {
  it('says the weights dtype on stderr, and refuses a half dtype for a Mamba-2 model', async () => {
    const input = join(tmpdir(), `hybridize-half-${process.pid}-ids.safetensors`)
    const output = join(tmpdir(), `hybridize-half-${process.pid}-out.safetensors`)
    await writeSafetensors(input, [{name: 'input_ids', dtype: 'I32', shape: [1, ids.length], data: ids}])
    try {
      const ok = runCli(['forward', bf16Teacher, '--input', input, '--output', output, '--device', 'cpu', '--dtype', 'bf16'])
      expect(ok.status, ok.stderr).toBe(0)
      expect(ok.stderr).toContain('weights: bf16')
      const refused = runCli(['forward', join(fixtureReference, 'mamba2-tiny'), '--input', input, '--output', output, '--device', 'cpu', '--dtype', 'f16'])
      expect(refused.status).toBe(2)
      expect(refused.stderr).toMatch(/--dtype f16: a Mamba-2 model runs in f32 only/)
    } finally {
      await rm(input, {force: true})
      await rm(output, {force: true})
    }
  })
})
