import type {Backend} from '../src/backend/backend.js'
import {halfProduct} from '../src/engine/ops.js'
import {empty, type Tensor} from '../src/engine/tensor.js'
import {packedWords} from '../src/kernels/f16.js'
import {matmulF16, pickF16Version, tensorCoreSupport} from '../src/kernels/matmul-f16.js'
import {packF16Exact} from '../src/kernels/round-f16.js'
import {instance, random} from './cases.js'
import type {BenchCase} from './runner.js'

/**
 * The mixed-precision products of a real stage-3 distillation step whose shapes do not fill the
 * tensor-core tiles (issue 20; experiments/real-size/2026-12-07-h100-profile): A [m, k] times the
 * weight B (Bᵀ [n, k] when `transB`). Each shape twice: `as given`, the bare matmul_f16 kernel at
 * the shape itself (what ran before: the CUDA-core path wherever a tile is partial), and the product
 * as mixed precision runs it now (ops.ts#halfProduct: A packed padded to whole tiles, the staged
 * tensor-core kernel, the result cropped; the weight's padded copy made once, outside the timing,
 * as the half-weight cache does). bench/peer_torch.py times the bf16 matmul of the same shapes.
 */
interface Shape {
  label: string
  m: number
  n: number
  k: number
  transB: boolean
}

const SHAPES: Record<'large' | 'small', Shape[]> = {
  large: [
    {label: 'in_proj', m: 8192, n: 8224, k: 2048, transB: true},
    {label: 'lm head', m: 1046, n: 128256, k: 2048, transB: true},
    {label: 'lm head dx', m: 1046, n: 2048, k: 128256, transB: false},
  ],
  // Partial tiles in every dimension, K not a multiple of the K slice.
  small: [
    {label: 'in_proj', m: 192, n: 160, k: 72, transB: true},
    {label: 'lm head', m: 22, n: 256, k: 64, transB: true},
    {label: 'lm head dx', m: 22, n: 64, k: 300, transB: false},
  ],
}

const shapeName = ({m, n, k, transB}: Shape): string => `${m}x${n}x${k}${transB ? ' Bᵀ' : ''}`
const flops = ({m, n, k}: Shape): number => 2 * m * n * k
const bytes = ({m, n, k}: Shape): number => 2 * (m * k + k * n) + 4 * m * n

function operands(backend: Backend, s: Shape): [Tensor, Tensor] {
  return [random(backend, [s.m, s.k], 61), random(backend, s.transB ? [s.n, s.k] : [s.k, s.n], 62)]
}

/** The bare kernel at the shape as given, on operands packed once (its version named: 1 is the CUDA-core path). */
const asGiven = (index: number): BenchCase => ({
  name: `matmul f16 as given ${SHAPES.large[index].label}`,
  make(backend, size) {
    const s = SHAPES[size][index]
    const tensorCores = tensorCoreSupport(backend)
    const halves = operands(backend, s).map((t) => {
      const [rows, cols] = t.shape
      const packed = empty(backend, [packedWords(t.numel)], 'i32')
      backend.run(packF16Exact, {rows, cols, paddedRows: rows, paddedCols: cols}, [t.storage], [packed.storage])
      t.dispose()
      return packed
    })
    const params = {m: s.m, n: s.n, k: s.k, transB: s.transB, tensorCores}
    const run = (): void => backend.run(matmulF16, params, halves.map((h) => h.storage), [empty(backend, [s.m, s.n]).storage])
    return instance(`${shapeName(s)} [v${pickF16Version(params)}]`, halves, run, flops(s), bytes(s))
  },
})

/** The product as mixed precision runs it (ops.ts#halfProduct), A packed every run, the weight's copy cached. */
const padded = (index: number): BenchCase => ({
  name: `matmul f16 ${SHAPES.large[index].label}`,
  make(backend, size) {
    const s = SHAPES[size][index]
    const [a, b] = operands(backend, s)
    const run = (): void => void halfProduct(a, b, false, s.transB, true)
    return instance(shapeName(s), [a, b], run, flops(s), bytes(s))
  },
})

/** `--filter 'matmul f16 (as given )?(in_proj|lm head)'` selects these. */
export const MATMUL_SHAPE_CASES: BenchCase[] = SHAPES.large.flatMap((_, i) => [asGiven(i), padded(i)])
