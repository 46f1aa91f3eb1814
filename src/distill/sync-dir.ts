import {access, rm} from 'node:fs/promises'
import {join} from 'node:path'
import {FormatError, HybridizeError} from '../errors.js'
import {SafetensorsFile} from '../io/safetensors/reader.js'
import {writeSafetensors} from '../io/safetensors/writer.js'

/**
 * The shared folder DiLoCo workers meet in (`--sync-dir`, on a filesystem every host mounts):
 *   round-<r>/worker-<i>.safetensors   worker i's parameter delta for round r, one F32 tensor per trained weight
 * A delta is written under a temporary name and renamed (io/atomic.ts), so a file under its real
 * name is complete, and a worker killed while writing leaves only a `.tmp-` file that its restart
 * writes over. Each file's metadata names the run (a hash of the settings the workers share), so
 * workers of two runs pointed at one folder fail with an error rather than averaging each other.
 */
const POLL_MIN_MS = 5
const POLL_MAX_MS = 1000

export const roundDir = (syncDir: string, round: number): string => join(syncDir, `round-${round}`)
const deltaFile = (syncDir: string, round: number, worker: number): string => join(roundDir(syncDir, round), `worker-${worker}.safetensors`)

export interface DeltaTensor {
  name: string
  shape: readonly number[]
  data: () => Promise<Float32Array>
}

export async function writeDelta(syncDir: string, round: number, worker: number, runId: string, tensors: DeltaTensor[]): Promise<void> {
  await writeSafetensors(deltaFile(syncDir, round, worker), tensors.map((t) => ({...t, dtype: 'F32' as const})), {run: runId, round: String(round), worker: String(worker)})
}

/**
 * Waits until every worker's delta for `round` is there, polling (5 ms at first, backing off to
 * 1 s: a worker that is minutes behind costs a stat a second), then opens them in worker order.
 * `waiting` is told once which workers it waits for. There is no timeout: a worker that died is
 * restarted by the scheduler and writes its delta when it gets there.
 */
export async function openDeltas(syncDir: string, round: number, workers: number, runId: string, waiting: (missing: number[]) => void): Promise<SafetensorsFile[]> {
  let delay = POLL_MIN_MS
  let told = false
  for (;;) {
    const present = await Promise.all(Array.from({length: workers}, (_, i) => access(deltaFile(syncDir, round, i)).then(() => true, () => false)))
    const missing = present.flatMap((p, i) => (p ? [] : [i]))
    if (missing.length === 0) break
    if (!told) waiting(missing)
    told = true
    await new Promise((resolve) => setTimeout(resolve, delay))
    delay = Math.min(POLL_MAX_MS, delay * 2)
  }
  const files: SafetensorsFile[] = []
  try {
    for (let i = 0; i < workers; i++) {
      const file = await SafetensorsFile.open(deltaFile(syncDir, round, i))
      files.push(file)
      if (file.metadata.run !== runId) {
        throw new HybridizeError(`${file.path} belongs to another run (other settings); give each run its own --sync-dir, and every worker the same settings`, {code: 'E_SYNC'})
      }
    }
  } catch (err) {
    for (const f of files) await f.close()
    throw err
  }
  return files
}

/** One tensor of a delta file, checked against the weight it is the delta of. */
export async function readDeltaTensor(file: SafetensorsFile, name: string, numel: number): Promise<Float32Array> {
  if (!file.has(name)) throw new FormatError(`${file.path}: no delta for ${name}`)
  const data = await file.readF32(name)
  if (data.length !== numel) throw new FormatError(`${file.path}: the delta of ${name} holds ${data.length} values, not ${numel}`)
  return data
}

/**
 * Once every delta of round r is in, no worker needs round r − 1 again: a worker writes its
 * delta for r only after it has saved the checkpoint that ends round r − 1, so a restarted worker
 * resumes in round r or later. Any worker may remove it; removing twice is harmless, and a removal
 * that fails (two workers at it at once on a network filesystem) is left to the next worker: it only
 * frees space.
 */
export async function pruneRound(syncDir: string, round: number): Promise<void> {
  if (round >= 0) await rm(roundDir(syncDir, round), {recursive: true, force: true}).catch(() => {})
}
