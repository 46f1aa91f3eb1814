/** An error a client caused or should see, answered as OpenAI answers: {"error": {message, type, param, code}}. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly type = status === 413 ? 'request_too_large' : status >= 500 ? 'server_error' : status === 404 ? 'not_found_error' : 'invalid_request_error',
  ) {
    super(message)
  }

  body(): {error: {message: string; type: string; param: string | null; code: null}} {
    return {error: {message: this.message, type: this.type, param: this.param, code: null}}
  }
}
