import type {LanguageModel} from '../models/language-model.js'
import type {EvalContext} from './tasks/types.js'

/**
 * `eval --devices N`: a task's items scored on every device at once, item i by the model on device
 * i mod N (ctx.lm, then ctx.peers), each device taking its items in order; the results come back
 * in item order, so the metrics are those of one device (to float rounding, where rows are batched
 * with others).
 */
export async function mapOnDevices<T, R>(ctx: EvalContext, items: readonly T[], score: (ctx: EvalContext, item: T, index: number) => Promise<R>): Promise<R[]> {
  const lms = modelsOf(ctx)
  const out = new Array<R>(items.length)
  await Promise.all(lms.map(async (lm, d) => {
    const lane = d === 0 ? ctx : {...ctx, lm}
    for (let i = d; i < items.length; i += lms.length) out[i] = await score(lane, items[i], i)
  }))
  return out
}

/** `items` cut into one contiguous part per device, with that device's model, for work that batches across items. */
export function partsForDevices<T>(ctx: EvalContext, items: readonly T[]): {lm: LanguageModel; items: T[]}[] {
  const lms = modelsOf(ctx)
  const size = Math.ceil(items.length / lms.length)
  return lms.map((lm, d) => ({lm, items: items.slice(d * size, (d + 1) * size)}))
}

const modelsOf = (ctx: EvalContext): LanguageModel[] => [ctx.lm, ...(ctx.peers ?? [])]
