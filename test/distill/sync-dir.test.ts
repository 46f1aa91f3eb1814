import {mkdtemp, readdir, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {openDeltas, pruneRound, readDeltaTensor, roundDir, writeDelta} from '../../src/distill/sync-dir.js'

const delta = (values: number[]) => [{name: 'w', shape: [values.length], data: async () => Float32Array.from(values)}]

describe('the DiLoCo sync folder', () => {
  it('waits for every worker of a round, ignoring a half-written file, then opens them in worker order', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hybridize-sync-'))
    await writeDelta(dir, 0, 1, 'run-a', delta([2, 3]))
    // A worker killed while writing leaves only its temporary file.
    await writeFile(join(roundDir(dir, 0), 'worker-0.safetensors.tmp-1-0'), 'partial')
    const waitedFor: number[][] = []
    const opening = openDeltas(dir, 0, 2, 'run-a', (missing) => waitedFor.push(missing))
    await new Promise((r) => setTimeout(r, 30))
    await writeDelta(dir, 0, 0, 'run-a', delta([1, 1]))
    const files = await opening
    expect(waitedFor).toEqual([[0]])
    expect(await Promise.all(files.map(async (f) => [...(await readDeltaTensor(f, 'w', 2))]))).toEqual([[1, 1], [2, 3]])
    for (const f of files) await f.close()
  })

  it("refuses another run's deltas, and removes a round that no worker needs", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hybridize-sync-'))
    await writeDelta(dir, 3, 0, 'run-b', delta([1]))
    await expect(openDeltas(dir, 3, 1, 'run-a', () => {})).rejects.toThrow(/worker-0\.safetensors belongs to another run \(other settings\); give each run its own --sync-dir/)
    await writeDelta(dir, 4, 0, 'run-b', delta([1]))
    await pruneRound(dir, 3)
    await pruneRound(dir, 3)
    expect(await readdir(dir)).toEqual(['round-4'])
  })
})
