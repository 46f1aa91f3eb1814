import {describe, expect, it} from 'vitest'
import {checkFinite, parseTaskList} from '../../src/eval/run-tasks.js'
import type {TaskResult} from '../../src/eval/tasks/types.js'

describe('--tasks parses in any order', () => {
  it('a task after a ppl: file list starts a new task (issue 18.5)', () => {
    expect(parseTaskList('ppl:a.txt,mc:b.jsonl')).toEqual(['ppl:a.txt', 'mc:b.jsonl'])
    expect(parseTaskList('ppl:a.txt,kv-retrieval,ppl:c.txt')).toEqual(['ppl:a.txt', 'kv-retrieval', 'ppl:c.txt'])
    expect(parseTaskList('mc:b.jsonl,ppl:a.txt,throughput')).toEqual(['mc:b.jsonl', 'ppl:a.txt', 'throughput'])
  })

  it('bare files after ppl: are more files of that task, as documented (ppl:<file>[,<file>])', () => {
    expect(parseTaskList('ppl:a.txt,b.txt,needle')).toEqual(['ppl:a.txt,b.txt', 'needle'])
    expect(parseTaskList('kv-retrieval,ppl:a.txt,b.txt')).toEqual(['kv-retrieval', 'ppl:a.txt,b.txt'])
    // The separators the old parser needed after a ppl: list still work.
    expect(parseTaskList('ppl:a.txt,b.txt;mc:c.jsonl needle')).toEqual(['ppl:a.txt,b.txt', 'mc:c.jsonl', 'needle'])
  })

  it('refuses what it cannot place, naming it', () => {
    expect(() => parseTaskList('kv-retrieval,nedle')).toThrow(/unknown task 'nedle'/)
    expect(() => parseTaskList('mc:a.jsonl,b.jsonl')).toThrow(/unknown task 'b.jsonl' after mc:a.jsonl \(an mc: task takes one file: write mc:b.jsonl for another\)/)
    expect(() => parseTaskList('ppl:,kv-retrieval')).toThrow(/'ppl:' names no file/)
    expect(() => parseTaskList(' , ')).toThrow(/names no task/)
  })
})

describe('a task result', () => {
  const result = (metrics: Record<string, number>): TaskResult => ({
    task: 'ppl:a.txt', metrics, counts: {original: 1, effective: 1},
    config: {task: 'ppl:a.txt', output_type: 'loglikelihood_rolling', num_fewshot: 0, metric_list: [], metadata: {version: 1}},
  })

  it('with a non-finite metric is an error naming it, never a printed number', () => {
    expect(() => checkFinite(result({'word_perplexity,none': Infinity}))).toThrow(/ppl:a.txt: word_perplexity is Infinity/)
    expect(() => checkFinite(result({'acc,pairs=10': NaN}))).toThrow(/acc,pairs=10 is NaN/)
  })

  it('may lack a standard error (NaN: one sample)', () => {
    expect(checkFinite(result({'acc,none': 1, 'acc_stderr,none': NaN})).metrics['acc,none']).toBe(1)
  })
})
