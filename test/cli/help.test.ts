import {existsSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {refill} from '../../src/cli/help.js'
import {runCli} from '../helpers/cli.js'
import {repoRoot} from '../helpers/paths.js'

describe('help text', () => {
  it('refills prose to the width at spaces, never inside a word, and keeps indented lines (commands, YAML) as written', () => {
    const text = 'one two three four\nfive six\n\n  $ cmd --arg=a_value_far_too_long\n  key: v    # aligned\n[default: 1] a b'
    expect(refill(text, 24)).toBe('one two three four five\nsix\n\n  $ cmd --arg=a_value_far_too_long\n  key: v    # aligned\n[default: 1] a b')
    expect(refill('a_word_longer_than_the_width b', 5)).toBe('a_word_longer_than_the_width\nb')
    // oclif's usage: indented continuations, wrapped at spaces with their indent.
    expect(refill('  $ x [--a <value>] [--b <value>]', 20, {wrapIndented: true})).toBe('  $ x [--a <value>]\n  [--b <value>]')
  })

  it('serve --help keeps the lm_eval command whole, and descriptions read as paragraphs', () => {
    const r = runCli(['serve', '--help'], {COLUMNS: '80'})
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toContain('      model=M,base_url=http://127.0.0.1:8000/v1/completions,max_length=N\n')
    expect(r.stdout).toMatch(/^ {2}Answers POST \/v1\/completions \(prompt as text or token ids, max_tokens,\n {2}temperature, top_p, n, echo,/m)
  })

  it('every example names only fixture folders that exist', async () => {
    const dir = join(repoRoot, 'src', 'commands')
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      const command = (await import(join(dir, file))).default as {examples?: (string | {command: string})[]}
      for (const example of command.examples ?? []) {
        const text = typeof example === 'string' ? example : example.command
        for (const path of text.match(/fixtures\/[\w./-]+/g) ?? []) expect(existsSync(join(repoRoot, path)), `${file}: ${path}`).toBe(true)
      }
    }
  })
})
