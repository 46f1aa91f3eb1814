import type {BlobJob} from './download-blob.js'

/**
 * Progress events, keyed by repo path. A file's first `advance` carries the bytes an earlier run left in
 * `.incomplete`; `advance` goes negative when a server ignores a Range request and the file starts over.
 */
export interface DownloadReporter {
  start(files: {file: string; size: number}[]): void
  advance(file: string, bytes: number): void
  finish(file: string): void
  end(): void
}

/** A repo file chosen for download: its blob name (etag) and checksum as huggingface_hub derives them. */
export interface PlannedFile {
  path: string
  size: number
  etag: string
  checksum?: BlobJob['checksum']
}

/** What saving the chosen files of one commit needs, into the cache or into --local-dir. */
export interface Transfer {
  repo: string
  commit: string
  files: PlannedFile[]
  fetch: typeof fetch
  /** The endpoint (HF_ENDPOINT) files are resolved against. */
  endpoint: string
  workers: number
  signal?: AbortSignal
  progress?: DownloadReporter
  /** Told when a file's lock is held by another download, once per file. */
  onWait?: (file: string, lock: string) => void
}

/** `<endpoint>/<repo>/resolve/<commit>/<path>`, each path segment escaped. */
export function resolveUrl(t: Transfer, path: string): string {
  return `${t.endpoint}/${t.repo}/resolve/${t.commit}/${path.split('/').map(encodeURIComponent).join('/')}`
}
