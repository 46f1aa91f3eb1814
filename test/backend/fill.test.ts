import {describe, expect, it} from 'vitest'
import type {Backend} from '../../src/backend/backend.js'
import {fromArray, zeros} from '../../src/engine/tensor.js'
import {cpuBackend, webgpuBackend} from '../helpers/backends.js'

/** zeros() fills on the device: no host array is uploaded, and a pooled buffer's old values do not show through. */
async function expectDeviceZeros(backend: Backend): Promise<void> {
  const n = 1000
  fromArray(backend, new Float32Array(n).fill(NaN), [n]).dispose()
  const write = backend.write.bind(backend)
  let writes = 0
  backend.write = (storage, data) => (writes++, write(storage, data))
  try {
    const t = zeros(backend, [10, 100])
    expect(Array.from(await t.toArray()).every((x) => x === 0)).toBe(true)
    expect(writes).toBe(0)
    t.dispose()
    expect(Array.from(await zeros(backend, [0]).toArray())).toEqual([])
  } finally {
    backend.write = write
  }
}

describe('zeros', () => {
  it('CPU', () => expectDeviceZeros(cpuBackend()))
  it('WebGPU', async () => {
    const gpu = await webgpuBackend()
    if (gpu) await expectDeviceZeros(gpu)
  })
})
