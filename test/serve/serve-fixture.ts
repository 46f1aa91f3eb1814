import type {AddressInfo} from 'node:net'
import type {Server} from 'node:http'
import {CpuBackend} from '../../src/backend/cpu.js'
import {readGenerationDefaults} from '../../src/generate/generation-config.js'
import {loadTeacher} from '../../src/models/load.js'
import type {TeacherModel} from '../../src/models/teacher.js'
import {createCompletionServer, type ServeOptions} from '../../src/serve/server.js'
import {readTokenizerConfig} from '../../src/serve/tokenizer-info.js'
import {loadTokenizer, type TextTokenizer} from '../../src/tokenizer/load.js'
import {tinyModelWithTokenizer} from '../helpers/tiny-tokenizer-model.js'

/** The tiny llama with its trained tokenizer, loaded once per test file; servers over it on loopback. */
export interface ServeFixture {
  folder: string
  model: TeacherModel
  tok: TextTokenizer
  eosTokenIds: number[]
  /** A server on 127.0.0.1 with a free port; its base URL (…/v1 not included). */
  start(opts: ServeOptions, maxPositions?: number, model?: TeacherModel): Promise<{server: Server; base: string; port: number}>
  cleanup(): Promise<void>
}

export async function serveFixture(): Promise<ServeFixture> {
  const tiny = await tinyModelWithTokenizer()
  const model = await loadTeacher(tiny.folder, new CpuBackend())
  const tok = await loadTokenizer(tiny.folder)
  const {eosTokenIds} = await readGenerationDefaults(tiny.folder)
  const servers: Server[] = []
  return {
    folder: tiny.folder,
    model,
    tok,
    eosTokenIds,
    async start(opts, maxPositions = 256, served = model) {
      const tokenizerConfig = await readTokenizerConfig(tiny.folder)
      const server = createCompletionServer({name: 'tiny', model: served, tokenizer: tok, tokenizerConfig, eosTokenIds, maxPositions}, opts)
      servers.push(server)
      server.listen(0, '127.0.0.1')
      await new Promise((resolve) => server.once('listening', resolve))
      const port = (server.address() as AddressInfo).port
      return {server, base: `http://127.0.0.1:${port}`, port}
    },
    async cleanup() {
      for (const s of servers) {
        s.closeAllConnections()
        s.close()
      }
      await tiny.cleanup()
    },
  }
}

export async function postJson(url: string, body: unknown, signal?: AbortSignal): Promise<{status: number; json: any}> {
  const res = await fetch(url, {method: 'POST', headers: {'content-type': 'application/json'}, body: typeof body === 'string' ? body : JSON.stringify(body), signal})
  return {status: res.status, json: await res.json()}
}
