import type {Backend} from '../src/backend/backend.js'
import {CpuBackend} from '../src/backend/cpu.js'
import type {HostArray, Kernel} from '../src/kernels/kernel.js'
import {checkAttentionVersions} from '../dev/kernels/attention-backward.js'
import type {Checker} from '../dev/kernels/checks.js'
import {checkMatmulF16Versions} from '../dev/kernels/matmul-f16.js'
import {checkMatmulVersions} from '../dev/kernels/matmul.js'
import {checkSsdVersions} from '../dev/kernels/ssd-mix.js'

/**
 * `--check`: before timing, every fast kernel version runs once on the benchmark's device at small
 * shapes against its CPU twin (the tests do the same on llvmpipe; this is where the real GPU, its
 * tile sizes and its tensor cores meet the reference). Reported as ‖gpu − cpu‖ / ‖cpu‖, outputs
 * poisoned with NaN first so an unwritten element fails. The checks live with the versions, one
 * file per kernel in dev/kernels/.
 */
export interface CheckResult {
  name: string
  relError: number
  ok: boolean
  /** The device's error, when the kernel did not run (a tile over its workgroup-memory limit). */
  error?: string
}

async function run<P>(backend: Backend, kernel: Kernel<P>, params: P, inputs: HostArray[], sizes: number[]): Promise<HostArray[]> {
  const ins = inputs.map((data) => {
    const s = backend.alloc(data.length, data instanceof Int32Array ? 'i32' : 'f32')
    backend.write(s, data)
    return s
  })
  const outs = sizes.map((n) => {
    const s = backend.alloc(n, 'f32')
    backend.write(s, new Float32Array(n).fill(NaN))
    return s
  })
  backend.run(kernel, params, ins, outs)
  const results = await Promise.all(outs.map((s) => backend.read(s)))
  for (const s of [...ins, ...outs]) backend.free(s)
  return results
}

function relativeError(got: HostArray, want: HostArray): number {
  let num = 0
  let den = 0
  for (let i = 0; i < want.length; i++) {
    num += (got[i] - want[i]) ** 2
    den += want[i] ** 2
  }
  return Math.sqrt(num / Math.max(den, 1e-30))
}

export async function runChecks(backend: Backend): Promise<CheckResult[]> {
  const cpu = new CpuBackend({description: 'cpu (checks)'})
  const results: CheckResult[] = []
  const checker: Checker = {
    device: backend,
    async check<P>(name: string, kernel: Kernel<P>, params: P, inputs: HostArray[], sizes: number[], tol: number): Promise<void> {
      const want = await run(cpu, kernel, params, inputs, sizes)
      try {
        const got = await run(backend, kernel, params, inputs, sizes)
        const relError = Math.max(...want.map((w, i) => relativeError(got[i], w)))
        results.push({name, relError, ok: relError <= tol})
      } catch (err) {
        results.push({name, relError: NaN, ok: false, error: (err instanceof Error ? err.message : String(err)).split('\n')[0]})
      }
    },
    reference: (kernel, params, inputs, sizes) => run(cpu, kernel, params, inputs, sizes),
  }
  for (const checks of [checkMatmulVersions, checkAttentionVersions, checkSsdVersions, checkMatmulF16Versions]) await checks(checker)
  return results
}

export function formatChecks(results: CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length))
  return results.map((r) => `${r.ok ? 'ok  ' : 'FAIL'}  ${r.name.padEnd(width)}  ${r.error ?? `rel err ${r.relError.toExponential(2)}`}`).join('\n')
}
