import {mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {CpuBackend} from '../../src/backend/cpu.js'
import {noGrad, withTape} from '../../src/engine/autograd.js'
import {fromArray, scope} from '../../src/engine/tensor.js'
import {loadTeacher} from '../../src/models/load.js'
import {writeTinyPair} from '../distill/tiny-models.js'

/** A forward with no tape frees each layer's intermediates before the next layer runs, and gives the same states. */
describe('decoder forward without a tape', () => {
  it('peaks lower than the taped forward, with equal hidden states', async () => {
    const dirs = await writeTinyPair(await mkdtemp(join(tmpdir(), 'hybridize-decoder-mem-')))
    const backend = new CpuBackend({fast: false})
    const teacher = await loadTeacher(dirs.teacher, backend)
    const ids = fromArray(backend, Int32Array.from({length: 2 * 32}, (_, i) => (i * 7) % 300), [2, 32])
    const run = async (taped: boolean): Promise<{peak: number; states: Float32Array[]}> => {
      backend.resetPeak()
      const live = backend.memory.liveBytes
      const states = scope(() => (taped ? withTape(() => teacher.hiddenStates(ids)).result : noGrad(() => teacher.hiddenStates(ids))))
      const peak = backend.memory.peakBytes - live
      const values = await Promise.all(states.map((s) => s.toFloat32()))
      for (const s of states) s.dispose()
      return {peak, states: values}
    }
    const free = await run(false)
    const kept = await run(true)
    expect(free.states).toEqual(kept.states)
    console.log(`peak bytes: free ${free.peak}, kept ${kept.peak}`)
    // Both layers' intermediates against one layer's at a time.
    expect(free.peak).toBeLessThan(0.6 * kept.peak)
  })
})
