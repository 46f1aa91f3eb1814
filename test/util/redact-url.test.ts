import {describe, expect, it} from 'vitest'
import {redactUrl} from '../../src/util/redact-url.js'

describe('redactUrl', () => {
  it('hides the password, or a lone user name, of every URL in a text', () => {
    expect(redactUrl('cannot reach http://user:SECRET@mirror:8080/x (ECONNREFUSED)')).toBe('cannot reach http://user:****@mirror:8080/x (ECONNREFUSED)')
    expect(redactUrl('https://hf_TOKEN@host/a and HTTPS://u:p%40ss@h2')).toBe('https://****@host/a and HTTPS://u:****@h2')
    expect(redactUrl('at http://u:@h and http://:pw@h')).toBe('at http://u:****@h and http://:****@h')
  })

  it('leaves URLs without credentials and e-mail-like text alone', () => {
    for (const text of ['https://huggingface.co/acme/x@main', 'mail me: a@b.c', 'http://host/path?q=a@b', 'file:///tmp/x@y']) {
      expect(redactUrl(text)).toBe(text)
    }
  })
})
