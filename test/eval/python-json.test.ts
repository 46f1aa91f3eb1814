import {describe, expect, it} from 'vitest'
import {pyFloat, pythonJson, pythonStr} from '../../src/eval/python-json.js'

// Expected strings printed by CPython 3 (repr(v), json.dumps(v), json.dumps(v, indent=2)).
describe("Python's way of writing numbers and JSON, for lm-eval's files", () => {
  it('str() of floats and bools, as sanitize_list writes responses', () => {
    const values = [-4.25, -3.0, 1e-5, -1.2345e-5, 0.0001, 123456789012345.6, 1e16, -2.5e17, 0.1, -0.30000000000000004, 1.0, -7.0, 1e22, 12.5, -0.000123, 5e-324, 1.7976931348623157e308, -0]
    expect(values.map(pythonStr)).toEqual([
      '-4.25', '-3.0', '1e-05', '-1.2345e-05', '0.0001', '123456789012345.6', '1e+16', '-2.5e+17', '0.1', '-0.30000000000000004',
      '1.0', '-7.0', '1e+22', '12.5', '-0.000123', '5e-324', '1.7976931348623157e+308', '-0.0',
    ])
    expect([true, false].map(pythonStr)).toEqual(['True', 'False'])
  })

  it('json.dumps, on one line and with indent=2; a whole float stays a float', () => {
    const value = {a: [1, pyFloat(2), 0.5, {}, []], b: {c: 'é"x\n', d: null, e: true}, f: 1e-5}
    expect(pythonJson(value)).toBe('{"a": [1, 2.0, 0.5, {}, []], "b": {"c": "é\\"x\\n", "d": null, "e": true}, "f": 1e-05}')
    expect(pythonJson({a: [1, pyFloat(2), []], b: {}}, 2)).toBe('{\n  "a": [\n    1,\n    2.0,\n    []\n  ],\n  "b": {}\n}')
  })
})
