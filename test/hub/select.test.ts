import {describe, expect, it} from 'vitest'
import {assertSafeRepoPath, fnmatch, selectFiles} from '../../src/hub/select.js'

const llama = [
  '.gitattributes', 'LICENSE.txt', 'README.md', 'USE_POLICY.md', 'config.json', 'generation_config.json',
  'model.safetensors', 'original/consolidated.00.pth', 'original/params.json', 'original/tokenizer.model',
  'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json',
]

describe('fnmatch', () => {
  it('follows Python fnmatch: * crosses folders, ? is one character, [!..] negates', () => {
    expect(fnmatch('original/params.json', '*.json')).toBe(true)
    expect(fnmatch('model-00001-of-00002.safetensors', 'model-0000?-of-*.safetensors')).toBe(true)
    expect(fnmatch('model-00010-of-00012.safetensors', 'model-0000?-of-*.safetensors')).toBe(false)
    expect(fnmatch('a.bin', '[!b].bin')).toBe(true)
    expect(fnmatch('b.bin', '[!b].bin')).toBe(false)
    expect(fnmatch('config.json', 'config.jso')).toBe(false)
    expect(fnmatch('configXjson', 'config.json')).toBe(false)
    expect(fnmatch('a[1.txt', 'a[1.txt')).toBe(true)
  })

  it('treats a pattern ending in / as the whole folder', () => {
    expect(fnmatch('original/params.json', 'original/')).toBe(true)
    expect(fnmatch('originals.json', 'original/')).toBe(false)
  })
})

describe('selectFiles', () => {
  it('takes config, tokenizer, safetensors and small docs from a Llama repo, not original/', () => {
    expect(selectFiles(llama)).toEqual([
      'LICENSE.txt', 'README.md', 'USE_POLICY.md', 'config.json', 'generation_config.json', 'model.safetensors',
      'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json',
    ])
  })

  it('skips .bin, .pth, .h5, .msgpack and .onnx weights when safetensors exist', () => {
    const repo = ['config.json', 'model.safetensors', 'pytorch_model.bin', 'tf_model.h5', 'flax_model.msgpack', 'onnx/model.onnx', 'model.pth']
    expect(selectFiles(repo)).toEqual(['config.json', 'model.safetensors'])
  })

  it('falls back to .bin weights for a repo without safetensors, then to .pth', () => {
    expect(selectFiles(['config.json', 'pytorch_model.bin', 'tf_model.h5', 'vocab.json', 'merges.txt']))
      .toEqual(['config.json', 'pytorch_model.bin', 'vocab.json', 'merges.txt'])
    expect(selectFiles(['config.json', 'weights.pth'])).toEqual(['config.json', 'weights.pth'])
  })

  it('drops consolidated.safetensors when the sharded weights are there (Mistral)', () => {
    const repo = ['config.json', 'consolidated.safetensors', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']
    expect(selectFiles(repo)).toEqual(['config.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'])
    expect(selectFiles(['params.json', 'consolidated.safetensors'])).toEqual(['params.json', 'consolidated.safetensors'])
  })

  it('--include replaces the defaults and --exclude removes from either', () => {
    expect(selectFiles(llama, {include: ['original/*']})).toEqual(['original/consolidated.00.pth', 'original/params.json', 'original/tokenizer.model'])
    expect(selectFiles(llama, {include: ['*.json'], exclude: ['original/*', 'generation*']}))
      .toEqual(['config.json', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json'])
    expect(selectFiles(llama, {exclude: ['*.md', '*.txt']})).not.toContain('README.md')
    expect(selectFiles(llama, {exclude: ['*.md', '*.txt']})).toContain('model.safetensors')
  })
})

describe('assertSafeRepoPath', () => {
  it.each(['/etc/passwd', '../evil.json', 'a/../../evil.json', 'a\\..\\evil', 'C:evil', 'a//b', './config.json', '', 'a/.', 'x\0y'])(
    'refuses %j', (path) => {
      expect(() => assertSafeRepoPath(path)).toThrow(/refusing unsafe file name from the hub/)
    },
  )

  it('accepts ordinary nested names, including dots inside names', () => {
    for (const path of ['config.json', 'original/params.json', '2_Dense/config.json', 'a..b/c...json', '.gitattributes']) {
      expect(() => assertSafeRepoPath(path)).not.toThrow()
    }
  })
})
