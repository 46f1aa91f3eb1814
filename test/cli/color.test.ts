import {afterEach, describe, expect, it} from 'vitest'
import {configureColor, stderrColor, stdoutColor} from '../../src/cli/color.js'

const tty = {isTTY: true} as NodeJS.WriteStream
const file = {isTTY: false} as NodeJS.WriteStream

afterEach(() => {
  configureColor(false)
})

describe('colour is decided per stream', () => {
  it('stdout redirected to a file gets no colour while the terminal on stderr does, and the other way round', () => {
    configureColor(true, {stdout: file, stderr: tty}, {})
    expect(stdoutColor.level).toBe(0)
    expect(stderrColor.level).toBeGreaterThan(0)
    expect(stdoutColor.bold('x')).toBe('x')
    configureColor(true, {stdout: tty, stderr: file}, {})
    expect(stdoutColor.level).toBeGreaterThan(0)
    expect(stderrColor.level).toBe(0)
  })

  it('NO_COLOR, TERM=dumb and --no-color turn both off; FORCE_COLOR turns both on', () => {
    for (const env of [{NO_COLOR: '1'}, {TERM: 'dumb'}]) {
      configureColor(true, {stdout: tty, stderr: tty}, env)
      expect([stdoutColor.level, stderrColor.level]).toEqual([0, 0])
    }
    configureColor(false, {stdout: tty, stderr: tty}, {})
    expect([stdoutColor.level, stderrColor.level]).toEqual([0, 0])
    configureColor(true, {stdout: file, stderr: file}, {FORCE_COLOR: '1'})
    expect(stdoutColor.level).toBeGreaterThan(0)
    expect(stderrColor.level).toBeGreaterThan(0)
  })
})
