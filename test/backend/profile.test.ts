import {existsSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it, vi} from 'vitest'
import type {Backend} from '../../src/backend/backend.js'
import {CpuBackend} from '../../src/backend/cpu.js'
import {createBackend} from '../../src/backend/device.js'
import {Profiler, profilerFromEnv, type ProfileReport} from '../../src/backend/profile.js'
import {DispatchTimestamps} from '../../src/backend/webgpu-timestamps.js'
import {HybridizeError} from '../../src/errors.js'
import {binary, unary} from '../../src/kernels/elementwise.js'
import {webgpuBackend} from '../helpers/backends.js'

const folder = mkdtempSync(join(tmpdir(), 'hz-profile-'))
const gpuAvailable = Boolean(await webgpuBackend())

afterEach(() => vi.restoreAllMocks())

/** Three neg, two add, one read and one sync on `backend`; then destroy it and return what it wrote on stderr. */
async function work(backend: Backend): Promise<string> {
  const n = 1000
  const x = backend.alloc(n, 'f32')
  const y = backend.alloc(n, 'f32')
  const z = backend.alloc(n, 'f32')
  backend.write(x, new Float32Array(n).fill(1))
  for (let i = 0; i < 3; i++) backend.run(unary, {op: 'neg', n}, [x], [y])
  for (let i = 0; i < 2; i++) backend.run(binary, {op: 'add', n, bn: n}, [x, y], [z])
  expect((await backend.read(z))[0]).toBe(0)
  await backend.sync()
  const written: string[] = []
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (written.push(String(chunk)), true))
  backend.destroy()
  return written.join('')
}

const readReport = (path: string): ProfileReport => JSON.parse(readFileSync(path, 'utf8')) as ProfileReport

describe('HYBRIDIZE_PROFILE', () => {
  it('on the CPU backend: counts every launch, times each kernel on the host, writes the JSON and a table sorted by time', async () => {
    const path = join(folder, 'cpu.json')
    const stderr = await work(await createBackend('cpu', {HYBRIDIZE_PROFILE: path}))
    const r = readReport(path)
    expect(r.timing).toBe('cpu')
    expect(r.dispatches).toBe(5)
    expect(r.untimed_dispatches).toBe(0)
    expect(Object.fromEntries(r.kernels.map((k) => [k.name, k.calls]))).toEqual({unary: 3, binary: 2})
    expect(r.reads.count).toBe(1)
    expect(r.syncs.count).toBe(1)
    expect(r.writes).toEqual({count: 1, bytes: 4000})
    for (const k of r.kernels) expect(k.total_ms).toBeGreaterThan(0)
    expect(r.kernels[0].total_ms).toBeGreaterThanOrEqual(r.kernels[1].total_ms!)
    expect(r.kernels.reduce((s, k) => s + k.share!, 0)).toBeCloseTo(1, 6)
    expect(r.kernels.find((k) => k.name === 'unary')!.variants).toEqual([{params: '{"op":"neg","n":1000}', calls: 3, total_ms: expect.any(Number)}])
    const lines = stderr.split('\n')
    expect(lines[1]).toMatch(/^kernel\s+calls\s+total ms\s+mean us\s+%$/)
    expect(lines[2].split(/\s+/)[0]).toBe(r.kernels[0].name)
    expect(stderr).toContain('dispatches 5 in 0 submits')
    expect(stderr).toContain(`profile: written to ${path}`)
  })

  it.skipIf(!gpuAvailable)('on WebGPU: counts dispatches, submits, reads and pipelines, and says when the adapter cannot time kernels', async () => {
    const path = join(folder, 'webgpu.json')
    const backend = await createBackend('webgpu', {...process.env, HYBRIDIZE_PROFILE: path})
    const stderr = await work(backend)
    const r = readReport(path)
    expect(r.dispatches).toBe(5)
    // The write flushes nothing (no dispatch yet); the read submits the five dispatches, then nothing is left for the sync.
    expect(r.submits).toBe(1)
    expect(r.reads.count).toBe(1)
    expect(r.syncs.count).toBe(1)
    expect(r.pipelines.compiled).toBe(2)
    expect(r.host_between_submits_ms.total).toBeGreaterThan(0)
    if (r.timing === 'gpu-timestamps') {
      expect(r.untimed_dispatches).toBe(0)
      expect(r.kernel_ms).toBeGreaterThan(0)
    } else {
      // llvmpipe's OpenGL ES adapter has no timestamp-query: counts only, and the table says why.
      expect(r.timing_note).toBe('this adapter has no timestamp-query')
      expect(r.kernel_ms).toBeNull()
      expect(r.kernels.map((k) => [k.name, k.calls, k.total_ms])).toEqual([['unary', 3, null], ['binary', 2, null]])
      expect(stderr).toContain('no kernel times (this adapter has no timestamp-query)')
    }
  })

  it('is off when unset or empty, and refuses a folder that does not exist or a file it did not write', () => {
    expect(profilerFromEnv({})).toBeUndefined()
    expect(profilerFromEnv({HYBRIDIZE_PROFILE: ''})).toBeUndefined()
    const missing = () => profilerFromEnv({HYBRIDIZE_PROFILE: join(folder, 'no-such-folder', 'p.json')})
    expect(missing).toThrow(HybridizeError)
    expect(missing).toThrow(/^HYBRIDIZE_PROFILE=.*no-such-folder.*: no folder .* to write it in$/)
    const foreign = join(folder, 'notes.json')
    writeFileSync(foreign, '{"mine": true}\n')
    expect(() => profilerFromEnv({HYBRIDIZE_PROFILE: foreign})).toThrow(/a file that is not a hybridize profile is there/)
    expect(readFileSync(foreign, 'utf8')).toBe('{"mine": true}\n')
    try {
      profilerFromEnv({HYBRIDIZE_PROFILE: foreign})
    } catch (err) {
      expect((err as HybridizeError).exitCode).toBe(2)
    }
  })

  it('writes what it has so far at a read once the last snapshot is old, so a command killed before its end leaves a profile', async () => {
    const path = join(folder, 'snapshot.json')
    const backend = new CpuBackend({profiler: new Profiler(path, 0)})
    const x = backend.alloc(4, 'f32')
    backend.run(unary, {op: 'neg', n: 4}, [x], [x])
    expect(existsSync(path)).toBe(false)
    await backend.read(x)
    expect(readReport(path).dispatches).toBe(1)
    backend.run(unary, {op: 'neg', n: 4}, [x], [x])
    await backend.sync()
    expect(readReport(path).dispatches).toBe(2)
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
    backend.destroy()
  })

  it('replaces a profile it wrote before', async () => {
    const path = join(folder, 'again.json')
    await work(await createBackend('cpu', {HYBRIDIZE_PROFILE: path}))
    await work(await createBackend('cpu', {HYBRIDIZE_PROFILE: path}))
    expect(readReport(path).dispatches).toBe(5)
  })
})

describe('DispatchTimestamps', () => {
  /** A device whose every mapped buffer holds `stamps`, and an encoder that only logs what it is asked. */
  function fakeDevice(stamps: bigint[]): {device: GPUDevice; encoder: GPUCommandEncoder; log: string[]} {
    const log: string[] = []
    const buffer = (d: GPUBufferDescriptor): GPUBuffer => ({
      size: d.size,
      mapAsync: async () => void log.push(`map ${d.label}`),
      getMappedRange: (_offset: number, bytes: number) => new BigUint64Array(stamps).buffer.slice(0, bytes),
      unmap: () => {},
    }) as unknown as GPUBuffer
    const device = {createQuerySet: () => ({}), createBuffer: buffer} as unknown as GPUDevice
    const encoder = {
      resolveQuerySet: (_q: unknown, first: number, count: number) => void log.push(`resolve ${first}+${count}`),
      copyBufferToBuffer: (_a: unknown, _ao: number, _b: unknown, _bo: number, bytes: number) => void log.push(`copy ${bytes}`),
    } as unknown as GPUCommandEncoder
    return {device, encoder, log}
  }

  it('gives each dispatch the pair of timestamps around its pass, after the submit, and leaves a pair out of order untimed', async () => {
    const profiler = new Profiler(join(folder, 'unused.json'))
    const {device, encoder, log} = fakeDevice([100n, 1100n, 2000n, 2500n, 9000n, 8000n])
    const stamps = new DispatchTimestamps(device, profiler, 128)
    const writes = ['a', 'b', 'a'].map((name) => stamps.passFor(profiler.dispatch(name, {n: 1})))
    expect(writes.map((w) => [w.beginningOfPassWriteIndex, w.endOfPassWriteIndex])).toEqual([[0, 1], [2, 3], [4, 5]])
    stamps.resolve(encoder)
    expect(log).toEqual(['resolve 0+6', 'copy 48'])
    stamps.submitted()
    await stamps.collect()
    expect(log.at(-1)).toBe('map timestamps 48')
    const r = profiler.report()
    expect(r.kernels.map((k) => [k.name, k.calls, k.timed_calls, k.total_ms])).toEqual([['a', 2, 1, 0.001], ['b', 1, 1, 0.0005]])
    expect(r.untimed_dispatches).toBe(1)
    // Nothing dispatched since: the next submit resolves nothing.
    stamps.resolve(encoder)
    expect(log.length).toBe(3)
  })
})
