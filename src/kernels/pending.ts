import type {GpuProgram} from './kernel.js'

/** Placeholder for a kernel whose WGSL is not written yet: fails with the kernel's name. */
export function pendingGpu<P>(name: string): GpuProgram<P> {
  const fail = (): never => {
    throw new Error(`kernel ${name} has no WebGPU implementation yet; use --device cpu`)
  }
  return {key: fail, code: fail, dispatch: fail}
}
