#!/usr/bin/env node
// The tables of a folder of HYBRIDIZE_PROFILE files (scripts/profile-h200.sh), as markdown: one section per file, in the
// order the pipeline runs them, each the table the backend printed (dist/backend/profile.js#profileTable), then the
// parameters the costliest kernels spent their time on.
// Usage (after npm run build): node scripts/profile-summary.mjs FOLDER
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {profileTable} from '../dist/backend/profile.js'

const folder = process.argv[2]
if (!folder) {
  process.stderr.write('profile-summary: give the folder of profile JSON files\n')
  process.exit(2)
}
/** The costliest kernels of each profile, and the costliest parameters of each, listed under its table. */
const TOP_KERNELS = 6
const TOP_VARIANTS = 3
const ORDER = ['find-heads', 'rewrite', 'stage1', 'stage2', 'stage3', 'stage3-mixed', 'decode-teacher', 'decode-hybrid']
const rank = (name) => (ORDER.includes(name) ? ORDER.indexOf(name) : ORDER.length)
const names = readdirSync(folder).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5))
for (const name of names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))) {
  const report = JSON.parse(readFileSync(join(folder, `${name}.json`), 'utf8'))
  process.stdout.write(`## ${name}\n\n\`\`\`\n${profileTable(report)}\`\`\`\n\n`)
  // Which parameters (a matmul's sizes, a kernel's shape) the time of the costliest kernels goes to.
  const top = report.kernels.filter((k) => k.total_ms).slice(0, TOP_KERNELS)
  if (top.length) {
    process.stdout.write('| kernel | calls | total ms | parameters |\n| --- | ---: | ---: | --- |\n')
    for (const k of top) {
      for (const v of k.variants.slice(0, TOP_VARIANTS)) process.stdout.write(`| ${k.name} | ${v.calls} | ${v.total_ms.toFixed(2)} | \`${v.params}\` |\n`)
    }
    process.stdout.write('\n')
  }
}
