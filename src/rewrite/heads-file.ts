import {createHash} from 'node:crypto'
import {readFile} from 'node:fs/promises'
import {FormatError, HybridizeError} from '../errors.js'
import {headsFileSchema, type HeadsFileJson} from '../heads/heads-schema.js'

/**
 * What `hybridize rewrite` needs of a heads.json written by `find-heads` (src/heads/heads-file.ts):
 * the model it was made for, the heads it selected, and an order of heads for --keep / --budget.
 * Fields it does not know are ignored, and each field is accepted under the few names and shapes
 * it may take (their one definition: headsFileSchema, src/heads/heads-schema.ts):
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

type ScoredHead = NonNullable<HeadsFileJson['heads']>[number]
type HeadJson = NonNullable<HeadsFileJson['selected']>[number]

const headId = (v: HeadJson): HeadId => (Array.isArray(v) ? [v[0], v[1]] : [v.layer, v.head])

function readModel(json: HeadsFileJson, path: string): HeadsFile['model'] {
  const m = json.model ?? json.model_id
  if (typeof m === 'string') return {id: m}
  if (m) {
    return {
      id: (m.id ?? m.name ?? m.path)!,
      revision: m.revision ?? undefined,
      weightsSha256: m.weights_sha256,
      layers: m.num_layers ?? m.layers,
      heads: m.num_heads ?? m.heads ?? m.heads_per_layer,
    }
  }
  throw noModel(path)
}

const noModel = (path: string) => new HybridizeError(`${path} does not name the model it was made for ("model"), so it cannot be checked against the teacher`, {code: 'E_HEADS_MODEL'})

/** The score of a scored head: its retrieval drop (the ranking find-heads makes). */
const scoreOf = (entry: ScoredHead): number | undefined => entry.drop ?? entry.score ?? entry.retrieval_drop ?? entry.accuracy_drop

/** Every scored head: the `heads` list, else the `scores` list or {"L-H": drop} map. */
function scoredHeads(json: HeadsFileJson): {id: HeadId; score: number; rank?: number}[] {
  const list = json.heads ?? (Array.isArray(json.scores) ? json.scores : undefined)
  if (list) {
    return list.flatMap((entry) => {
      const score = scoreOf(entry)
      return score === undefined ? [] : [{id: headId(entry), score, rank: entry.rank}]
    })
  }
  return Object.entries(json.scores ?? {}).map(([key, score]) => ({id: key.split('-').map(Number) as HeadId, score}))
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
  const parsed = headsFileSchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    if (issue.path[0] === 'model' || issue.path[0] === 'model_id') throw noModel(path)
    const where = issue.path.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i > 0 ? '.' : ''}${String(k)}`)).join('')
    throw new FormatError(`${path}: ${where ? `${where}: ` : ''}${issue.message} (see hybridize schema heads)`)
  }
  const model = readModel(parsed.data, path)
  const ssm = [...(parsed.data.selected ?? parsed.data.selected_heads ?? []), ...(parsed.data.heads ?? [])].some((h) => !Array.isArray(h) && h.kind === 'ssm')
  // Rewriting a hybrid (turning its SSM heads back, or more heads into SSM) is not built.
  if (ssm) throw new HybridizeError(`${path} scores the SSM heads of a hybrid; rewrite takes the heads.json of a teacher (find-heads on the all-attention model)`, {code: 'E_HEADS_MODEL'})
  const selected = (parsed.data.selected ?? parsed.data.selected_heads ?? []).map(headId)
  const scored = scoredHeads(parsed.data)
  const byRank = scored.length > 0 && scored.every((s) => s.rank !== undefined)
  scored.sort((a, b) => (byRank ? a.rank! - b.rank! : b.score - a.score || a.id[0] - b.id[0] || a.id[1] - b.id[1]))
  const key = ([l, h]: HeadId) => `${l}-${h}`
  const chosen = new Set(selected.map(key))
  const ranking = [...selected, ...scored.map((s) => s.id).filter((id) => !chosen.has(key(id)))]
  if (ranking.length === 0) throw new FormatError(`${path} lists no selected or scored heads`)
  return {path, sha256: createHash('sha256').update(bytes).digest('hex'), model, selected, ranking}
}
