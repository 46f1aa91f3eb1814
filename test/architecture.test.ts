import madge from 'madge'
import {describe, expect, it} from 'vitest'

/**
 * The import graph of src/ (ARCHITECTURE.md): no circles but the ones ARCHITECTURE.md defends, and
 * no import from a lower layer to a higher one. Layers, lowest first; a file imports its own layer
 * or lower ones, never src/'s siblings (bench/, dev/, scripts/, test/).
 */
const LAYERS = [
  ['errors.ts', 'util'],
  ['kernels'],
  ['backend'],
  ['engine'],
  ['io', 'hub', 'tokenizer', 'tasks', 'plot', 'train', 'data'],
  ['models'],
  ['generate', 'eval', 'heads', 'rewrite', 'distill', 'serve', 'fixtures', 'export'],
  ['api'],
  ['index.ts'],
  // `hybridize run` calls the library as the commands do (src/cli/steps/), never a command class.
  ['cli', 'recipe', 'schemas'],
  ['commands'],
]

/** Each one defended in ARCHITECTURE.md, "Import circles". */
const ALLOWED_CIRCLES = [
  ['engine/autograd.ts', 'engine/ops.ts'],
  ['hub/cache.ts', 'hub/download.ts'],
]

const layerOf = (file: string): number => LAYERS.findIndex((names) => names.includes(file.split('/')[0]))

async function graph(skipTypeImports: boolean): Promise<Awaited<ReturnType<typeof madge>>> {
  return madge('src', {fileExtensions: ['ts'], tsConfig: 'tsconfig.json', detectiveOptions: {ts: {skipTypeImports}}})
}

/** `from -> to` for every import into a higher layer or from or to outside the layers. */
function upwardImports(imports: Record<string, string[]>): string[] {
  return Object.entries(imports).flatMap(([file, targets]) =>
    targets.filter((target) => layerOf(file) < 0 || layerOf(target) < 0 || layerOf(target) > layerOf(file)).map((target) => `${file} -> ${target}`),
  )
}

describe('architecture', () => {
  it('has no import circles but the allowed ones', async () => {
    // Type-only imports are erased from the JavaScript and cannot make a circle at run time.
    // Sorted: madge lists circles in the order it walks the files, which any new import may change.
    const circles = (await graph(true)).circular().map((c) => [...c].sort()).sort()
    expect(circles).toEqual(ALLOWED_CIRCLES)
  })

  it('imports only downwards, and nothing outside src/ (type imports included)', async () => {
    expect(upwardImports((await graph(false)).obj())).toEqual([])
  })

  it('the layer check reports what it must', () => {
    const imports = {
      'kernels/matmul-f16.ts': ['kernels/kernel.ts', 'backend/webgpu.ts'],
      'models/decoding-model.ts': ['eval/language-model.ts'],
      'engine/ops.ts': ['kernels/matmul.ts', 'errors.ts'],
      'bench/main.ts': ['../bench/cases.ts'],
      'recipe/run-step.ts': ['api/distill.ts', 'cli/steps/distill.ts', 'commands/distill.ts'],
      'commands/run.ts': ['recipe/execute.ts', 'cli/base-command.ts'],
    }
    expect(upwardImports(imports)).toEqual([
      'kernels/matmul-f16.ts -> backend/webgpu.ts',
      'models/decoding-model.ts -> eval/language-model.ts',
      'bench/main.ts -> ../bench/cases.ts',
      'recipe/run-step.ts -> commands/distill.ts',
    ])
  })
})
