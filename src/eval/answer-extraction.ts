/**
 * The number a chain-of-thought answer ends on, as GSM8K writes it: the number after the first
 * `#### ` (the answer line of GSM8K's solutions; lm-eval's strict-match regex `#### (\-?[0-9\.\,]+)`),
 * else the last number anywhere in the text (lm-eval's flexible-extract idea). A number here is an
 * optional minus sign, an optional `$`, digits with or without thousands commas (1,234,567), and an
 * optional decimal part: `$1,234.50.` reads 1234.5 (the sentence's full stop is not a decimal
 * point), and the minus of `10-3` is not a sign. Text without a number has no answer
 * (undefined), which never matches a gold answer.
 *
 * Answers are compared as numbers written canonically (String(Number(x)): "1,000" = "1000.0" =
 * "1000", "-0" = "0"), the way lm-eval's gsm8k exact_match ignores commas, `$` and a final period.
 */
const NUMBER = String.raw`(?<!\d)(-?)\$?(-?)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?`
const ANSWER_LINE = new RegExp(String.raw`####\s*` + NUMBER)
const ANY_NUMBER = new RegExp(NUMBER, 'g')

export function extractAnswer(text: string): string | undefined {
  const line = ANSWER_LINE.exec(text)
  if (line) return canonical(line)
  let last: RegExpExecArray | undefined
  for (const m of text.matchAll(ANY_NUMBER)) last = m
  return last ? canonical(last) : undefined
}

function canonical(m: RegExpExecArray): string {
  const negative = m[1] === '-' || m[2] === '-'
  const value = Number(`${m[3].replaceAll(',', '')}${m[4] ?? ''}`)
  return String(negative && value !== 0 ? -value : value)
}
