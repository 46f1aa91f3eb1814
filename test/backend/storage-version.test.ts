import {describe, expect, it} from 'vitest'
import type {Backend} from '../../src/backend/backend.js'
import {ShapesOnlyBackend} from '../../src/backend/shapes-only.js'
import {unary} from '../../src/kernels/elementwise.js'
import {cpuBackend, webgpuBackend} from '../helpers/backends.js'

const gpu = await webgpuBackend()

describe('Storage.version: the writes a storage has had', () => {
  for (const [name, make] of [['cpu', cpuBackend], ['shapes', () => new ShapesOnlyBackend()], ['webgpu', () => gpu!]] as [string, () => Backend][]) {
    it.skipIf(name === 'webgpu' && !gpu)(`${name}: a host write and a kernel writing it as an output count; reading it as an input does not`, async () => {
      const backend = make()
      const [a, b] = [backend.alloc(4, 'f32'), backend.alloc(4, 'f32')]
      expect([a.version, b.version]).toEqual([0, 0])
      backend.write(a, Float32Array.of(1, 2, 3, 4))
      backend.run(unary, {op: 'neg', n: 4}, [a], [b])
      backend.run(unary, {op: 'neg', n: 4}, [b], [a])
      expect([a.version, b.version]).toEqual([2, 1])
      await backend.sync()
      for (const s of [a, b]) backend.free(s)
    })
  }
})
