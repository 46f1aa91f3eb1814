import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {readHeadsFile} from '../../src/rewrite/heads-file.js'
import {parseBudget} from '../../src/heads/budget.js'
import {chooseHeads, layoutFor} from '../../src/rewrite/select-heads.js'
import {identifyTeacher, weightsSha256} from '../../src/hub/model-identity.js'
import {checkHeadsMatchTeacher} from '../../src/rewrite/heads-match.js'
import {fixtureReference} from '../helpers/paths.js'
import {writeHeadsJson} from './helpers.js'

const teacher = resolve(fixtureReference, 'llama-tiny')
const shape = {layers: 2, heads: 4}
let root: string

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'hybridize-heads-'))
})

afterAll(async () => {
  await rm(root, {recursive: true, force: true})
})

async function json(name: string, value: unknown): Promise<string> {
  const path = join(root, name)
  await writeFile(path, JSON.stringify(value))
  return path
}

describe('heads.json', () => {
  it('reads find-heads\' layout: ranking by rank, selection, counts; ignores unknown fields', async () => {
    const file = await readHeadsFile(await writeHeadsJson(root, teacher, 2, 4, [[1, 2], [0, 3]]))
    expect(file.selected).toEqual([[1, 2], [0, 3]])
    expect(file.ranking.slice(0, 2)).toEqual([[1, 2], [0, 3]])
    expect(file.ranking).toHaveLength(8)
    expect(file.model).toMatchObject({id: teacher, layers: 2, heads: 4})
    expect(file.sha256).toMatch(/^[0-9a-f]{64}$/)
  })

  it('also reads a bare model id, {layer, head} objects and a {"L-H": drop} score map', async () => {
    const path = await json('map.json', {model: 'org/name', selected: [{layer: 0, head: 1}], scores: {'0-1': 0.5, '1-3': 0.7, '1-0': 0.1}, extra: {anything: true}})
    const file = await readHeadsFile(path)
    expect(file.model).toEqual({id: 'org/name'})
    expect(file.selected).toEqual([[0, 1]])
    expect(file.ranking).toEqual([[0, 1], [1, 3], [1, 0]])
  })

  it('takes --keep and --budget heads in the selection\'s order first, as a greedy selection made it, then by drop', async () => {
    const greedy = {
      model: 'org/name',
      method: {selection: 'greedy'},
      selected: [[1, 3], [0, 2]],
      heads: [{layer: 0, head: 0, rank: 1, drop: 0.3}, {layer: 1, head: 3, rank: 2, drop: 0.2}, {layer: 0, head: 2, rank: 3, drop: 0}, {layer: 1, head: 1, rank: 4, drop: 0}],
    }
    const file = await readHeadsFile(await json('greedy.json', greedy))
    expect(chooseHeads(file, {kind: 'keep', count: 2}, shape)).toEqual([[1, 3], [0, 2]])
    expect(chooseHeads(file, {kind: 'keep', count: 3}, shape)).toEqual([[1, 3], [0, 2], [0, 0]])
  })

  it('refuses a file that names no model, and one that is not JSON', async () => {
    await expect(readHeadsFile(await json('anon.json', {selected: [[0, 0]]}))).rejects.toThrow(/does not name the model/)
    const bad = join(root, 'bad.json')
    await writeFile(bad, '{"model": ')
    await expect(readHeadsFile(bad)).rejects.toThrow(/not valid JSON/)
  })

  it('chooses the selection, the top --keep, or a --budget share; refuses heads out of range', async () => {
    const file = await readHeadsFile(await writeHeadsJson(root, teacher, 2, 4, [[1, 2], [0, 3]]))
    expect(chooseHeads(file, {kind: 'selected'}, shape)).toEqual([[1, 2], [0, 3]])
    expect(chooseHeads(file, {kind: 'keep', count: 3}, shape)).toHaveLength(3)
    expect(chooseHeads(file, {kind: 'budget', fraction: parseBudget('25%')}, shape)).toEqual([[1, 2], [0, 3]])
    expect(() => chooseHeads(file, {kind: 'keep', count: 9}, shape)).toThrow(/fewer than the 9/)
    expect(() => chooseHeads(file, {kind: 'selected'}, {layers: 2, heads: 3})).toThrow(/head \[0, 3\] is out of range/)
    expect(chooseHeads(file, {kind: 'budget', fraction: parseBudget('0.25')}, shape)).toEqual([[1, 2], [0, 3]])
    expect(chooseHeads(file, {kind: 'budget', fraction: 0}, shape)).toEqual([])
    expect(() => chooseHeads(file, {kind: 'budget', fraction: parseBudget('0.05')}, shape)).toThrow(/rounds to none/)
    expect(layoutFor([[1, 2], [0, 3], [1, 0]], 3)).toEqual([{attentionHeads: [3]}, {attentionHeads: [0, 2]}, {attentionHeads: []}])
  })

  it('matches the teacher by its weights\' digest when recorded, else by id', async () => {
    const identity = identifyTeacher(teacher)
    const digest = await weightsSha256(teacher)
    const moved = await readHeadsFile(await writeHeadsJson(root, '../somewhere/else', 2, 4, [[0, 0]], 'moved.json', {weightsSha256: digest}))
    await expect(checkHeadsMatchTeacher(moved, identity, shape)).resolves.toBeUndefined()
    const changed = await readHeadsFile(await writeHeadsJson(root, teacher, 2, 4, [[0, 0]], 'changed.json', {weightsSha256: '0'.repeat(64)}))
    await expect(checkHeadsMatchTeacher(changed, identity, shape)).rejects.toThrow(/weights differ/)
    const other = await readHeadsFile(await writeHeadsJson(root, resolve(fixtureReference, 'phi-tiny'), 2, 4, [[0, 0]], 'other.json'))
    await expect(checkHeadsMatchTeacher(other, identity, shape)).rejects.toThrow(/was made for model/)
    const hub = await readHeadsFile(await writeHeadsJson(root, 'meta-llama/Llama-3.2-1B', 2, 4, [[0, 0]], 'hub.json'))
    await expect(checkHeadsMatchTeacher(hub, identity, shape)).rejects.toThrow(/was made for model 'meta-llama\/Llama-3\.2-1B'/)
    const counts = await readHeadsFile(await writeHeadsJson(root, teacher, 3, 4, [[0, 0]], 'counts.json'))
    await expect(checkHeadsMatchTeacher(counts, identity, shape)).rejects.toThrow(/3 layers x 4 heads/)
    expect(identifyTeacher('/cache/models--org--name/snapshots/' + 'a'.repeat(40))).toMatchObject({id: 'org/name', revision: 'a'.repeat(40)})
  })
})
