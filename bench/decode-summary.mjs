#!/usr/bin/env node
// The decode table for BENCHMARKS.md from bench/decode-sweep.mjs's and bench/peer_decode.py's JSON lines: at each
// context, each model's best decode tokens/s and the batch that gave it, the largest batch that ran, its decode state
// per sequence, and the ratios the acceptance asks for (hybrid / teacher, teacher / transformers); then the step time of
// each best cell and the host's share of it (encode_ms), which tells a GPU-bound step from a host-bound one; last, each
// model's weights and, for ours, whether linears ran mixed and the KV cache in f16.
// Usage: node bench/decode-summary.mjs SWEEP.jsonl [PEER.jsonl]
import {existsSync, readFileSync} from 'node:fs'

const lines = process.argv.slice(2).filter((f) => existsSync(f)).flatMap((f) =>
  readFileSync(f, 'utf8').split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l)))
const ok = lines.filter((l) => l.status === 'ok' && Number.isFinite(l.decode_tok_s))
const models = [...new Set(ok.map((l) => l.model))]
const contexts = [...new Set(ok.map((l) => l.context))].sort((a, b) => a - b)
const best = (model, context) => ok.filter((l) => l.model === model && l.context === context).reduce((a, l) => (!a || l.decode_tok_s > a.decode_tok_s ? l : a), undefined)
const largest = (model, context) => Math.max(0, ...ok.filter((l) => l.model === model && l.context === context).map((l) => l.batch))
const num = (x) => Math.round(x).toLocaleString('en-US')
const mib = (b) => (b === undefined ? '-' : (b / 2 ** 20).toFixed(b < 2 ** 20 ? 2 : 0))
const ratio = (a, b) => (a && b ? `${(a.decode_tok_s / b.decode_tok_s).toFixed(2)}x` : '-')

console.log(`| context | ${models.map((m) => `${m} tok/s (batch) | ${m} largest batch | ${m} MiB/seq`).join(' | ')} | hybrid / teacher | teacher / transformers |`)
console.log(`|---:|${models.map(() => '---:|---:|---:').join('|')}|---:|---:|`)
for (const c of contexts) {
  const cells = models.map((m) => {
    const b = best(m, c)
    const perSeq = b?.state_bytes_per_seq ?? b?.kv_bytes_per_seq
    return b ? `${num(b.decode_tok_s)} (${b.batch}) | ${largest(m, c)} | ${mib(perSeq)}` : '- | - | -'
  })
  const hybrid = models.find((m) => best(m, c)?.kind === 'hybrid')
  const teacher = models.find((m) => m !== 'transformers' && best(m, c)?.kind === 'teacher')
  console.log(`| ${c} | ${cells.join(' | ')} | ${ratio(hybrid && best(hybrid, c), teacher && best(teacher, c))} | ${ratio(teacher && best(teacher, c), best('transformers', c))} |`)
}
// Where a step's time goes at each best cell: a step's milliseconds, and of them the host's to encode it (ours only).
console.log(`\n| context | ${models.map((m) => `${m} step ms (encode ms)`).join(' | ')} |`)
console.log(`|---:|${models.map(() => '---:').join('|')}|`)
for (const c of contexts) {
  console.log(`| ${c} | ${models.map((m) => {
    const b = best(m, c)
    return b ? `${b.step_ms.toFixed(1)}${b.encode_ms === undefined ? '' : ` (${b.encode_ms.toFixed(1)})`}` : '-'
  }).join(' | ')} |`)
}
const readbacks = models.map((m) => [m, ok.find((l) => l.model === m && l.readback_ms !== undefined)?.readback_ms]).filter(([, ms]) => ms !== undefined)
if (readbacks.length) console.log(`\nA bare readback's round trip (4 values, nothing queued): ${readbacks.map(([m, ms]) => `${m} ${ms.toFixed(2)} ms`).join(', ')}.`)
const devices = [...new Set(lines.map((l) => l.device).filter(Boolean))]
// Ours say how their linears and KV cache ran (absent on lines from before --precision and --kv-cache-dtype: f32).
const settings = (l) => [l.precision === 'mixed' && 'mixed linears', l.kv_cache_dtype === 'f16' && 'f16 KV cache'].filter(Boolean).map((s) => ` + ${s}`).join('')
const dtypes = models.map((m) => {
  const l = ok.find((line) => line.model === m)
  return `${m} ${l?.weights_dtype ?? l?.dtype ?? '?'}${l ? settings(l) : ''}`
})
console.log(`\nWeights: ${dtypes.join(', ')}. Device: ${devices.join('; ')}. Cells not run: ${lines.filter((l) => l.status === 'skipped').length} skipped (out of time, or above a batch that failed), ${lines.filter((l) => l.status === 'error').length} failed.`)
