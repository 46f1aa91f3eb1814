import {parseArgs} from 'node:util'
import {createBackend, type DeviceChoice} from '../src/backend/device.js'
import {FORWARD_CASES} from './cases.js'
import {formatChecks, runChecks} from './checks.js'
import {peakFor} from './peaks.js'
import {formatResults, timeCase, type BenchCase, type BenchResult} from './runner.js'
import {trainStepCase} from './train-step.js'
import {F16_CASES, TRAINING_CASES} from './training-cases.js'
import {f16VersionCases, versionCases} from './version-cases.js'

/**
 * `npm run bench -- [--device cpu|webgpu|auto] [--size small|large] [--filter REGEX] [--json]
 *   [--check] [--versions] [--train-step] [--layers N]`:
 * every kernel case on one backend, with ms, GFLOP/s, GB/s and the fraction of the device's peak.
 * --check first compares every fast kernel version with its CPU twin on this device; --versions
 * adds every kernel version and tile that mattered (dev/kernels/, gathered in version-cases.ts); --train-step adds one
 * Llama-3.2-1B-shaped training step (--layers N of its 16 layers).
 */
export async function main(argv: string[]): Promise<void> {
  const {values} = parseArgs({
    args: argv,
    options: {
      device: {type: 'string', default: 'auto'},
      size: {type: 'string'},
      filter: {type: 'string'},
      json: {type: 'boolean', default: false},
      check: {type: 'boolean', default: false},
      versions: {type: 'boolean', default: false},
      'train-step': {type: 'boolean', default: false},
      layers: {type: 'string'},
    },
  })
  const backend = await createBackend(values.device as DeviceChoice)
  const peak = peakFor(backend.description)
  const size = (values.size ?? (/h200|nvidia/i.test(backend.description) ? 'large' : 'small')) as 'small' | 'large'
  const log = (line: string): void => void process.stderr.write(`${line}\n`)
  log(`device: ${backend.description}`)
  if ('subgroups' in backend) log(`subgroups: ${JSON.stringify(backend.subgroups)}`)

  const checks = values.check ? await runChecks(backend) : []
  if (checks.length) log(formatChecks(checks))

  const versions = values.versions && size === 'large'
  const cases: BenchCase[] = [...FORWARD_CASES, ...TRAINING_CASES]
  if (versions) cases.push(...versionCases())
  if (values['train-step']) cases.push(trainStepCase(values.layers ? Number(values.layers) : undefined))
  cases.push(...F16_CASES, ...(versions ? f16VersionCases(backend) : []))
  const results: BenchResult[] = []
  for (const c of cases) {
    if (values.filter && !new RegExp(values.filter).test(c.name)) continue
    try {
      results.push(await timeCase(backend, c, size, peak))
      log(`  ${results.at(-1)!.name}: ${results.at(-1)!.ms.toFixed(3)} ms (${results.at(-1)!.timer})`)
    } catch (err) {
      // One case failing (an unsupported tile, memory) must not lose the others' numbers.
      log(`  ${c.name}: FAILED ${err instanceof Error ? err.message : String(err)}`)
    }
  }
  const report = {device: backend.description, peak: peak.name, size, date: new Date().toISOString(), checks, results}
  process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatResults(backend.description, peak, results) + '\n')
  backend.destroy()
  if (checks.some((c) => !c.ok)) process.exitCode = 1
}
