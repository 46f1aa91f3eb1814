import {copyFile, readdir, readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {openCheckpoint} from '../../src/io/safetensors/checkpoint.js'
import {writeCheckpoint} from '../../src/io/safetensors/writer.js'
import {Rng} from '../helpers/random.js'

/**
 * A student from `rewrite --mixer mamba2` keeping no heads, made to fit Mamba2ForCausalLM: MLPs
 * zeroed, the gated norm over all of y with the block norms' epsilon, and the mixer weights
 * perturbed (seeded) so that no conv tap or gate is an identity. Used by the export test and by
 * scripts/make-mamba2-export-check.ts.
 */
export async function exportableMamba2Student(rewritten: string, out: string, seed = 7): Promise<string> {
  const config = JSON.parse(await readFile(join(rewritten, 'config.json'), 'utf8'))
  config.mixer.norm_groups = 1
  config.mixer.norm_eps = config.teacher_config.rms_norm_eps
  const ckpt = await openCheckpoint(rewritten)
  const rng = new Rng(seed)
  const tensors = []
  for (const name of ckpt.names()) {
    const data = await ckpt.readF32(name)
    if (name.includes('.mlp.down_proj.')) data.fill(0)
    if (name.includes('.ssm.')) for (let i = 0; i < data.length; i++) data[i] += (rng.next() - 0.5) * 0.2
    tensors.push({name, dtype: 'F32' as const, shape: ckpt.shape(name), data})
  }
  await ckpt.close()
  await writeCheckpoint(out, tensors)
  await writeFile(join(out, 'config.json'), JSON.stringify(config, null, 2) + '\n')
  for (const f of await readdir(rewritten)) if (f.startsWith('tokenizer')) await copyFile(join(rewritten, f), join(out, f))
  return out
}
