import {describe, expect, it} from 'vitest'
import {createBackend} from '../../src/backend/device.js'
import {HybridizeError} from '../../src/errors.js'

describe('createBackend', () => {
  it('--device cpu gives the CPU backend and says so', async () => {
    const b = await createBackend('cpu')
    expect(b.name).toBe('cpu')
    expect(b.description).toBe('cpu: --device cpu')
  })

  it('auto picks a hardware WebGPU adapter, else CPU with the reason; a software adapter loses to the CPU', async () => {
    const b = await createBackend('auto')
    if (b.name === 'webgpu') expect(b.description).toMatch(/^webgpu: .+ \((Vulkan|OpenGL ES|native), (core|compatibility).*\) — /)
    else expect(b.description).toMatch(/^cpu: (no WebGPU adapter \(.+\)|the only WebGPU adapter is .+, a software rasterizer)/)
    b.destroy()
    // CI has Mesa's llvmpipe and no GPU: auto must prefer the CPU, --device webgpu must still take it.
    if (process.env.CI) {
      expect(b.description).toMatch(/software rasterizer/)
      const forced = await createBackend('webgpu')
      expect(forced.description).toMatch(/^webgpu: llvmpipe/)
      forced.destroy()
    }
  })

  it('HYBRIDIZE_WEBGPU_BACKEND forces one Dawn backend; without that adapter auto falls back and webgpu fails', async () => {
    const env = {HYBRIDIZE_WEBGPU_BACKEND: 'vulkan'}
    const auto = await createBackend('auto', env)
    if (auto.name === 'webgpu') {
      expect(auto.description).toMatch(/\(Vulkan, core.*\) — HYBRIDIZE_WEBGPU_BACKEND=vulkan$/)
    } else {
      expect(auto.description).toMatch(/^cpu: no WebGPU adapter \(Vulkan: .+\)$/)
      await expect(createBackend('webgpu', env)).rejects.toThrow(HybridizeError)
      await expect(createBackend('webgpu', env)).rejects.toThrow(/--device webgpu: no WebGPU adapter \(Vulkan: /)
    }
    auto.destroy()
  })

  it('rejects an unknown HYBRIDIZE_WEBGPU_BACKEND', async () => {
    await expect(createBackend('auto', {HYBRIDIZE_WEBGPU_BACKEND: 'metal'})).rejects.toThrow(/HYBRIDIZE_WEBGPU_BACKEND must be vulkan or opengles/)
  })
})
