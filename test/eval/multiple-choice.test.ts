import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {CpuBackend} from '../../src/backend/cpu.js'
import {fromArray, scopeAsync} from '../../src/engine/tensor.js'
import {parseMcJsonl, runMultipleChoice} from '../../src/eval/tasks/multiple-choice.js'
import type {EvalContext} from '../../src/eval/tasks/types.js'
import {loadTeacher} from '../../src/models/load.js'
import {loadTokenizer, type TextTokenizer} from '../../src/tokenizer/load.js'
import {tinyModelWithTokenizer} from '../helpers/tiny-tokenizer-model.js'

/**
 * A held-out-style 12-item task written the lm-evaluation-harness way: choices without a leading
 * space (the default target_delimiter " " is put before each), choice lengths that differ so
 * acc_norm and acc disagree, a per-item delimiter, a context ending in a space, and a choice whose
 * length in characters (Python's len: code points) differs from its UTF-16 length.
 */
const ITEMS = [
  {context: 'The river ran past the', choices: ['engine', 'house', 'garden of the old mill'], gold: 1},
  {context: 'Question: which word came first?\nAnswer:', choices: ['river', 'needle', 'a'], gold: 0},
  {context: 'One two three', choices: ['four', 'five six seven', 'x'], gold: 0},
  {context: 'The value of the key is', choices: ['7', '73', 'seventy-three'], gold: 1},
  {context: 'She asked how many days', choices: ['passed', 'remained until the end of the year'], gold: 1},
  {context: 'A long haystack of words, one after another, until the', choices: ['needle', 'end'], gold: 0},
  {context: 'Memorize the following dictionary:\nriver:7\nengine:93\nThe value of river is', choices: ['7', '93'], gold: 0},
  {context: 'Colours: red, green and', choices: ['blue', 'a colour nobody has named yet'], gold: 0},
  {context: 'Answer with a face: ', choices: ['🙂', 'smile'], gold: 0},
  {context: 'Line one', choices: ['line two', 'the end'], gold: 0, target_delimiter: '\n'},
  {context: 'prefix', choices: ['ed', 'ing'], gold: 1, target_delimiter: ''},
  {context: 'The cat sat on the', choices: ['mat', 'elephant in the room'], gold: 0},
]

/** lm-eval's _encode_pair (lm_eval/api/model.py), written out again: trailing spaces move to the continuation. */
function lmEvalEncodePair(tok: TextTokenizer, context: string, continuation: string): {context: number[]; continuation: number[]} {
  const nSpaces = context.length - context.trimEnd().length
  if (nSpaces > 0) {
    continuation = context.slice(-nSpaces) + continuation
    context = context.slice(0, -nSpaces)
  }
  const whole = tok.encode(context + continuation)
  const contextEnc = tok.encode(context)
  return {context: contextEnc, continuation: whole.slice(contextEnc.length)}
}

describe('mc: tasks score as lm-evaluation-harness does', () => {
  let fixture: Awaited<ReturnType<typeof tinyModelWithTokenizer>>
  let root: string
  beforeAll(async () => {
    fixture = await tinyModelWithTokenizer()
    root = await mkdtemp(join(tmpdir(), 'hybridize-mc-'))
  })
  afterAll(async () => {
    await fixture.cleanup()
    await rm(root, {recursive: true, force: true})
  })

  async function context(): Promise<EvalContext & {model: Awaited<ReturnType<typeof loadTeacher>>}> {
    const backend = new CpuBackend()
    const model = await loadTeacher(fixture.folder, backend)
    return {model, lm: model, tokenizer: await loadTokenizer(fixture.folder), batchSize: 4, seed: 0, logSamples: true, progress: () => {}}
  }

  it('acc and acc_norm equal a brute-force scoring of context + target_delimiter + choice (12 items)', async () => {
    const file = join(root, 'held-out.jsonl')
    await writeFile(file, ITEMS.map((x) => JSON.stringify(x)).join('\n') + '\n')
    const ctx = await context()
    const got = await runMultipleChoice(file, ctx)

    // By hand: one full forward of each context + continuation, summing the continuation's token
    // log-probabilities in float64; acc = argmax ll, acc_norm = argmax ll / len(choice in code points).
    const tok = ctx.tokenizer!
    const V = ctx.model.vocabSize
    const acc: number[] = []
    const accNorm: number[] = []
    const lls: number[][] = []
    for (const item of ITEMS) {
      const delimiter = item.target_delimiter ?? ' '
      const ll: number[] = []
      for (const choice of item.choices) {
        const pair = lmEvalEncodePair(tok, item.context, delimiter + choice)
        expect(pair.continuation.length).toBeGreaterThan(0)
        const ids = [...pair.context, ...pair.continuation]
        const logits = await scopeAsync(async () => ctx.model.forward(fromArray(ctx.lm.backend, Int32Array.from(ids), [1, ids.length])).logits.toFloat32())
        let sum = 0
        for (let t = pair.context.length; t < ids.length; t++) {
          const row = Array.from(logits.subarray((t - 1) * V, t * V))
          const max = Math.max(...row)
          sum += row[ids[t]] - (max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0)))
        }
        ll.push(sum)
      }
      const argmax = (xs: number[]) => xs.indexOf(Math.max(...xs))
      acc.push(argmax(ll) === item.gold ? 1 : 0)
      accNorm.push(argmax(ll.map((x, i) => x / Array.from(item.choices[i]).length)) === item.gold ? 1 : 0)
      lls.push(ll)
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
    got.samples!.forEach((s, i) => {
      (s.filtered_resps as string[][]).forEach(([lp], c) => expect(Number(lp), `item ${i} choice ${c}`).toBeCloseTo(lls[i][c], 4))
      expect(s.arguments.gen_args_0.arg_1).toBe((ITEMS[i].target_delimiter ?? ' ') + ITEMS[i].choices[0])
    })
    expect(got.metrics['acc,none']).toBe(mean(acc))
    expect(got.metrics['acc_norm,none']).toBe(mean(accNorm))
    // The items are built so that normalising by length changes some answers.
    expect(acc).not.toEqual(accNorm)
    for (const w of ctx.model.weights.values()) w.dispose()
  }, 120_000)

  it('mc:<task.yaml> reads an lm-eval task config: its name, fields and target_delimiter; an item\'s own delimiter wins', async () => {
    const data = join(root, 'renamed.jsonl')
    await writeFile(data, [
      '{"question": "The river ran past the", "options": ["engine", "house"], "label": 1}',
      '{"question": "Line one", "options": ["line two", "the end"], "label": 0, "target_delimiter": "\\n"}',
    ].join('\n'))
    const yaml = join(root, 'renamed.yaml')
    await writeFile(yaml, [
      'task: renamed_mc', 'dataset_path: json', 'dataset_kwargs:', '  data_files:', `    test: ${data}`, 'output_type: multiple_choice',
      'test_split: test', 'doc_to_text: question', 'doc_to_choice: options', 'doc_to_target: label', 'target_delimiter: ": "',
    ].join('\n'))
    const got = await runMultipleChoice(yaml, await context())
    expect(got.task).toBe('renamed_mc')
    expect(got.config).toMatchObject({doc_to_text: 'question', doc_to_choice: 'options', doc_to_target: 'label', target_delimiter: ': '})
    expect(got.samples!.map((s) => s.arguments.gen_args_0.arg_1)).toEqual([': engine', '\nline two'])
    expect(got.samples![0].target).toBe('1')
    expect(parseMcJsonl('{"context": "a", "choices": ["b", "c"], "gold": 1}', 'g.jsonl')[0].targetDelimiter).toBe(' ')
  })

  it('refuses a task YAML it cannot follow, naming the key', async () => {
    const yaml = join(root, 'template.yaml')
    await writeFile(yaml, 'task: t\ndataset_kwargs:\n  data_files:\n    test: x.jsonl\ndoc_to_text: "{{question}}"\n')
    await expect(runMultipleChoice(yaml, await context())).rejects.toThrow(/template.yaml: doc_to_text: give a field name/)
    await writeFile(yaml, 'task: t\ndataset_path: allenai/ai2_arc\n')
    await expect(runMultipleChoice(yaml, await context())).rejects.toThrow(/template.yaml: dataset_path: only local JSON Lines/)
    await writeFile(yaml, 'task: t\nvalidation_split: validation\ndataset_kwargs:\n  data_files:\n    test: x.jsonl\n')
    await expect(runMultipleChoice(yaml, await context())).rejects.toThrow(/template.yaml: dataset_kwargs.data_files: name the validation split/)
  })

  it('warns when choices written with a leading space meet a delimiter that ends in one', async () => {
    const file = join(root, 'spaced.jsonl')
    await writeFile(file, '{"context": "The capital of France is", "choices": [" Paris", " Lyon"], "gold": 0}\n')
    const warnings: string[] = []
    const ctx = {...(await context()), warn: (t: string) => warnings.push(t)}
    const got = await runMultipleChoice(file, ctx)
    expect(warnings).toEqual([expect.stringMatching(/spaced.jsonl:1: a choice starts with whitespace and target_delimiter " " ends with it/)])
    expect(got.samples![0].arguments.gen_args_0.arg_1).toBe('  Paris')
  })

  it('an empty continuation is an error naming the item, never a log-likelihood of 0', async () => {
    expect(() => parseMcJsonl('{"context": "a", "choices": ["b", ""], "gold": 0, "target_delimiter": ""}', 'e.jsonl')).toThrow(/e.jsonl:1: choice 1 is empty/)
    // With no delimiter, "th" + "e" encodes as the one token "the": the choice adds no token.
    const file = join(root, 'merge.jsonl')
    await writeFile(file, ['{"context": "x", "choices": ["y", "z"], "gold": 0}', '{"context": "The river ran past th", "choices": ["e", "ose"], "gold": 0, "target_delimiter": ""}'].join('\n'))
    const ctx = await context()
    await expect(runMultipleChoice(file, ctx)).rejects.toThrow(/merge.jsonl:2: choice 0 \("e"\) after target_delimiter "" adds no token/)
    // An empty context leaves nothing to predict the choice's first token from.
    await writeFile(file, '{"context": "", "choices": ["y", "z"], "gold": 0}')
    await expect(runMultipleChoice(file, ctx)).rejects.toThrow(/merge.jsonl:1: the context encodes to no tokens/)
  })
})
