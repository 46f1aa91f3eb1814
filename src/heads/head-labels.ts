/**
 * Gather and Aggregate heads, named by the definitions of Gather-and-Aggregate (Bick, Xing, Gu
 * 2025, "Understanding the Skill Gap in Recurrent Models: The Role of the Gather-and-Aggregate
 * Mechanism", arXiv 2504.18574):
 *   Gather     the final token of each segment (the '\n' of `key:value\n`) attends over that
 *              segment's content, summarising the segment in its last token;
 *   Aggregate  the final position attends to the summary token of the relevant segment, a nearly
 *              argmax selection of one segment-final token.
 * The paper names heads by ablation and by looking at their attention maps; it states no numeric
 * threshold. The rule here: the pattern holds when it carries most (at least half) of the row's
 * attention mass, averaged over the prompts (attention-patterns.ts measures both). A head that
 * passes both tests takes the label of the larger score: the paper's heads do one job each.
 */
export type HeadLabel = 'gather' | 'aggregate'

/** Mass of segment-final tokens on their own segment's other tokens. */
export const GATHER_THRESHOLD = 0.5
/** Mass of the last prompt token on the answer segment's final (summary) token. */
export const AGGREGATE_THRESHOLD = 0.5

export function headLabel(scores: {gather: number; aggregate: number}): HeadLabel | null {
  const gather = scores.gather >= GATHER_THRESHOLD
  const aggregate = scores.aggregate >= AGGREGATE_THRESHOLD
  if (gather && aggregate) return scores.aggregate > scores.gather ? 'aggregate' : 'gather'
  return gather ? 'gather' : aggregate ? 'aggregate' : null
}

/** The letter beside a head's value in the heatmaps: G, A, or nothing. */
export function labelLetter(label: HeadLabel | null): string {
  return label === 'gather' ? 'G' : label === 'aggregate' ? 'A' : ''
}

/** The rule as heads.json records it. */
export const LABEL_RULE = `gather: gather >= ${GATHER_THRESHOLD}; aggregate: aggregate >= ${AGGREGATE_THRESHOLD}; both: the larger (Gather-and-Aggregate, arXiv 2504.18574; the paper states no threshold)`

/** What is said of SSM heads, which have no attention pattern: Gather-and-Aggregate scores them (Llamba's) by ablation alone. */
export const SSM_LABEL_RULE = 'ssm heads: not labelled (no attention pattern; scored by ablation only, as Gather-and-Aggregate scores Llamba\'s heads)'
