/**
 * What a WebGPU device offers beyond the baseline, as kernels see it to pick a variant
 * (matmul-f16.ts's tensor cores). The WebGPU backend fills it in (backend/device.ts); kernels read
 * it without knowing the backend.
 */

/** A subgroup-matrix shape the adapter supports (Dawn's GPUSubgroupMatrixConfig). */
export interface SubgroupMatrixConfig {
  componentType: string
  resultComponentType: string
  M: number
  N: number
  K: number
}

/** The adapter's subgroup sizes and subgroup-matrix shapes (empty without those features). */
export interface AdapterSubgroups {
  minSize: number
  maxSize: number
  matrixConfigs: readonly SubgroupMatrixConfig[]
}

export interface DeviceFeatures {
  /** The optional WebGPU features granted (shader-f16, subgroups, chromium-experimental-subgroup-matrix...). */
  readonly features: readonly string[]
  readonly subgroups: AdapterSubgroups
}
