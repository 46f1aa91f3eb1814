import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

/**
 * Every WGSL function variable of array type is declared with a value. WGSL zero-initialises a
 * `var x: array<f32, 4>;` each time the declaration runs, and llvmpipe does; on the H200 (Dawn,
 * Vulkan, NVIDIA 580) such a declaration inside a loop kept the previous iteration's values, which
 * made the chunked SSD scan wrong in 3 of every 4 rows of a chunk while every test on llvmpipe
 * passed. Accumulators therefore start from `array<f32, N>()`.
 */
describe('WGSL kernels', () => {
  const dir = join(import.meta.dirname, '../../src/kernels')
  const files = readdirSync(dir, {recursive: true, encoding: 'utf8'}).filter((f) => f.endsWith('.ts'))

  it('finds the kernel sources', () => {
    expect(files.length).toBeGreaterThan(10)
  })

  it.each(files)('%s declares no array variable without a value', (file) => {
    const text = readFileSync(join(dir, file), 'utf8')
    const bare = text.split('\n').filter((line) => /\bvar\s+\w+\s*:\s*array</.test(line))
    expect(bare).toEqual([])
  })
})
