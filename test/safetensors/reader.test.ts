import {open, readFile} from 'node:fs/promises'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {openCheckpoint, SafetensorsFile} from '../../src/io/safetensors/index.js'
import {rawSafetensors, removeTempDirs, tempDir} from './helpers.js'
import {fixtureReference} from '../helpers/paths.js'

afterAll(removeTempDirs)

const llamaDir = path.join(fixtureReference, 'llama-tiny')

describe('the reference llama-tiny checkpoint', () => {
  it('opens, and its tensor shapes follow config.json', async () => {
    const config = JSON.parse(await readFile(path.join(llamaDir, 'config.json'), 'utf8'))
    const {hidden_size: C, intermediate_size: F, vocab_size: V, num_hidden_layers: L} = config
    const qDim = config.num_attention_heads * config.head_dim
    const kvDim = config.num_key_value_heads * config.head_dim
    const ckpt = await openCheckpoint(llamaDir)
    try {
      expect(ckpt.metadata).toEqual({format: 'pt'})
      expect(ckpt.names()).toHaveLength(3 + 9 * L)
      expect(ckpt.shape('model.embed_tokens.weight')).toEqual([V, C])
      expect(ckpt.shape('lm_head.weight')).toEqual([V, C])
      expect(ckpt.shape('model.norm.weight')).toEqual([C])
      for (let i = 0; i < L; i++) {
        const p = `model.layers.${i}.`
        expect(ckpt.shape(`${p}self_attn.q_proj.weight`)).toEqual([qDim, C])
        expect(ckpt.shape(`${p}self_attn.k_proj.weight`)).toEqual([kvDim, C])
        expect(ckpt.shape(`${p}self_attn.v_proj.weight`)).toEqual([kvDim, C])
        expect(ckpt.shape(`${p}self_attn.o_proj.weight`)).toEqual([C, qDim])
        expect(ckpt.shape(`${p}mlp.gate_proj.weight`)).toEqual([F, C])
        expect(ckpt.shape(`${p}mlp.up_proj.weight`)).toEqual([F, C])
        expect(ckpt.shape(`${p}mlp.down_proj.weight`)).toEqual([C, F])
        expect(ckpt.shape(`${p}input_layernorm.weight`)).toEqual([C])
        expect(ckpt.shape(`${p}post_attention_layernorm.weight`)).toEqual([C])
        expect(ckpt.info(`${p}mlp.down_proj.weight`).dtype).toBe('F32')
      }
      expect(ckpt.has('model.layers.0.self_attn.q_proj.bias')).toBe(false)
    } finally {
      await ckpt.close()
    }
  })

  it('reads the same values as a plain whole-file decode', async () => {
    const file = path.join(llamaDir, 'model.safetensors')
    const whole = await readFile(file)
    const st = await SafetensorsFile.open(file)
    const dataStart = 8 + Number(whole.readBigUInt64LE(0))
    for (const name of ['model.norm.weight', 'model.layers.1.self_attn.k_proj.weight']) {
      const {offset, byteLength} = st.tensors.get(name)!
      const expected = Float32Array.from({length: byteLength / 4}, (_, i) => whole.readFloatLE(dataStart + offset + 4 * i))
      expect(await st.readF32(name)).toEqual(expected)
    }
    await st.close()
  })
})

describe('lazy reading', () => {
  it('opens a file with a 16 GiB (sparse) data section from its header alone, and reads tensor bytes only when asked', async () => {
    const file = path.join(await tempDir(), 'sparse.safetensors')
    const big = 16 * 2 ** 30
    const header = rawSafetensors({
      big: {dtype: 'F32', shape: [4, 2 ** 30], data_offsets: [0, big]},
      tail: {dtype: 'BF16', shape: [2], data_offsets: [big, big + 4]},
    })
    const tailAt = header.byteLength + big
    const handle = await open(file, 'w')
    await handle.write(header, 0, header.byteLength, 0)
    await handle.truncate(tailAt + 4)
    await handle.write(Uint8Array.of(0x80, 0x3f, 0x00, 0xc0), 0, 4, tailAt) // BF16 [1, -2]
    await handle.close()

    const st = await SafetensorsFile.open(file)
    expect(st.tensors.get('big')).toMatchObject({dtype: 'F32', shape: [4, 2 ** 30], byteLength: big})
    // The bytes are read at request time: a change on disk after open() shows up.
    const writer = await open(file, 'r+')
    await writer.write(Uint8Array.of(0x40, 0x40), 0, 2, tailAt + 2) // second value becomes 3
    await writer.close()
    expect(await st.readF32('tail')).toEqual(Float32Array.of(1, 3))
    expect(await st.readBytes('tail')).toEqual(Uint8Array.of(0x80, 0x3f, 0x40, 0x40))
    await st.close()
    await expect(st.readF32('tail')).rejects.toThrow(/after close/)
  })
})
