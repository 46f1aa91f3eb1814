import {readdirSync} from 'node:fs'

/**
 * How many GPUs this host has, for `--devices all`: WebGPU cannot list adapters (it offers one),
 * so the driver's device nodes are counted, NVIDIA's /dev/nvidia<N> first, else the DRM render
 * nodes /dev/dri/renderD*; 1 when there are none (the one device --device picks).
 */
export function countGpus(dev = '/dev'): number {
  const list = (dir: string): string[] => {
    try {
      return readdirSync(dir)
    } catch {
      return []
    }
  }
  const nvidia = list(dev).filter((n) => /^nvidia\d+$/.test(n)).length
  if (nvidia > 0) return nvidia
  return Math.max(1, list(`${dev}/dri`).filter((n) => n.startsWith('renderD')).length)
}
