import {HybridizeError} from '../errors.js'
import {downloadSnapshot, type DownloadOptions, type DownloadResult} from '../hub/download.js'
import {requireRepoRef} from '../hub/repo-ref.js'

/** `hybridize download` from code: a model id (org/name[@revision]) into the Hugging Face cache, or `localDir`. */
export interface DownloadRequest extends Omit<DownloadOptions, 'repo'> {
  /** org/name or a single name (gpt2), optionally with @revision. */
  model: string
}

export async function download(request: DownloadRequest): Promise<DownloadResult> {
  const {model, ...options} = request
  const ref = requireRepoRef(model)
  if (options.revision !== undefined && ref.revision !== undefined && options.revision !== ref.revision) {
    throw new HybridizeError(`${model} and --revision ${options.revision} name two revisions; give one`, {code: 'E_USAGE', exitCode: 2})
  }
  return downloadSnapshot({...options, repo: ref.repo, revision: options.revision ?? ref.revision})
}
