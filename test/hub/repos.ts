import type {FakeFile, FakeRepo} from './fake-hub.js'

/** Deterministic pseudo-random bytes (an LCG), so blob names in expected listings never change. */
export function bytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length)
  let x = seed >>> 0
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0
    out[i] = x >>> 24
  }
  return out
}

const text = (path: string, content: string): FakeFile => ({path, content: Buffer.from(content)})
const lfs = (path: string, length: number, seed: number): FakeFile => ({path, content: bytes(length, seed), lfs: true})

export const TINY_COMMIT = '0123456789abcdef0123456789abcdef01234567'

/** Shaped like meta-llama/Llama-3.2-1B: sharded safetensors plus .bin and original/ duplicates to skip. */
export function tinyLlama(id = 'acme/tiny-llama'): FakeRepo {
  return {
    id,
    commit: TINY_COMMIT,
    files: [
      text('.gitattributes', '*.safetensors filter=lfs diff=lfs merge=lfs -text\n'),
      text('README.md', '# tiny llama\n'),
      text('config.json', '{"architectures":["LlamaForCausalLM"],"hidden_size":64,"num_hidden_layers":2}\n'),
      text('generation_config.json', '{"bos_token_id":1,"eos_token_id":2}\n'),
      text('tokenizer.json', '{"version":"1.0","model":{"type":"BPE","vocab":{}}}\n'),
      text('tokenizer_config.json', '{"bos_token":"<s>"}\n'),
      text('assets/chat_template.json', '{"template":"{{ messages }}"}\n'),
      text('model.safetensors.index.json', '{"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}\n'),
      lfs('model-00001-of-00002.safetensors', 300_000, 1),
      lfs('model-00002-of-00002.safetensors', 200_000, 2),
      lfs('pytorch_model.bin', 50_000, 3),
      lfs('original/consolidated.00.pth', 40_000, 4),
      text('original/params.json', '{"dim":64}\n'),
    ],
  }
}
