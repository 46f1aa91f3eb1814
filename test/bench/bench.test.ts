import {describe, expect, it} from 'vitest'
import {runChecks} from '../../bench/checks.js'
import {peakFor} from '../../bench/peaks.js'
import {timeCase} from '../../bench/runner.js'
import {TRAINING_CASES} from '../../bench/training-cases.js'
import {cpuBackend, webgpuBackend} from '../helpers/backends.js'

const gpu = await webgpuBackend()

describe('bench', () => {
  it('times a case on the CPU from the host, named as the PyTorch peer names it', async () => {
    const ssd = TRAINING_CASES.find((c) => c.name === 'ssd chunked fwd')!
    const result = await timeCase(cpuBackend(), ssd, 'small', peakFor('cpu'), 0)
    expect(result.name).toBe('ssd chunked fwd B=1 T=128 H=4 P=16 N=16 Q=32')
    expect(result.timer).toBe('host')
    expect(result.ms).toBeGreaterThan(0)
    expect(result.gflops).toBeGreaterThan(0)
  })
})

describe.skipIf(!gpu)('bench on WebGPU', () => {
  it('the GPU timer: kernel milliseconds with timestamp-query, none (work not run) without', async () => {
    let ran = false
    const ms = await gpu!.gpuTime(() => {
      ran = true
    })
    if (gpu!.features.includes('timestamp-query')) {
      expect(ran).toBe(true)
      expect(ms).toBeGreaterThanOrEqual(0)
    } else {
      expect(ms).toBeUndefined()
      expect(ran).toBe(false)
    }
  })

  it('--check: every fast kernel version this device runs agrees with its CPU twin', async () => {
    const results = await runChecks(gpu!)
    expect(results.length).toBeGreaterThan(20)
    for (const r of results) expect(r.ok, `${r.name}: ${r.error ?? r.relError}`).toBe(true)
  })
})
