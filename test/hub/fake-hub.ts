import {createHash} from 'node:crypto'
import {createServer, type IncomingMessage, type ServerResponse} from 'node:http'
import type {AddressInfo, Socket} from 'node:net'

/**
 * A Hugging Face hub on 127.0.0.1 for tests: the model info, tree and resolve endpoints with the status codes,
 * headers and redirects the real hub sends, so the client under test is exactly the one users run.
 */

export interface FakeFile {
  path: string
  content: Buffer
  /** Stored with Git LFS: listed with an `lfs` sha256 and served through a redirect to the CDN path. */
  lfs?: boolean
  /** A size to claim in listings instead of the real one. */
  listedSize?: number
}

export interface FakeRepo {
  id: string
  commit: string
  /** Branch or tag -> commit; `main` -> `commit` when absent. */
  refs?: Record<string, string>
  files: FakeFile[]
  /** Gated like meta-llama: files need a token that was granted access. */
  gated?: boolean
}

/** Misbehaviour per file path, to test the client's recovery. */
export interface Fault {
  /** Close the socket after this many body bytes, on the next response only. */
  cutAfter?: number
  /** Flip one byte of the body. */
  corrupt?: boolean
  /** Send this many body bytes, then hold the connection open without ending it. */
  stallAfter?: number
  /** Like stallAfter, on the next response only. */
  stallOnceAfter?: number
  /** Never answer: not even the status line and headers. */
  silent?: boolean
}

export interface LoggedRequest {
  method: string
  path: string
  range?: string
  authorization?: string
}

export interface FakeHub {
  url: string
  requests: LoggedRequest[]
  faults: Map<string, Fault>
  /** Body bytes sent so far per file path. */
  sent: Map<string, number>
  /** While set, API requests (model info, file listings) get no answer at all. */
  silentApi: boolean
  close(): Promise<void>
}

export interface FakeHubOptions {
  repos: FakeRepo[]
  /** Valid tokens and the gated repos each one was granted. */
  tokens?: Record<string, string[]>
  /**
   * Serve LFS files from this loopback address (e.g. 127.0.0.2) as the real hub serves them from a CDN host:
   * huggingface_hub reads a file's metadata from the redirect itself only when it leads to another host.
   */
  cdnHost?: string
}

export function gitBlobOid(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex')
}

export function sha256(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex')
}

export async function startFakeHub(options: FakeHubOptions): Promise<FakeHub> {
  const requests: LoggedRequest[] = []
  const faults = new Map<string, Fault>()
  const sent = new Map<string, number>()
  const sockets = new Set<Socket>()
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    requests.push({
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      ...(req.headers.range ? {range: req.headers.range} : {}),
      ...(req.headers.authorization ? {authorization: req.headers.authorization} : {}),
    })
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      try {
        route(req, res, Buffer.concat(chunks))
      } catch (err) {
        json(res, 500, {error: String(err)})
      }
    })
  }
  const servers = [createServer(handle), ...(options.cdnHost ? [createServer(handle)] : [])]
  for (const server of servers) {
    server.on('connection', (socket) => {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
    })
  }
  const origins = await Promise.all(servers.map(async (server, i) => {
    const host = i === 0 ? '127.0.0.1' : options.cdnHost!
    await new Promise<void>((resolve) => server.listen(0, host, resolve))
    return `http://${host}:${(server.address() as AddressInfo).port}`
  }))
  const [url, cdnUrl = url] = origins

  function route(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const {pathname, searchParams} = new URL(req.url ?? '/', url)
    if (hub.silentApi && pathname.startsWith('/api/')) return
    // Repo ids are `org/name` or, for the hub's oldest models (gpt2), a single name.
    let m: RegExpExecArray | null
    if (req.method === 'POST' && (m = /^\/api\/models\/((?:[^/]+\/)?[^/]+)\/paths-info\/([^/]+)$/.exec(pathname))) {
      const found = findRevision(req, res, m[1], decodeURIComponent(m[2]))
      if (!found) return
      const {paths, expand} = JSON.parse(body.toString() || '{}') as {paths?: string[]; expand?: boolean}
      const entries = tree(found.repo, '').filter((e) => paths?.includes(e.path))
      json(res, 200, expand ? entries.map((e) => ({...e, lastCommit: {id: found.commit, title: 'upload', date: '2024-09-25T00:00:00.000Z'}})) : entries)
    } else if ((m = /^\/api\/models\/((?:[^/]+\/)?[^/]+)\/tree\/([^/]+)(?:\/(.*))?$/.exec(pathname))) {
      const found = findRevision(req, res, m[1], decodeURIComponent(m[2]))
      if (found) json(res, 200, tree(found.repo, m[3] ? decodeURIComponent(m[3]) : ''))
    } else if ((m = /^\/api\/models\/((?:[^/]+\/)?[^/]+)(?:\/revision\/([^/]+))?$/.exec(pathname))) {
      const found = findRevision(req, res, m[1], m[2] ? decodeURIComponent(m[2]) : 'main')
      if (found) json(res, 200, modelInfo(found.repo, found.commit, searchParams.get('blobs') === 'true'), {'x-repo-commit': found.commit})
    } else if ((m = /^\/((?:[^/]+\/)?[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(pathname))) {
      resolveFile(req, res, m[1], decodeURIComponent(m[2]), m[3].split('/').map(decodeURIComponent).join('/'))
    } else if ((m = /^\/cdn\/([0-9a-f]{64})$/.exec(pathname))) {
      const file = options.repos.flatMap((r) => r.files).find((f) => f.lfs && sha256(f.content) === m![1])
      if (!file) return json(res, 404, {error: 'NoSuchKey'})
      serve(req, res, file, {etag: `"${m[1]}"`})
    } else {
      json(res, 404, {error: 'Not found'})
    }
  }

  function findRevision(req: IncomingMessage, res: ServerResponse, id: string, revision: string) {
    const token = bearer(req)
    if (token !== undefined && !(token in (options.tokens ?? {}))) {
      json(res, 401, {error: 'Invalid credentials in Authorization header'})
      return undefined
    }
    const repo = options.repos.find((r) => r.id === id)
    if (!repo) {
      // Like the real hub: without a token a missing repo answers 401, so private repos do not leak.
      const message = 'Repository not found'
      json(res, token ? 404 : 401, {error: message}, {'x-error-code': 'RepoNotFound', 'x-error-message': message})
      return undefined
    }
    const refs = repo.refs ?? {main: repo.commit}
    const commit = refs[revision] ?? (Object.values(refs).includes(revision) || revision === repo.commit ? revision : undefined)
    if (!commit) {
      const message = `Invalid rev id: ${revision}`
      json(res, 404, {error: message}, {'x-error-code': 'RevisionNotFound', 'x-error-message': message})
      return undefined
    }
    return {repo, commit}
  }

  function resolveFile(req: IncomingMessage, res: ServerResponse, id: string, revision: string, path: string): void {
    const found = findRevision(req, res, id, revision)
    if (!found) return
    const {repo, commit} = found
    if (repo.gated) {
      const token = bearer(req)
      if (!token) {
        const message = `Access to model ${id} is restricted. You must have access to it and be authenticated to access it. Please log in.`
        return json(res, 401, {error: message}, {'x-error-code': 'GatedRepo', 'x-error-message': message})
      }
      if (!options.tokens?.[token]?.includes(id)) {
        const message = `Access to model ${id} is restricted and you are not in the authorized list. Visit https://huggingface.co/${id} to ask for access.`
        return json(res, 403, {error: message}, {'x-error-code': 'GatedRepo', 'x-error-message': message})
      }
    }
    const file = repo.files.find((f) => f.path === path)
    if (!file) {
      const message = 'Entry not found'
      return json(res, 404, {error: message}, {'x-error-code': 'EntryNotFound', 'x-error-message': message, 'x-repo-commit': commit})
    }
    if (file.lfs) {
      const sha = sha256(file.content)
      res.writeHead(302, {
        location: `${cdnUrl}/cdn/${sha}`,
        'x-repo-commit': commit,
        'x-linked-etag': `"${sha}"`,
        'x-linked-size': String(file.content.length),
        etag: `"${sha}"`,
        'content-length': '0',
      })
      return void res.end()
    }
    serve(req, res, file, {etag: `"${gitBlobOid(file.content)}"`, 'x-repo-commit': commit})
  }

  function serve(req: IncomingMessage, res: ServerResponse, file: FakeFile, headers: Record<string, string>): void {
    const fault = faults.get(file.path) ?? {}
    if (fault.silent) return
    let body = file.content
    if (fault.corrupt) {
      body = Buffer.from(body)
      body[body.length >> 1] ^= 0xff
    }
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '')
    const start = range ? Number(range[1]) : 0
    const end = range && range[2] ? Math.min(Number(range[2]), body.length - 1) : body.length - 1
    if (range && start >= body.length) {
      res.writeHead(416, {'content-range': `bytes */${body.length}`})
      return void res.end()
    }
    const part = body.subarray(start, end + 1)
    res.writeHead(range ? 206 : 200, {
      ...headers,
      'accept-ranges': 'bytes',
      'content-type': 'application/octet-stream',
      'content-length': String(part.length),
      ...(range ? {'content-range': `bytes ${start}-${end}/${body.length}`} : {}),
    })
    if (req.method === 'HEAD') return void res.end()
    const count = (n: number) => sent.set(file.path, (sent.get(file.path) ?? 0) + n)
    if (fault.cutAfter !== undefined) {
      const head = part.subarray(0, fault.cutAfter)
      delete fault.cutAfter
      count(head.length)
      res.write(head, () => setTimeout(() => res.socket?.destroy(), 20))
    } else if (fault.stallAfter !== undefined || fault.stallOnceAfter !== undefined) {
      const head = part.subarray(0, fault.stallAfter ?? fault.stallOnceAfter)
      delete fault.stallOnceAfter
      count(head.length)
      res.write(head)
    } else {
      count(part.length)
      res.end(part)
    }
  }

  function tree(repo: FakeRepo, under: string) {
    const inside = repo.files.filter((f) => under === '' || f.path.startsWith(`${under}/`))
    const folders = new Set(inside.flatMap((f) => f.path.split('/').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('/'))))
    return [
      ...[...folders].filter((d) => d !== under).map((path) => ({type: 'directory', oid: gitBlobOid(Buffer.from(path)), size: 0, path})),
      ...inside.map((f) => {
        const size = f.listedSize ?? f.content.length
        if (!f.lfs) return {type: 'file', oid: gitBlobOid(f.content), size, path: f.path}
        const pointer = lfsPointer(f.content)
        return {type: 'file', oid: gitBlobOid(pointer), size, path: f.path, lfs: {oid: sha256(f.content), size, pointerSize: pointer.length}}
      }),
    ]
  }

  const hub: FakeHub = {
    url,
    requests,
    faults,
    sent,
    silentApi: false,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))))
    },
  }
  return hub
}

function modelInfo(repo: FakeRepo, commit: string, blobs: boolean) {
  return {
    _id: gitBlobOid(Buffer.from(repo.id)).slice(0, 24),
    id: repo.id,
    modelId: repo.id,
    author: repo.id.split('/')[0],
    sha: commit,
    private: false,
    disabled: false,
    gated: repo.gated ? 'manual' : false,
    downloads: 0,
    likes: 0,
    pipeline_tag: 'text-generation',
    library_name: 'transformers',
    lastModified: '2024-09-25T00:00:00.000Z',
    createdAt: '2024-09-18T00:00:00.000Z',
    tags: ['transformers', 'safetensors'],
    siblings: repo.files.map((f) => {
      if (!blobs) return {rfilename: f.path}
      const size = f.listedSize ?? f.content.length
      if (!f.lfs) return {rfilename: f.path, size, blobId: gitBlobOid(f.content)}
      const pointer = lfsPointer(f.content)
      return {rfilename: f.path, size, blobId: gitBlobOid(pointer), lfs: {sha256: sha256(f.content), size, pointerSize: pointer.length}}
    }),
  }
}

function lfsPointer(content: Buffer): Buffer {
  return Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(content)}\nsize ${content.length}\n`)
}

function bearer(req: IncomingMessage): string | undefined {
  return /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text))})
  res.end(text)
}
