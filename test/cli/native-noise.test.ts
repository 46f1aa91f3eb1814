import {existsSync, readdirSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {runCli} from '../helpers/cli.js'

/** Whether this machine has a GPU device node: without one, auto must not probe Dawn's OpenGL ES (llvmpipe) at all. */
function hasGpuNode(): boolean {
  const dri = existsSync('/dev/dri') && readdirSync('/dev/dri').some((n) => n.startsWith('renderD'))
  return dri || existsSync('/dev/nvidia0') || existsSync('/dev/dxg')
}

describe('native library chatter stays off the terminal', () => {
  it.skipIf(process.platform !== 'linux' || hasGpuNode())('--device auto on a machine without a GPU prints nothing of Dawn\'s, and nothing at all under -q', () => {
    const r = runCli(['forward', 'fixtures/phi-tiny', '--text', 'The cat', '-q'])
    expect(r.status, r.stderr).toBe(0)
    expect(r.stderr).toBe('')
    const loud = runCli(['forward', 'fixtures/phi-tiny', '--text', 'The cat'])
    expect(loud.stderr).not.toMatch(/Warning: max/)
    expect(loud.stderr).toMatch(/^device: cpu: no WebGPU adapter \(.*OpenGL ES: no GPU device \(\/dev\/dri\/renderD\*.*\), so only a software rasterizer/m)
  })
})
