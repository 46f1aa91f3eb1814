import {createHash} from 'node:crypto'
import {readFile} from 'node:fs/promises'
import {FormatError, HybridizeError} from '../errors.js'

/**
 * What `hybridize rewrite` needs of a heads.json written by `find-heads` (src/heads/heads-file.ts):
 * the model it was made for, the heads it selected, and an order of heads for --keep / --budget.
 * Fields it does not know are ignored, and each field is accepted under the few names and shapes
 * it may take:
 *   model:     "org/name" | {id | name | path, revision?, weights_sha256?, layers? | num_layers?, heads? | num_heads?}
 *   selected:  [[layer, head], ...] | [{layer, head}, ...]                  (or selected_heads)
 *   heads:     [{layer, head, rank?, drop | score, ...}, ...]  every scored head, ranked by `rank`
 *              when given, else by drop;  or scores: {"L-H": drop, ...}
 */
export type HeadId = [layer: number, head: number]

export interface HeadsFile {
  path: string
  sha256: string
  /** The model id or folder it names, and its revision when given. */
  model: {id: string; revision?: string; weightsSha256?: string; layers?: number; heads?: number}
  /** The heads find-heads selected, in the file's order. */
  selected: HeadId[]
  /**
   * The order --keep and --budget take heads in: the selected heads first, in the file's order (a
   * greedy selection's order, which single-ablation scores do not give), then every other scored
   * head, best first.
   */
  ranking: HeadId[]
}

type Json = Record<string, unknown>

const isObject = (v: unknown): v is Json => Boolean(v) && typeof v === 'object' && !Array.isArray(v)

function headId(v: unknown, where: string): HeadId {
  const pair = Array.isArray(v) ? v : isObject(v) ? [v.layer, v.head] : []
  if (pair.length !== 2 || !pair.every((x) => Number.isInteger(x))) throw new FormatError(`${where}: ${JSON.stringify(v)} is not a [layer, head] pair`)
  return [pair[0] as number, pair[1] as number]
}

function readModel(json: Json, path: string): HeadsFile['model'] {
  const m = json.model ?? json.model_id
  if (typeof m === 'string' && m) return {id: m}
  if (isObject(m)) {
    const id = m.id ?? m.name ?? m.path
    if (typeof id === 'string' && id) {
      const num = (v: unknown) => (Number.isInteger(v) ? (v as number) : undefined)
      return {
        id,
        revision: typeof m.revision === 'string' ? m.revision : undefined,
        weightsSha256: typeof m.weights_sha256 === 'string' ? m.weights_sha256 : undefined,
        layers: num(m.num_layers ?? m.layers),
        heads: num(m.num_heads ?? m.heads ?? m.heads_per_layer),
      }
    }
  }
  throw new HybridizeError(`${path} does not name the model it was made for ("model"), so it cannot be checked against the teacher`, {code: 'E_HEADS_MODEL'})
}

/** The score of a scored head: its retrieval drop (the ranking find-heads makes). */
function scoreOf(entry: Json): number | undefined {
  for (const key of ['drop', 'score', 'retrieval_drop', 'accuracy_drop']) if (typeof entry[key] === 'number') return entry[key] as number
  return undefined
}

/** Every scored head: the `heads` list, else the `scores` list or {"L-H": drop} map. */
function scoredHeads(json: Json, path: string): {id: HeadId; score: number; rank?: number}[] {
  const list = Array.isArray(json.heads) ? json.heads : Array.isArray(json.scores) ? json.scores : undefined
  if (list) {
    return list.flatMap((entry, i) => {
      const score = isObject(entry) ? scoreOf(entry) : undefined
      if (score === undefined) return []
      const rank = Number.isInteger((entry as Json).rank) ? ((entry as Json).rank as number) : undefined
      return [{id: headId(entry, `${path}: heads[${i}]`), score, rank}]
    })
  }
  if (!isObject(json.scores)) return []
  return Object.entries(json.scores).flatMap(([key, score]) => {
    const m = /^(\d+)-(\d+)$/.exec(key)
    return m && typeof score === 'number' ? [{id: [Number(m[1]), Number(m[2])] as HeadId, score}] : []
  })
}

export async function readHeadsFile(path: string): Promise<HeadsFile> {
  let bytes: Buffer
  try {
    bytes = await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new HybridizeError(`heads file ${path} does not exist`, {code: 'E_NO_HEADS'})
    throw err
  }
  let json: unknown
  try {
    json = JSON.parse(bytes.toString('utf8'))
  } catch {
    throw new FormatError(`${path} is not valid JSON`)
  }
  if (!isObject(json)) throw new FormatError(`${path} is not a JSON object`)
  const model = readModel(json, path)
  const selectedJson = json.selected ?? json.selected_heads ?? []
  if (!Array.isArray(selectedJson)) throw new FormatError(`${path}: "selected" must be a list of [layer, head] pairs`)
  const selected = selectedJson.map((v, i) => headId(v, `${path}: selected[${i}]`))
  const scored = scoredHeads(json, path)
  const byRank = scored.length > 0 && scored.every((s) => s.rank !== undefined)
  scored.sort((a, b) => (byRank ? a.rank! - b.rank! : b.score - a.score || a.id[0] - b.id[0] || a.id[1] - b.id[1]))
  const key = ([l, h]: HeadId) => `${l}-${h}`
  const chosen = new Set(selected.map(key))
  const ranking = [...selected, ...scored.map((s) => s.id).filter((id) => !chosen.has(key(id)))]
  if (ranking.length === 0) throw new FormatError(`${path} lists no selected or scored heads`)
  return {path, sha256: createHash('sha256').update(bytes).digest('hex'), model, selected, ranking}
}
