import {Flags} from '@oclif/core'

/** `--device`, shared by every command that computes; pass its value to `createBackend`. */
export const deviceFlag = Flags.option({
  options: ['auto', 'webgpu', 'cpu'] as const,
  default: 'auto',
  description: 'Where to compute: webgpu (Dawn: Vulkan on a GPU, else OpenGL ES on Mesa llvmpipe), cpu, or auto (webgpu when an adapter exists, else cpu).',
  helpGroup: 'COMPUTE',
})()
