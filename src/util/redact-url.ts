// `scheme://user:password@` or `scheme://user@` inside any text.
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@:]*)(:[^\s/?#@]*)?@/gi

/**
 * Hides the credentials of every URL in `text`, as pip does: `http://user:****@host` when a password is given,
 * `http://****@host` when the user name alone is (it is then usually a token). HF_ENDPOINT may carry a mirror's
 * basic-auth credentials, and every message, --json error and --debug stack that names a URL passes through here.
 */
export function redactUrl(text: string): string {
  return text.replace(URL_CREDENTIALS, (_, scheme: string, user: string, password: string | undefined) =>
    password === undefined ? `${scheme}****@` : `${scheme}${user}:****@`)
}
