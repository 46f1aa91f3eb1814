import {HybridizeError} from '../errors.js'

/** A number flag given as text (oclif has no float flag): in [min, max], else a usage error (exit 2). */
export function parseNumber(flag: string, text: string, min: number, max: number): number {
  const v = Number(text)
  if (text.trim() === '' || !Number.isFinite(v) || v < min || v > max) {
    throw new HybridizeError(`${flag} must be a number${max === 1 ? ' in (0, 1]' : ' >= 0'}, got '${text}'`, {code: 'E_USAGE', exitCode: 2})
  }
  return v
}
