import type {Config} from '@oclif/core'
import type {CommandClass} from './sections.js'

/**
 * Runs a hybridize command inside this process, as `hybridize <id> ...argv` would: same flag
 * parsing, same files. Its stdout lines go to `log`, and its errors are thrown rather than printed,
 * so the caller reports them once.
 */
export async function runInProcess(command: CommandClass, argv: string[], config: Config, log: (line: string) => void): Promise<unknown> {
  class InProcess extends command {
    start(): Promise<unknown> {
      return this._run()
    }

    override log(message = ''): void {
      log(message)
    }

    protected override async catch(err: Error): Promise<never> {
      throw err
    }
  }
  return new InProcess(argv, config).start()
}
