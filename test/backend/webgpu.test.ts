import {describe, expect, it} from 'vitest'
import {binary, unary} from '../../src/kernels/elementwise.js'
import type {Kernel} from '../../src/kernels/kernel.js'
import {bindings, flatDispatch, flatShader} from '../../src/kernels/wgsl.js'
import {poisoned, runKernel, webgpuBackend} from '../helpers/backends.js'

const gpu = await webgpuBackend()

/** A kernel whose WGSL does not compile. */
const broken: Kernel<{n: number}> = {
  name: 'broken_kernel',
  cpu: () => {},
  gpu: {key: () => '', code: () => 'fn main( {', dispatch: (p) => flatDispatch(p.n, [['count', p.n]])},
}

/** A kernel whose WGSL declares two inputs, run with one: the layout does not match the shader. */
const mismatched: Kernel<{n: number}> = {
  name: 'mismatched_kernel',
  cpu: () => {},
  gpu: {
    key: () => '',
    code: (p) => flatShader(bindings(['a: array<f32>', 'b: array<f32>'], ['y: array<f32>'], [['count', p.n]]), '  y[i] = a[i] + b[i];'),
    dispatch: (p) => flatDispatch(p.n, [['count', p.n]]),
  },
}

describe.skipIf(!gpu)('WebGPU backend', () => {
  it('turns a WGSL compile error into an error naming the kernel, and keeps working after it', async () => {
    const out = gpu!.alloc(4, 'f32')
    gpu!.run(broken, {n: 4}, [], [out])
    await expect(gpu!.sync()).rejects.toThrow(/^webgpu kernel broken_kernel: .*(error|expected)/s)
    const [got] = await runKernel(gpu!, unary, {op: 'neg', n: 3}, [Float32Array.from([1, 2, 3])], [3])
    expect(Array.from(got)).toEqual([-1, -2, -3])
  })

  it('names the kernel when its bindings do not match the shader, on read as well as sync', async () => {
    const a = gpu!.alloc(2, 'f32')
    const y = gpu!.alloc(2, 'f32')
    gpu!.run(mismatched, {n: 2}, [a], [y])
    await expect(gpu!.read(y)).rejects.toThrow(/webgpu kernel mismatched_kernel: /)
  })

  it('handles 0-element tensors: alloc, write, read, and kernels over them', async () => {
    const empty = gpu!.alloc(0, 'f32')
    gpu!.write(empty, new Float32Array(0))
    expect((await gpu!.read(empty)).length).toBe(0)
    const [got] = await runKernel(gpu!, unary, {op: 'exp', n: 0}, [new Float32Array(0)], [0])
    expect(got).toBeInstanceOf(Float32Array)
    expect(got.length).toBe(0)
  })

  it('round-trips int32 data and reads back the dtype it stores', async () => {
    const s = gpu!.alloc(5, 'i32')
    const data = Int32Array.from([0, -1, 2 ** 31 - 1, -(2 ** 31), 12345])
    gpu!.write(s, data)
    const back = await gpu!.read(s)
    expect(back).toBeInstanceOf(Int32Array)
    expect(Array.from(back)).toEqual(Array.from(data))
  })

  it('reuses freed buffers of the same size class instead of allocating more', () => {
    const first = gpu!.alloc(1000, 'f32')
    gpu!.free(first)
    const before = gpu!.allocatedBytes
    const again = gpu!.alloc(1001, 'f32')
    expect(gpu!.allocatedBytes).toBe(before)
    gpu!.free(again)
  })

  it('runs hundreds of dependent dispatches across several submits (batch and uniform ring limits)', async () => {
    const n = 1000
    const one = gpu!.alloc(1, 'f32')
    gpu!.write(one, Float32Array.from([1]))
    let x = poisoned(gpu!, n)
    gpu!.write(x, new Float32Array(n))
    for (let step = 0; step < 600; step++) {
      const y = gpu!.alloc(n, 'f32')
      gpu!.run(binary, {op: 'add', n, bn: 1}, [x, one], [y])
      gpu!.free(x)
      x = y
    }
    const got = await gpu!.read(x)
    expect(Array.from(new Set(got))).toEqual([600])
  })

  it('orders a write after the kernels encoded before it', async () => {
    const x = gpu!.alloc(3, 'f32')
    const y = gpu!.alloc(3, 'f32')
    const z = gpu!.alloc(3, 'f32')
    gpu!.write(x, Float32Array.from([1, 2, 3]))
    gpu!.run(unary, {op: 'neg', n: 3}, [x], [y])
    gpu!.write(x, Float32Array.from([10, 20, 30]))
    gpu!.run(unary, {op: 'neg', n: 3}, [x], [z])
    expect(Array.from(await gpu!.read(y))).toEqual([-1, -2, -3])
    expect(Array.from(await gpu!.read(z))).toEqual([-10, -20, -30])
  })

  it('refuses storages used after free', () => {
    const s = gpu!.alloc(4, 'f32')
    gpu!.free(s)
    expect(() => gpu!.write(s, new Float32Array(4))).toThrow(/after free/)
  })

  it('describes the device and records the optional features granted', () => {
    expect(gpu!.description).toMatch(/^webgpu: .+ \((Vulkan|OpenGL ES|native), (core|compatibility)/)
    for (const f of gpu!.features) expect(['shader-f16', 'subgroups', 'timestamp-query', 'chromium-experimental-subgroup-matrix']).toContain(f)
  })
})
