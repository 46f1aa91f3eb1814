import {Flags} from '@oclif/core'
import {HybridizeError} from '../errors.js'

const DEVICES = ['auto', 'webgpu', 'cpu'] as const

/** The environment variable that sets --device's default, for every command that computes. */
export const DEVICE_VARIABLE = 'HYBRIDIZE_DEVICE'

/** `--device`, shared by every command that computes; pass its value to `createBackend`. */
export const deviceFlag = Flags.option({
  options: DEVICES,
  default: 'auto',
  env: DEVICE_VARIABLE,
  description: `Where to compute: webgpu (Dawn: Vulkan on a GPU, else OpenGL ES on Mesa llvmpipe), cpu, or auto (webgpu when an adapter exists, else cpu). ${DEVICE_VARIABLE} sets the default.`,
  helpGroup: 'COMPUTE',
})()

/** --device's value where it is not given: HYBRIDIZE_DEVICE (checked by checkDeviceVariable), else auto. */
export function defaultDevice(): (typeof DEVICES)[number] {
  return (process.env[DEVICE_VARIABLE] || 'auto') as (typeof DEVICES)[number]
}

/**
 * Refuses a HYBRIDIZE_DEVICE that is not a device, as a usage error naming the variable: oclif
 * reads the variable itself (the flag's `env`), but its message names only --device, which the
 * user did not type. Not checked when --device is given: the variable is then unused.
 */
export function checkDeviceVariable(argv: readonly string[]): void {
  const value = process.env[DEVICE_VARIABLE]
  if (!value || argv.some((arg) => arg === '--device' || arg.startsWith('--device='))) return
  if (!(DEVICES as readonly string[]).includes(value)) {
    throw new HybridizeError(`${DEVICE_VARIABLE}=${value} is not a device: expected one of ${DEVICES.join(', ')} (it sets the default of --device)`, {code: 'E_USAGE'})
  }
}
