import {parseArgs} from 'node:util'
import {createBackend, type DeviceChoice} from '../backend/device.js'
import {FORWARD_CASES} from './cases.js'
import {peakFor} from './peaks.js'
import {formatResults, timeCase, type BenchResult} from './runner.js'

/**
 * `npm run bench -- [--device cpu|webgpu|auto] [--size small|large] [--filter TEXT] [--json]`:
 * every kernel case on one backend, with ms, GFLOP/s, GB/s and the fraction of the device's peak.
 */
export async function main(argv: string[]): Promise<void> {
  const {values} = parseArgs({
    args: argv,
    options: {
      device: {type: 'string', default: 'auto'},
      size: {type: 'string'},
      filter: {type: 'string'},
      json: {type: 'boolean', default: false},
    },
  })
  const backend = await createBackend(values.device as DeviceChoice)
  const peak = peakFor(backend.description)
  const size = (values.size ?? (/h200|nvidia/i.test(backend.description) ? 'large' : 'small')) as 'small' | 'large'
  const results: BenchResult[] = []
  for (const c of FORWARD_CASES) {
    if (values.filter && !c.name.includes(values.filter)) continue
    results.push(await timeCase(backend, c, size, peak))
    if (!values.json) process.stderr.write(`  ${c.name}: ${results.at(-1)!.ms.toFixed(3)} ms\n`)
  }
  const report = {device: backend.description, peak: peak.name, size, date: new Date().toISOString(), results}
  process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatResults(backend.description, peak, results) + '\n')
  backend.destroy()
}
