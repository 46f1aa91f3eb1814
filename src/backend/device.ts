import {existsSync, readdirSync} from 'node:fs'
import {create} from 'webgpu'
import type {Backend} from './backend.js'
import {CpuBackend} from './cpu.js'
import type {AdapterSubgroups, SubgroupMatrixConfig} from '../kernels/device-features.js'
import {WebGpuBackend} from './webgpu.js'
import {profilerFromEnv, type Profiler} from './profile.js'
import {HybridizeError} from '../errors.js'

/**
 * Picking the device: `--device auto|webgpu|cpu`. On Linux, Dawn is asked for a Vulkan adapter
 * first (a real GPU) and then for its OpenGL ES backend, which Mesa's llvmpipe provides on
 * machines without a GPU (CI): slow, but it runs the same WGSL.
 * `auto` passes over a software adapter (llvmpipe) for the CPU backend, which is faster there;
 * `--device webgpu` takes it. HYBRIDIZE_WEBGPU_BACKEND=vulkan|opengles forces one Dawn backend.
 *
 * `auto` does not even probe OpenGL ES where the machine has no GPU device node: the adapter could
 * only be llvmpipe, which it would pass over, and creating it makes Dawn print its own warnings on
 * stderr ("maxDynamicUniformBuffersPerPipelineLayout artificially reduced...": llvmpipe's GL limits
 * exceed Dawn's), which neither --quiet nor --json could silence.
 */
export type DeviceChoice = 'auto' | 'webgpu' | 'cpu'

type DawnBackend = 'vulkan' | 'opengles' | 'default'

const DAWN_BACKENDS: Record<DawnBackend, {label: string; flags: string[]; featureLevel: 'core' | 'compatibility'}> = {
  // f16 on NVIDIA is behind a Dawn toggle; allow_unsafe_apis exposes subgroup matrices.
  // Unquantized timestamps: the benchmarks time kernels with them.
  vulkan: {label: 'Vulkan', flags: ['backend=vulkan', 'enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia', 'disable-dawn-features=timestamp_quantization'], featureLevel: 'core'},
  opengles: {label: 'OpenGL ES', flags: ['backend=opengles'], featureLevel: 'compatibility'},
  default: {label: 'native', flags: [], featureLevel: 'core'},
}

/**
 * Optional features requested when the adapter has them; kernels check `backend.features`.
 * Subgroup matrices (tensor cores through Vulkan cooperative matrices) need subgroups and, for
 * f16 operands, shader-f16; Dawn offers them behind allow_unsafe_apis.
 */
const SUBGROUP_MATRIX = 'chromium-experimental-subgroup-matrix' as GPUFeatureName
const WANTED_FEATURES: GPUFeatureName[] = ['shader-f16', 'subgroups', 'timestamp-query', SUBGROUP_MATRIX]

const LIBVULKAN_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib', '/lib/x86_64-linux-gnu']

interface Found {
  /** Dawn's instance: must outlive the device, or collecting it tears Dawn down under us. */
  gpu: GPU
  adapter: GPUAdapter
  backend: DawnBackend
  /** Why earlier backends were passed over. */
  skipped: string[]
}

/** HYBRIDIZE_PROFILE=<file.json> gives the backend a profiler (profile.ts), written when it is destroyed. */
export async function createBackend(choice: DeviceChoice = 'auto', env: NodeJS.ProcessEnv = process.env): Promise<Backend> {
  const profiler = profilerFromEnv(env)
  const cpu = (description: string): CpuBackend => new CpuBackend({description, profiler})
  if (choice === 'cpu') return cpu('cpu: --device cpu')
  const found = await findAdapter(env, choice)
  if ('reason' in found) {
    if (choice === 'webgpu') throw new HybridizeError(`--device webgpu: no WebGPU adapter (${found.reason}); use --device cpu`)
    return cpu(`cpu: no WebGPU adapter (${found.reason})`)
  }
  const software = softwareAdapterName(found.adapter)
  if (choice === 'auto' && software) {
    // llvmpipe runs WGSL on the CPU through a rasterizer: slower than the CPU backend's own kernels.
    return cpu(`cpu: the only WebGPU adapter is ${software}, a software rasterizer slower than the CPU backend (--device webgpu uses it anyway)`)
  }
  try {
    return await openDevice(found, env, profiler)
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err)
    if (choice === 'webgpu') throw new HybridizeError(`--device webgpu: could not open the WebGPU device (${reason})`, {cause: err})
    return cpu(`cpu: the WebGPU device did not open (${reason})`)
  }
}

/** The adapter's name when it is a CPU rasterizer (Mesa llvmpipe, lavapipe, SwiftShader), else undefined. */
function softwareAdapterName(adapter: GPUAdapter): string | undefined {
  const info = adapter.info
  const name = info.device || info.description || info.vendor || ''
  return /llvmpipe|lavapipe|swiftshader|softpipe/i.test(`${name} ${info.architecture ?? ''}`) ? name : undefined
}

function backendOrder(env: NodeJS.ProcessEnv): DawnBackend[] {
  const forced = env.HYBRIDIZE_WEBGPU_BACKEND
  if (forced) {
    if (forced !== 'vulkan' && forced !== 'opengles') throw new HybridizeError(`HYBRIDIZE_WEBGPU_BACKEND must be vulkan or opengles, not '${forced}'`)
    return [forced]
  }
  return process.platform === 'linux' ? ['vulkan', 'opengles'] : ['default']
}

async function findAdapter(env: NodeJS.ProcessEnv, choice: DeviceChoice): Promise<Found | {reason: string}> {
  const skipped: string[] = []
  const forced = Boolean(env.HYBRIDIZE_WEBGPU_BACKEND)
  for (const backend of backendOrder(env)) {
    const {label, flags, featureLevel} = DAWN_BACKENDS[backend]
    // Without the loader Dawn only prints a warning; skip the probe so stderr stays clean.
    if (backend === 'vulkan' && !forced && !hasLibVulkan(env)) {
      skipped.push(`${label}: libvulkan.so.1 not found`)
      continue
    }
    if (backend === 'opengles' && choice === 'auto' && !forced && !hasGpuDeviceNode()) {
      skipped.push(`${label}: no GPU device (${GPU_DEVICE_NODES}), so only a software rasterizer, slower than the CPU backend`)
      continue
    }
    // Dawn's GL backend goes through EGL, which needs no display when told so (read by Mesa, so process-wide).
    if (backend === 'opengles') process.env.EGL_PLATFORM ??= 'surfaceless'
    try {
      const gpu = create(withToggles(flags, env.HYBRIDIZE_DAWN_TOGGLES))
      const adapter = await gpu.requestAdapter({featureLevel})
      if (adapter) return {gpu, adapter, backend, skipped}
      skipped.push(`${label}: no adapter`)
    } catch (err) {
      skipped.push(`${label}: ${err instanceof Error ? err.message : String(err)}`)
    }
  }
  return {reason: skipped.join('; ')}
}

/** HYBRIDIZE_DAWN_TOGGLES=a,b adds Dawn toggles (experiments such as disable_robustness in benchmarks). */
function withToggles(flags: string[], extra: string | undefined): string[] {
  if (!extra) return flags
  const enable = flags.find((f) => f.startsWith('enable-dawn-features='))
  const rest = flags.filter((f) => f !== enable)
  return [...rest, `${enable ?? 'enable-dawn-features='}${enable ? ',' : ''}${extra}`]
}

const GPU_DEVICE_NODES = '/dev/dri/renderD*, /dev/nvidia*, /dev/dxg'

/** Whether a GPU driver could be reached: Mesa's hardware drivers, NVIDIA's, or WSL's need one of these. */
function hasGpuDeviceNode(): boolean {
  const render = (() => {
    try {
      return readdirSync('/dev/dri').some((n) => n.startsWith('renderD'))
    } catch {
      return false
    }
  })()
  return render || existsSync('/dev/nvidia0') || existsSync('/dev/dxg')
}

function hasLibVulkan(env: NodeJS.ProcessEnv): boolean {
  const dirs = [...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...LIBVULKAN_DIRS]
  return dirs.some((d) => existsSync(`${d}/libvulkan.so.1`))
}

async function openDevice({gpu, adapter, backend, skipped}: Found, env: NodeJS.ProcessEnv, profiler: Profiler | undefined): Promise<WebGpuBackend> {
  const a = adapter.limits
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f))
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      // 256-thread workgroups (compatibility mode defaults to 128), workgroup memory for attention
      // scores, up to 8 storage bindings (attention: 4 in, 2 out), and buffers as large as allowed.
      maxComputeInvocationsPerWorkgroup: Math.min(256, a.maxComputeInvocationsPerWorkgroup),
      maxComputeWorkgroupSizeX: Math.min(256, a.maxComputeWorkgroupSizeX),
      maxComputeWorkgroupStorageSize: a.maxComputeWorkgroupStorageSize,
      maxStorageBuffersPerShaderStage: Math.min(8, a.maxStorageBuffersPerShaderStage),
      maxStorageBufferBindingSize: a.maxStorageBufferBindingSize,
      maxBufferSize: a.maxBufferSize,
    },
  })
  const granted = [...device.features].filter((f) => (WANTED_FEATURES as string[]).includes(f)).sort()
  const {label, featureLevel} = DAWN_BACKENDS[backend]
  const info = adapter.info
  const name = info.device || info.description || info.vendor || 'unknown adapter'
  const why = env.HYBRIDIZE_WEBGPU_BACKEND ? `HYBRIDIZE_WEBGPU_BACKEND=${backend}` : skipped.length ? `no GPU adapter with ${skipped.join('; ')}` : `${label} adapter`
  const features = granted.length ? `; ${granted.join(', ')}` : ''
  return new WebGpuBackend(gpu, device, `webgpu: ${name} (${label}, ${featureLevel}${features}) — ${why}`, granted, adapterSubgroups(info, granted), profiler)
}

/** Subgroup sizes and, when granted, the subgroup-matrix shapes (Dawn extends GPUAdapterInfo with both). */
function adapterSubgroups(info: GPUAdapterInfo, granted: string[]): AdapterSubgroups {
  const extended = info as GPUAdapterInfo & {subgroupMinSize?: number; subgroupMaxSize?: number; subgroupMatrixConfigs?: readonly SubgroupMatrixConfig[]}
  const configs = granted.includes(SUBGROUP_MATRIX) ? (extended.subgroupMatrixConfigs ?? []) : []
  return {
    minSize: extended.subgroupMinSize ?? 0,
    maxSize: extended.subgroupMaxSize ?? 0,
    matrixConfigs: configs.map(({componentType, resultComponentType, M, N, K}) => ({componentType, resultComponentType, M, N, K})),
  }
}
