/**
 * GPT-2's byte-to-unicode table: every byte gets a printable character, so BPE can run on strings while
 * covering all byte sequences. Printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves; the
 * other 68 bytes (controls, space, ...) map in byte order to U+0100 and up, which is why a space shows as 'Ġ'
 * (U+0120) and a newline as 'Ċ' (U+010A).
 */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)
  const table: string[] = []
  let shifted = 0
  for (let b = 0; b < 256; b++) table.push(String.fromCharCode(printable(b) ? b : 256 + shifted++))
  return table
})()

const encoder = new TextEncoder()

/** The UTF-8 bytes of `text`, each written as its BYTE_TO_CHAR character. */
export function toByteLevel(text: string): string {
  let out = ''
  for (const byte of encoder.encode(text)) out += BYTE_TO_CHAR[byte]
  return out
}
