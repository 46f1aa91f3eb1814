import {HybridizeError} from '../errors.js'

/**
 * `--budget`, with one meaning in find-heads, rewrite and recipes: a share of all heads, written
 * as a percentage ("2%") or as a fraction of one ("0.02"), as mergekit's `density` and
 * torch.nn.utils.prune's float `amount` are. A bare number above 1 is refused rather than guessed
 * (3 heads? 3 %?): counts of heads are --top-k / --keep.
 * Returns the fraction, in [0, 1].
 */
export function parseBudget(text: string, flag = '--budget'): number {
  const trimmed = String(text).trim()
  const percent = trimmed.endsWith('%')
  const number = percent ? trimmed.slice(0, -1).trim() : trimmed
  const value = /^\d*\.?\d+(?:e[+-]?\d+)?$|^\d+\.$/i.test(number) ? Number(number) : Number.NaN
  if (!percent && value > 1) {
    throw usage(`${flag} ${trimmed}: a bare number is a fraction of the heads (0.02 = 2%); write ${trimmed}% for a percentage, or give a count of heads with --top-k / --keep`)
  }
  const fraction = percent ? value / 100 : value
  if (!(fraction >= 0 && fraction <= 1)) {
    throw usage(`${flag} must be a percentage of the heads such as 2%, or a fraction such as 0.02, from 0 to 100%; got '${trimmed}'`)
  }
  return fraction
}

/**
 * How many of `total` heads a budget keeps: the nearest whole number. A budget that rounds to no
 * head is an error (the user asked for some), unless it is exactly 0.
 */
export function headsInBudget(fraction: number, total: number, flag = '--budget'): number {
  const count = Math.round(fraction * total)
  if (count === 0 && fraction > 0) {
    const least = Math.ceil((50 / total) * 100) / 100
    throw usage(`${flag} ${formatShare(fraction)} of ${total} heads is ${(fraction * total).toFixed(2)} heads, which rounds to none; give at least ${least}% for one head, or 0 for none`)
  }
  return count
}

/** 0.05 -> "5%", 0.0125 -> "1.25%". */
export function formatShare(fraction: number): string {
  return `${Number((fraction * 100).toPrecision(6))}%`
}

function usage(message: string): HybridizeError {
  return new HybridizeError(message, {code: 'E_USAGE', exitCode: 2})
}
