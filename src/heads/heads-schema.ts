import {z} from 'zod'

/** The `format` find-heads writes: a heads.json with it may be replaced by the next find-heads. */
export const HEADS_FORMAT = 'hybridize-heads/1'

/**
 * The schema's `$id`: a name, not an address (the project publishes no URL); editors find the
 * committed file, schemas/heads.schema.json, by path.
 */
export const HEADS_SCHEMA_ID = 'urn:hybridize:schema:heads'

const count = z.int().min(0)
const headKind = z.enum(['attention', 'ssm']).optional()
  .meta({description: 'attention, or ssm: one of an SSM mixer\'s heads (find-heads on a hybrid); absent (files before it): attention.'})
const headId = z.union([z.tuple([count, count]), z.looseObject({layer: count, head: count, kind: headKind})], {error: 'not a [layer, head] pair'})
  .meta({description: 'A head: [layer, head], or {layer, head, kind}; both from 0.'})

const scoredHead = z.looseObject({
  layer: count,
  head: count,
  kind: headKind,
  rank: z.int().min(1).optional().meta({description: 'Its place in the ranking, from 1; --keep and --budget follow it when every head has one.'}),
  drop: z.number().optional().meta({description: 'Accuracy drop when the head alone is ablated: the score heads are ranked by.'}),
  score: z.number().optional().meta({description: 'Another name for drop, in files other tools wrote.'}),
  retrieval_drop: z.number().optional(),
  accuracy_drop: z.number().optional(),
  label: z.enum(['gather', 'aggregate']).nullable().optional()
    .meta({description: 'Gather or Aggregate by its attention pattern (the rule: method.labels), null when neither; always null for an SSM head.'}),
}).meta({description: 'A scored head; one without a score is not ranked.'})

const model = z.union([
  z.string().min(1),
  z.looseObject({
    id: z.string().min(1).optional().meta({description: 'As the user named it: a folder or org/name[@revision].'}),
    name: z.string().min(1).optional(),
    path: z.string().min(1).optional(),
    revision: z.string().nullable().optional().meta({description: 'The Hugging Face snapshot commit, when the model was one.'}),
    weights_sha256: z.string().optional().meta({description: 'SHA-256 over the weight files\' bytes, in name order: when given, it decides whether a teacher is this model.'}),
    layers: count.optional(),
    num_layers: count.optional(),
    heads: count.optional().meta({description: 'Attention heads per layer.'}),
    num_heads: count.optional(),
    heads_per_layer: count.optional(),
    kv_heads: count.optional(),
  }).refine((m) => [m.id, m.name, m.path].some((v) => v !== undefined), {error: 'names no model (id, name or path)'}),
]).meta({description: 'The model the heads were found in: its id, or {id (or name, or path), revision, weights_sha256, layers, heads}.'})

/**
 * heads.json as hybridize reads it (`rewrite --heads`): the file find-heads writes, and the few
 * other names and shapes a head file from another tool may use. Fields it does not know are kept
 * and ignored. `hybridize schema heads` prints it as JSON Schema.
 */
export const headsFileSchema = z.looseObject({
  format: z.literal(HEADS_FORMAT).optional().meta({description: 'Set by find-heads; a file without it is not replaced without --force.'}),
  model: model.optional(),
  model_id: z.string().min(1).optional().meta({description: 'Another name for a bare model id.'}),
  selected: z.array(headId).optional().meta({description: 'The heads find-heads selected to stay attention, in its order (a greedy selection\'s order).'}),
  selected_heads: z.array(headId).optional().meta({description: 'Another name for selected.'}),
  heads: z.array(scoredHead).optional().meta({description: 'Every scored head, with its rank and drop (find-heads also writes acc, logprob_drop, gather, aggregate, answer_segment, label).'}),
  scores: z.union([z.record(z.string().regex(/^\d+-\d+$/), z.number()), z.array(scoredHead)]).optional()
    .meta({description: 'Each head\'s drop keyed "L-H", the layout of Retrieval_Head\'s head_score files (or a list of scored heads).'}),
}).meta({
  $id: HEADS_SCHEMA_ID,
  title: 'hybridize heads.json',
  description: 'The retrieval heads `hybridize find-heads` found in a model, and how: read by `hybridize rewrite --heads`.',
})

export type HeadsFileJson = z.infer<typeof headsFileSchema>
