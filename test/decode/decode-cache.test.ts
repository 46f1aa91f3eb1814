import {describe, expect, it} from 'vitest'
import {CpuBackend} from '../../src/backend/cpu.js'
import {scope, zeros} from '../../src/engine/tensor.js'
import {DecodeCache, KvLayerCache, SsmLayerCache} from '../../src/models/decode-cache.js'

describe('decode cache', () => {
  const backend = new CpuBackend()

  it('counts KV bytes growing with capacity and SSM bytes fixed, per kind', () => {
    const cache = scope(() => new DecodeCache(2, 10, [
      KvLayerCache.allocate(backend, 2, 10, 3, 4),
      new SsmLayerCache({convWindow: zeros(backend, [2, 3, 8]), ssmState: zeros(backend, [2, 2, 4, 5])}),
    ]))
    // Tensors made inside a scope survive it once they are in the cache.
    expect(cache.kv(0).k.isDisposed).toBe(false)
    expect(cache.bytesByKind()).toEqual({kv: 2 * 2 * 10 * 3 * 4 * 4, ssm: (2 * 3 * 8 + 2 * 2 * 4 * 5) * 4})
    expect(() => cache.kv(1)).toThrow(/no key\/value cache/)
    expect(() => cache.ssm(0)).toThrow(/no SSM state/)
    expect(() => cache.checkRoom(2, 11)).toThrow(/do not fit/)
    expect(() => cache.checkRoom(1, 1)).toThrow(/for 2 sequences/)
    cache.dispose()
  })

  it('update swaps in a new state and frees the old tensors, keeping shared ones', () => {
    const conv = zeros(backend, [1, 3, 4])
    const first = zeros(backend, [1, 2, 2, 2])
    const layer = new SsmLayerCache({convWindow: conv, ssmState: first})
    const second = scope(() => zeros(backend, [1, 2, 2, 2]))
    layer.update({convWindow: conv, ssmState: second})
    expect(first.isDisposed).toBe(true)
    expect(conv.isDisposed).toBe(false)
    expect(layer.state.ssmState).toBe(second)
    layer.dispose()
    expect(second.isDisposed).toBe(true)
  })
})
