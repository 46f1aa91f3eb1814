/**
 * JSON written as Python's json.dumps writes it, for files lm-evaluation-harness's readers share:
 * a float that happens to be whole stays a float (`1.0`, not `1`: its `make_table` formats floats
 * as `0.0000` and prints anything else as it is), separators are ', ' and ': ' on one line, and
 * with `indent` each item is on its own line. Mark a float that may be whole with `pyFloat`.
 */
export class PyFloat {
  constructor(readonly value: number) {}

  /** Plain JSON (--json output) has no float type: the number. */
  toJSON(): number {
    return this.value
  }
}

export function pyFloat(value: number): PyFloat {
  return new PyFloat(value)
}

export function pythonJson(value: unknown, indent?: number, depth = 0): string {
  if (value === null || value === undefined) return 'null'
  if (value instanceof PyFloat) return floatJson(value.value)
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : floatJson(value)
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  if (typeof value === 'string') return JSON.stringify(value)
  const entries: [string | undefined, unknown][] = Array.isArray(value)
    ? value.map((v) => [undefined, v])
    : Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined)
  const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}']
  if (entries.length === 0) return open + close
  const items = entries.map(([k, v]) => (k === undefined ? '' : `${JSON.stringify(k)}: `) + pythonJson(v, indent, depth + 1))
  if (indent === undefined) return open + items.join(', ') + close
  const pad = (d: number) => '\n' + ' '.repeat(indent * d)
  return open + items.map((item) => pad(depth + 1) + item).join(',') + pad(depth) + close
}

/** json.dumps writes floats with repr(), and the non-finite ones as NaN, Infinity, -Infinity. */
function floatJson(v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity'
  return pythonStr(v)
}

/**
 * Python's str() of a float or bool, as `sanitize_list` writes them: '-4.25', '-3.0', '1e-05',
 * 'inf', 'True'. JavaScript and Python both print the shortest digits that read back exactly;
 * they differ in when they switch to an exponent and how they write it.
 */
export function pythonStr(v: number | boolean): string {
  if (typeof v === 'boolean') return v ? 'True' : 'False'
  if (Number.isNaN(v)) return 'nan'
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf'
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0'
  const [mantissa, exp] = v.toExponential().split('e')
  const e = Number(exp)
  if (e < -4 || e >= 16) return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`
  const fixed = mantissa.includes('.') || e !== 0 ? shiftPoint(mantissa, e) : mantissa
  return fixed.includes('.') ? fixed : `${fixed}.0`
}

/** The decimal digits of `mantissa` (like '-1.2345') with the point moved `e` places. */
function shiftPoint(mantissa: string, e: number): string {
  const sign = mantissa.startsWith('-') ? '-' : ''
  const digits = mantissa.replace(/^-/, '').replace('.', '')
  const point = 1 + e
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`
}
