import type {StopSignal} from '../api/distill.js'

/**
 * Ctrl-C during a long run (distill): the first finishes the step, saves and stops; the second
 * quits at once (the last complete checkpoint stays). `release` removes the handler.
 */
export function catchInterrupts(status: (text: string) => void): StopSignal {
  let requested = false
  const onSigint = (): void => {
    if (requested) {
      process.stderr.write('\nhybridize: second Ctrl-C: quitting without saving; the last complete checkpoint is kept\n')
      process.exit(130)
    }
    requested = true
    status('\nCtrl-C: saving a checkpoint after this step, then stopping (Ctrl-C again to quit at once)')
  }
  process.on('SIGINT', onSigint)
  return {requested: () => requested, release: () => process.off('SIGINT', onSigint)}
}

/** An AbortSignal that Ctrl-C aborts (a download stops its transfers); `release` removes the handler. */
export function abortOnInterrupt(): {signal: AbortSignal; release(): void} {
  const interrupt = new AbortController()
  const onSigint = (): void => interrupt.abort()
  process.once('SIGINT', onSigint)
  return {signal: interrupt.signal, release: () => process.off('SIGINT', onSigint)}
}
