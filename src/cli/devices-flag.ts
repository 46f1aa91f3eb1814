import {Flags} from '@oclif/core'
import {countGpus} from '../backend/gpu-count.js'
import {HybridizeError} from '../errors.js'

/** `--devices N|all` of the commands that spread their work over the GPUs of a host; `what` says how. */
export const devicesFlag = (what: string) => Flags.string({description: `Use this many devices of this host, or 'all' (one per GPU): ${what}`, helpGroup: 'COMPUTE'})

/** --devices N or all (one per GPU of the host; 1 with --device cpu); undefined when not given. */
export function parseDevices(value: string | undefined, device: string): number | undefined {
  if (value === undefined) return undefined
  if (value === 'all') return device === 'cpu' ? 1 : countGpus()
  const n = Number(value)
  if (!(/^\d+$/.test(value.trim()) && n >= 1)) throw new HybridizeError(`--devices ${value}: expected a number of devices >= 1, or all`, {code: 'E_FLAG'})
  return n
}
