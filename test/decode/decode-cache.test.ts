import {describe, expect, it} from 'vitest'
import {CpuBackend} from '../../src/backend/cpu.js'
import {scope, zeros} from '../../src/engine/tensor.js'
import {DecodeCache, KvLayerCache, SsmLayerCache} from '../../src/models/decode-cache.js'

describe('decode cache', () => {
  const backend = new CpuBackend()

  it('counts KV and SSM bytes per kind, a hybrid layer holding both', () => {
    const cache = scope(() => new DecodeCache(2, 10, [
      {kv: KvLayerCache.allocate(backend, 2, 10, 3, 4)},
      {ssm: new SsmLayerCache({convWindow: zeros(backend, [2, 3, 8]), ssmState: zeros(backend, [2, 2, 4, 5])})},
      {kv: KvLayerCache.allocate(backend, 2, 10, 1, 4), ssm: new SsmLayerCache({ssmState: zeros(backend, [2, 1])})},
    ]))
    // Tensors made inside a scope survive it once they are in the cache.
    expect(cache.kv(0).k.isDisposed).toBe(false)
    expect(cache.bytesByKind()).toEqual({kv: 2 * 2 * 10 * (3 + 1) * 4 * 4, ssm: (2 * 3 * 8 + 2 * 2 * 4 * 5 + 2) * 4})
    expect(cache.ssm(2).bytes).toBe(8)
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
