import {afterAll} from 'vitest'
import type {Backend, Storage} from '../../src/backend/backend.js'
import {CpuBackend} from '../../src/backend/cpu.js'
import {createBackend} from '../../src/backend/device.js'
import type {WebGpuBackend} from '../../src/backend/webgpu.js'
import type {DType, HostArray, Kernel} from '../../src/kernels/kernel.js'

/**
 * Backends for tests that compare WebGPU with CPU. The WebGPU backend is created once per test
 * file (each file runs in its own process) and destroyed after it. Without an adapter the tests
 * are skipped with a message, except under CI, where that is a failure: CI must run them.
 */
let shared: Promise<WebGpuBackend | undefined> | undefined

export async function webgpuBackend(): Promise<WebGpuBackend | undefined> {
  shared ??= open()
  return shared
}

async function open(): Promise<WebGpuBackend | undefined> {
  try {
    const backend = (await createBackend('webgpu')) as WebGpuBackend
    afterAll(() => backend.destroy())
    return backend
  } catch (err) {
    if (process.env.CI) throw new Error(`CI is set but there is no WebGPU adapter: ${(err as Error).message}`)
    console.warn(`SKIPPING WebGPU tests: ${(err as Error).message}`)
    return undefined
  }
}

export const cpuBackend = (): CpuBackend => new CpuBackend({description: 'cpu (tests)'})
/** The CPU backend without its fast paths: every kernel's `cpu` reference, which WGSL and fast paths are checked against. */
export const referenceBackend = (): CpuBackend => new CpuBackend({description: 'cpu reference (tests)', fast: false})

/** A CPU backend that says it has tensor cores: linear's packed matmul_f16 path, run by the kernels' CPU references. */
export function tensorCoreCpu(): Backend {
  const config = {componentType: 'f16', resultComponentType: 'f32', M: 16, N: 16, K: 16}
  return Object.assign(referenceBackend(), {features: ['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix'], subgroups: {minSize: 32, maxSize: 32, matrixConfigs: [config]}})
}

/** A fresh output storage filled with NaN (f32) or INT32_MIN (i32), so an unwritten element shows. */
export function poisoned(backend: Backend, numel: number, dtype: DType = 'f32'): Storage {
  const storage = backend.alloc(numel, dtype)
  backend.write(storage, dtype === 'f32' ? new Float32Array(numel).fill(NaN) : new Int32Array(numel).fill(-0x80000000))
  return storage
}

/**
 * Run `kernel` on `backend` with host inputs and poisoned outputs of the given sizes; returns the
 * outputs read back (the backend's storages are freed).
 */
export async function runKernel<P>(backend: Backend, kernel: Kernel<P>, params: P, inputs: HostArray[], outputSizes: number[]): Promise<HostArray[]> {
  const ins = inputs.map((data) => {
    const s = backend.alloc(data.length, data instanceof Int32Array ? 'i32' : 'f32')
    backend.write(s, data)
    return s
  })
  const outs = outputSizes.map((n) => poisoned(backend, n))
  backend.run(kernel, params, ins, outs)
  const results = await Promise.all(outs.map((s) => backend.read(s)))
  for (const s of [...ins, ...outs]) backend.free(s)
  return results
}
