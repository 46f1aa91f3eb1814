import {mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {readMetrics} from '../../src/distill/metrics.js'
import {runTiny, tinySettings} from './harness.js'
import {writeTinyPair} from './tiny-models.js'

let dir: string
let dirs: Awaited<ReturnType<typeof writeTinyPair>>

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hybridize-distill-'))
  dirs = await writeTinyPair(dir)
})

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length

describe('each stage lowers its own loss on a tiny hybrid', () => {
  for (const stage of [1, 2, 3] as const) {
    it(`stage ${stage}`, async () => {
      const out = join(dir, `stage${stage}`)
      const settings = tinySettings(dirs, {stages: [stage], tokens: [128 * 30], lr: [stage === 3 ? 3e-3 : 1e-2], saveEvery: 1000})
      await runTiny(settings, out)
      const losses = (await readMetrics(out)).map((m) => m.loss)
      expect(losses).toHaveLength(30)
      console.log(stage, losses.map((l) => l.toFixed(3)).join(' '))
      expect(mean(losses.slice(-5))).toBeLessThan(0.8 * mean(losses.slice(0, 5)))
    })
  }
})
