import {once} from 'node:events'
import type {AddressInfo} from 'node:net'
import {Args, Flags} from '@oclif/core'
import {openModel, withBackend} from '../api/session.js'
import {BaseCommand} from '../cli/base-command.js'
import {DECODE_FLAGS, decodeStatus} from '../cli/decode-flags.js'
import {deviceFlag} from '../cli/device-flag.js'
import {HybridizeError} from '../errors.js'
import {readGenerationDefaults} from '../generate/generation-config.js'
import {loadModel} from '../models/load-model.js'
import {readConfigJson} from '../models/load.js'
import {DEFAULT_LIMITS} from '../serve/completion-request.js'
import {createCompletionServer, DEFAULT_MAX_BODY_BYTES, DEFAULT_TIMEOUTS} from '../serve/server.js'
import {readTokenizerConfig} from '../serve/tokenizer-info.js'

interface ServeResult {
  url: string
  requests: number
}

export default class Serve extends BaseCommand {
  static override summary = 'Serve a model over an OpenAI-compatible API (for lm-evaluation-harness and OpenAI clients).'

  static override description = `Answers POST /v1/completions (prompt as text or token ids, max_tokens,
temperature, top_p, n, echo, logprobs, stop, seed), POST /v1/chat/completions
(messages rendered by the model's chat template), GET /v1/models, and vLLM's
POST /tokenize, POST /detokenize and GET /tokenizer_info.

With echo and logprobs the prompt's log-probabilities come back as
hybridize eval computes them, so lm-evaluation-harness's local-completions
model scores loglikelihood tasks. It finds the tokenizer endpoints itself,
so it needs no tokenizer= argument:

  lm_eval --model local-completions --tasks arc_easy --model_args \\
    model=M,base_url=http://127.0.0.1:8000/v1/completions,max_length=N

A prompt longer than the model's context N (max_position_embeddings,
printed at start, and max_model_len in /v1/models) gets HTTP 400, as from
vLLM; it is not truncated. Pass max_length=N and lm-eval truncates from the
left itself. Chat: --model local-chat-completions --apply_chat_template,
base_url=http://127.0.0.1:8000/v1/chat/completions.

--precision and --kv-cache-dtype apply to every request as generate
applies them (the logprobs forward computes at --precision too); the
startup lines on stderr say which are in force.

Requests are read and tokenized as they arrive; requests then take turns
at the model, 16 forwards (prefills or decode steps) a turn, so a request
with many prompts or long completions delays only itself. Work for a client
that disconnects stops. The LIMITS flags bound what one request may ask and
how slowly it may arrive.

Listens on 127.0.0.1 unless --host says otherwise; there is no
authentication, so only bind another address on a network you trust.
Stops on Ctrl-C.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> fixtures/phi-tiny',
    '<%= config.bin %> <%= command.id %> student/ --port 8080 --device webgpu',
  ]

  static override args = {
    model: Args.string({required: true, description: 'Model folder, or org/name[@revision] in the Hugging Face cache.'}),
  }

  static override flags = {
    port: Flags.integer({description: 'TCP port (0 picks a free one).', default: 8000, min: 0, max: 65535}),
    host: Flags.string({description: 'Address to listen on.', default: '127.0.0.1'}),
    'max-body-bytes': Flags.integer({description: 'Largest request body accepted; larger ones get HTTP 413.', default: DEFAULT_MAX_BODY_BYTES, min: 1, helpGroup: 'LIMITS'}),
    'max-prompts': Flags.integer({description: 'Most prompts in one request; more get HTTP 400.', default: DEFAULT_LIMITS.maxPrompts, min: 1, helpGroup: 'LIMITS'}),
    'max-request-tokens': Flags.integer({description: "Most tokens one request may ask for (each prompt's tokens plus n × max_tokens, summed); more get HTTP 413.", default: DEFAULT_LIMITS.maxRequestTokens, min: 1, helpGroup: 'LIMITS'}),
    'headers-timeout': Flags.integer({description: 'Seconds a client has to send the request headers (0: no limit).', default: DEFAULT_TIMEOUTS.headers / 1000, min: 0, helpGroup: 'LIMITS'}),
    'request-timeout': Flags.integer({description: 'Seconds a client has to send the whole request, body included (0: no limit; not less than --headers-timeout).', default: DEFAULT_TIMEOUTS.request / 1000, min: 0, helpGroup: 'LIMITS'}),
    'idle-timeout': Flags.integer({description: 'Seconds of silence allowed while a request is being sent (0: no limit).', default: DEFAULT_TIMEOUTS.idle / 1000, min: 0, helpGroup: 'LIMITS'}),
    'keep-alive-timeout': Flags.integer({description: 'Seconds an idle kept-alive connection stays open for its next request.', default: DEFAULT_TIMEOUTS.keepAlive / 1000, min: 0, helpGroup: 'LIMITS'}),
    device: deviceFlag,
    ...DECODE_FLAGS,
  }

  async run(): Promise<ServeResult> {
    const {args, flags} = await this.parse(Serve)
    if (flags['request-timeout'] > 0 && flags['headers-timeout'] > flags['request-timeout']) {
      throw new HybridizeError(`--headers-timeout (${flags['headers-timeout']} s) must not exceed --request-timeout (${flags['request-timeout']} s)`, {code: 'E_USAGE', exitCode: 2})
    }
    const {folder, tokenizer} = await openModel(args.model)
    const tokenizerConfig = await readTokenizerConfig(folder)
    const defaults = await readGenerationDefaults(folder)
    const config = await readConfigJson(folder)
    const maxPositions = typeof config.max_position_embeddings === 'number' ? config.max_position_embeddings : 2048
    let requests = 0
    return withBackend({device: flags.device, status: (text) => this.status(text)}, async (backend) => {
      this.status(`context: ${maxPositions} tokens (lm-eval: max_length=${maxPositions})`)
      this.status(decodeStatus(flags.precision, flags['kv-cache-dtype']))
      const model = await loadModel(folder, backend)
      try {
        // A cache this model cannot hold (f16 at a head dim the decode kernel does not take) is refused now, not at each request.
        model.newCache(1, 1, {kvDtype: flags['kv-cache-dtype']}).dispose()
        const server = createCompletionServer(
          {
            name: args.model,
            model,
            tokenizer,
            tokenizerConfig,
            eosTokenIds: defaults.eosTokenIds,
            bosTokenId: defaults.bosTokenId,
            maxPositions,
            precision: flags.precision,
            kvCacheDtype: flags['kv-cache-dtype'],
          },
          {
            maxBodyBytes: flags['max-body-bytes'],
            limits: {maxPrompts: flags['max-prompts'], maxRequestTokens: flags['max-request-tokens']},
            timeouts: {
              headers: flags['headers-timeout'] * 1000,
              request: flags['request-timeout'] * 1000,
              idle: flags['idle-timeout'] * 1000,
              keepAlive: flags['keep-alive-timeout'] * 1000,
            },
            log: (line) => {
              requests++
              this.status(line)
            },
          },
        )
        server.listen(flags.port, flags.host)
        await once(server, 'listening').catch((err: NodeJS.ErrnoException) => {
          const why = err.code === 'EADDRINUSE' ? 'is in use; pick another with --port' : `cannot be listened on (${err.message})`
          throw new HybridizeError(`${flags.host}:${flags.port} ${why}`, {code: 'E_LISTEN'})
        })
        const {address, port} = server.address() as AddressInfo
        const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`
        // The one stdout line: scripts (and tests) read the address from it.
        this.log(`listening on ${url}/v1`)
        await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')])
        this.status('stopping')
        server.closeAllConnections()
        server.close()
        return {url, requests}
      } finally {
        for (const w of model.weights.values()) w.dispose()
      }
    })
  }
}
