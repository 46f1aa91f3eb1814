import {FormatError} from '../../errors.js'

/** Each non-blank line of a task's JSONL file as an object, with `file:line` for messages; anything else is an error naming the line. */
export function jsonlObjects(text: string, file: string): {doc: Record<string, unknown>; where: string}[] {
  const out: {doc: Record<string, unknown>; where: string}[] = []
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return
    const where = `${file}:${i + 1}`
    let raw: unknown
    try {
      raw = JSON.parse(line)
    } catch (err) {
      throw new FormatError(`${where}: not valid JSON (${(err as Error).message})`)
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new FormatError(`${where}: each line must be a JSON object`)
    out.push({doc: raw as Record<string, unknown>, where})
  })
  return out
}
