#!/usr/bin/env node
// Joins `npm run bench -- --json` output with bench/peer_torch.py output by case name:
//   node bench/compare.mjs webgpu.json peer.json
// ratio = peer ms / WebGPU ms (above 1: WebGPU is faster).
import {readFileSync} from 'node:fs'

const [ours, peer] = process.argv.slice(2).map((f) => JSON.parse(readFileSync(f, 'utf8')))
const peerMs = new Map(peer.results.map((r) => [r.name, r.ms]))
const rows = ours.results.map((r) => {
  const p = peerMs.get(r.name)
  return [r.name, r.ms.toFixed(3), p === undefined ? '-' : p.toFixed(3), p === undefined ? '-' : (p / r.ms).toFixed(2), `${(r.fractionOfPeak * 100).toFixed(1)}%`]
})
for (const [name, ms] of peerMs) if (!ours.results.some((r) => r.name === name)) rows.push([name, '-', ms.toFixed(3), '-', '-'])
const header = ['case', 'WebGPU ms', 'PyTorch ms', 'ratio', 'WebGPU of peak']
console.log(`WebGPU: ${ours.device}\nPyTorch: ${peer.device}, torch ${peer.torch}\npeak: ${ours.peak}\n`)
console.log(`| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|`)
for (const r of rows) console.log(`| ${r.join(' | ')} |`)
