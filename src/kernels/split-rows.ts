import type {Kernel} from './kernel.js'
import {bindings, flatDispatch, flatShader, type UniformFields} from './wgsl.js'

/**
 * A tensor cut into consecutive parts along one axis, and parts joined back, each in one dispatch
 * (the layout ops' split and concat; the Mamba mixers split their projections). Every tensor is
 * viewed as [outer, rows, inner] with the axis in the middle:
 *   split_rows: x [outer, Σ sizes, inner] -> part j [outer, sizes[j], inner]
 *   join_rows:  part j [outer, sizes[j], inner] -> out [outer, Σ sizes, inner]; a part marked
 *               missing (a gradient that never came) reads as zeros and takes no binding.
 * At most MAX_PARTS parts, so one input and the parts stay within the 8 storage bindings a
 * shader stage may have (the layout ops copy part by part beyond it).
 */
export interface SplitRowsParams {
  outer: number
  inner: number
  sizes: readonly number[]
  /** join_rows: which parts are given (default all). */
  present?: readonly boolean[]
}

export const MAX_PARTS = 5

const total = (p: SplitRowsParams): number => p.sizes.reduce((a, b) => a + b, 0)

function fields(p: SplitRowsParams): UniformFields {
  const out: UniformFields = [['count', p.outer * total(p) * p.inner], ['inner', p.inner], ['total', total(p)]]
  let end = 0
  p.sizes.forEach((size, j) => out.push([`s${j}`, size], [`e${j}`, (end += size)]))
  return out
}

function checkParts(p: SplitRowsParams): void {
  if (p.sizes.length < 1 || p.sizes.length > MAX_PARTS) throw new Error(`split_rows: ${p.sizes.length} parts (1 to ${MAX_PARTS})`)
}

/** The part j an index along the axis falls in, and its row there: `visit(j, index in the whole, index in part j)` for every element. */
function eachElement(p: SplitRowsParams, visit: (j: number, whole: number, part: number) => void): void {
  const rows = total(p)
  for (let o = 0; o < p.outer; o++) {
    let start = 0
    p.sizes.forEach((size, j) => {
      for (let a = 0; a < size; a++) {
        for (let n = 0; n < p.inner; n++) visit(j, (o * rows + start + a) * p.inner + n, (o * size + a) * p.inner + n)
      }
      start += size
    })
  }
}

/** WGSL: the branch of each part, `act(j, index in part j)` the statement for part j. */
function branches(p: SplitRowsParams, act: (j: number, at: string) => string): string {
  const head = `  let n = i % u.inner;
  let a = (i / u.inner) % u.total;
  let o = i / (u.inner * u.total);`
  const cases = p.sizes.map((_, j) => {
    const start = j === 0 ? '0u' : `u.e${j - 1}`
    return `if (a < u.e${j}) { ${act(j, `(o * u.s${j} + a - ${start}) * u.inner + n`)} }`
  })
  return `${head}\n  ${cases.join(' else ')}`
}

export const splitRows: Kernel<SplitRowsParams> = {
  name: 'split_rows',
  cpu: (p, [x], parts) => {
    checkParts(p)
    eachElement(p, (j, whole, part) => (parts[j][part] = x[whole]))
  },
  gpu: {
    key: (p) => String(p.sizes.length),
    code: (p) => {
      checkParts(p)
      return flatShader(bindings(['x: array<f32>'], p.sizes.map((_, j) => `p${j}: array<f32>`), fields(p)), branches(p, (j, at) => `p${j}[${at}] = x[i];`))
    },
    dispatch: (p) => flatDispatch(p.outer * total(p) * p.inner, fields(p)),
  },
}

export const joinRows: Kernel<SplitRowsParams> = {
  name: 'join_rows',
  cpu: (p, parts, [out]) => {
    checkParts(p)
    const given = p.sizes.map((_, j) => p.present?.[j] ?? true)
    const inputs = given.map((g, j) => (g ? parts[given.slice(0, j).filter(Boolean).length] : undefined))
    eachElement(p, (j, whole, part) => (out[whole] = inputs[j] ? inputs[j][part] : 0))
  },
  gpu: {
    key: (p) => p.sizes.map((_, j) => (p.present?.[j] ?? true ? '1' : '0')).join(''),
    code: (p) => {
      checkParts(p)
      const given = p.sizes.map((_, j) => p.present?.[j] ?? true)
      const decls = given.flatMap((g, j) => (g ? [`p${j}: array<f32>`] : []))
      return flatShader(bindings(decls, ['y: array<f32>'], fields(p)), branches(p, (j, at) => (given[j] ? `y[i] = p${j}[${at}];` : 'y[i] = 0.0;')))
    },
    dispatch: (p) => flatDispatch(p.outer * total(p) * p.inner, fields(p)),
  },
}
