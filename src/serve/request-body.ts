import type {IncomingMessage} from 'node:http'
import {CancelledError} from './fair-scheduler.js'
import {HttpError} from './http-error.js'

/**
 * The request body, up to `limit` bytes. A larger body is read to its end without being kept (so
 * the client gets the 413 rather than a reset connection), unless it runs far past the limit.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const tooLarge = new HttpError(413, `the request body is larger than ${limit} bytes (the server's --max-body-bytes)`)
    if (Number(req.headers['content-length']) > 16 * limit) {
      reject(tooLarge)
      req.destroy()
      return
    }
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= limit) chunks.push(chunk)
      else if (size > 16 * limit) req.destroy()
    })
    req.on('end', () => (size > limit ? reject(tooLarge) : resolve(Buffer.concat(chunks))))
    req.on('error', reject)
    // A client that goes away mid-body: nobody will read the answer.
    req.on('close', () => reject(size > limit ? tooLarge : new CancelledError()))
  })
}

export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'))
  } catch (err) {
    throw new HttpError(400, `the request body is not valid JSON (${(err as Error).message})`)
  }
}
