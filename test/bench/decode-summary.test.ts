import {execFileSync} from 'node:child_process'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

describe('bench/decode-summary.mjs', () => {
  const dirs: string[] = []
  afterAll(async () => Promise.all(dirs.map((d) => rm(d, {recursive: true, force: true}))))

  it('at each context: every model\'s best tok/s and its batch, the largest batch run, MiB/seq, and the two ratios; then step and encode ms', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'decode-summary-'))
    dirs.push(dir)
    const ours = (model: string, kind: string, batch: number, tok: number, extra = {}) =>
      ({model, kind, context: 8192, batch, status: 'ok', decode_tok_s: tok, step_ms: 1000 * batch / tok, encode_ms: 1.5, readback_ms: 0.25, state_bytes_per_seq: 2 ** 20 * 49, weights_dtype: kind === 'teacher' ? 'bf16' : 'f32', ...extra})
    const sweep = [
      ours('teacher', 'teacher', 128, 2000), ours('teacher', 'teacher', 64, 1500),
      ours('hybrid', 'hybrid', 1024, 10000, {precision: 'mixed', kv_cache_dtype: 'f16'}), ours('hybrid', 'hybrid', 2048, 0, {status: 'error', decode_tok_s: undefined}),
      {model: 'hybrid', kind: 'hybrid', context: 8192, batch: 4096, status: 'skipped'},
    ]
    const peer = [{model: 'transformers', kind: 'teacher', dtype: 'bfloat16', context: 8192, batch: 256, status: 'ok', decode_tok_s: 4000, step_ms: 64, kv_bytes_per_seq: 2 ** 28}]
    await writeFile(join(dir, 'sweep.jsonl'), sweep.map((l) => JSON.stringify(l)).join('\n'))
    await writeFile(join(dir, 'peer.jsonl'), peer.map((l) => JSON.stringify(l)).join('\n'))
    const out = execFileSync(process.execPath, ['bench/decode-summary.mjs', join(dir, 'sweep.jsonl'), join(dir, 'peer.jsonl')], {encoding: 'utf8'})
    const rows = out.split('\n').filter((l) => l.startsWith('| 8192 '))
    expect(rows[0]).toBe('| 8192 | 2,000 (128) | 128 | 49 | 10,000 (1024) | 1024 | 49 | 4,000 (256) | 256 | 256 | 5.00x | 0.50x |')
    expect(rows[1]).toBe('| 8192 | 64.0 (1.5) | 102.4 (1.5) | 64.0 |')
    expect(out).toContain("A bare readback's round trip (4 values, nothing queued): teacher 0.25 ms, hybrid 0.25 ms.")
    expect(out).toContain('Weights: teacher bf16, hybrid f32 + mixed linears + f16 KV cache, transformers bfloat16.')
    expect(out).toContain('Cells not run: 1 skipped (out of time, or above a batch that failed), 1 failed.')
  })
})
