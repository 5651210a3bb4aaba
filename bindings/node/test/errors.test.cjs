'use strict'
// Errors: the stable codes, their shape, and bad input of every kind (wrong types, huge or
// hostile strings) — always a thrown Error with a code, never a crash.

const assert = require('node:assert/strict')
const { test } = require('node:test')

const { MeshConfig, Reference, errorCodes } = require('@runbeam/sdk')
const { throwsCode } = require('./helpers.cjs')

const VALID_TOML = '[provider.runbeam]\napi = "https://api.runbeam.io"\n'

test('errorCodes() lists every code once, in the RUNBEAM_ namespace', () => {
  const codes = errorCodes()
  assert.ok(Array.isArray(codes))
  assert.equal(new Set(codes).size, codes.length)
  for (const code of codes) assert.match(code, /^RUNBEAM_[A-Z]+(_[A-Z]+)*$/)
  for (const code of [
    'RUNBEAM_INVALID_ARGUMENT',
    'RUNBEAM_INVALID_REFERENCE',
    'RUNBEAM_CONFIG',
    'RUNBEAM_UNKNOWN_PROVIDER',
    'RUNBEAM_NOT_IN_MESH',
    'RUNBEAM_NOT_FOUND',
    'RUNBEAM_INTERNAL',
  ]) {
    assert.ok(codes.includes(code), code)
  }
  // A fresh array each time: callers cannot corrupt the list.
  codes.length = 0
  assert.ok(errorCodes().length > 0)
})

test('thrown errors are Errors with code, kind, message and stack', () => {
  const e = throwsCode(() => Reference.parse('runbeam.acme.widget.name.api'), 'RUNBEAM_INVALID_REFERENCE', 'InvalidReference')
  assert.equal(
    e.message,
    "invalid reference 'runbeam.acme.widget.name.api': segment 2 'widget' is not a resource type " +
      '(expected one of ingress, egress, pipeline, endpoint, backend, mesh)',
  )
  assert.ok(errorCodes().includes(e.code))
  assert.equal(typeof e.stack, 'string')
  assert.ok(e.stack.includes('errors.test.cjs'), e.stack)
  const config = throwsCode(() => MeshConfig.fromToml('[mesh.x]\ntype = 1\n'), 'RUNBEAM_CONFIG', 'Config')
  assert.ok(Array.isArray(config.problems) && config.problems.length === 2, JSON.stringify(config.problems))
  assert.deepEqual(config.problems[0], {
    kind: 'Config',
    code: 'RUNBEAM_CONFIG',
    path: 'mesh.x.type',
    message: 'expected a string, found an integer',
  })
})

const NOT_STRINGS = [undefined, null, 42, 1.5, true, 10n, Symbol('s'), {}, [], ['x'], () => 'x', new String('x')]

test('Reference.parse rejects every non-string with RUNBEAM_INVALID_ARGUMENT', () => {
  for (const value of NOT_STRINGS) {
    const e = throwsCode(() => Reference.parse(value), 'RUNBEAM_INVALID_ARGUMENT', 'InvalidArgument')
    assert.match(e.message, /^Reference\.parse\(\) expects a string, not (undefined|null|an? \w+)$/)
    throwsCode(() => new Reference(value), 'RUNBEAM_INVALID_ARGUMENT')
  }
  throwsCode(() => Reference.parse(), 'RUNBEAM_INVALID_ARGUMENT')
  assert.match(
    throwsCode(() => Reference.parse(7), 'RUNBEAM_INVALID_ARGUMENT').message,
    /not a number$/,
  )
})

// napi does not tell a conversion which argument it converts (bindings/node/README.md,
// "Arguments"): the message says what was expected and given, and which array item.
test('MeshConfig loaders reject wrong argument types, saying what was expected', () => {
  for (const value of NOT_STRINGS) {
    assert.match(throwsCode(() => MeshConfig.fromToml(value), 'RUNBEAM_INVALID_ARGUMENT').message, /^expected a string, not /)
    assert.match(throwsCode(() => MeshConfig.fromFile(value), 'RUNBEAM_INVALID_ARGUMENT').message, /^expected a string, not /)
  }
  for (const value of [undefined, null, 'a.toml', 42, {}, { length: 1, 0: 'a.toml' }]) {
    assert.match(
      throwsCode(() => MeshConfig.fromFiles(value), 'RUNBEAM_INVALID_ARGUMENT').message,
      /^expected an array of strings, not /,
    )
  }
  assert.match(
    throwsCode(() => MeshConfig.fromFiles(['/a.toml', 2]), 'RUNBEAM_INVALID_ARGUMENT').message,
    /^item \[1\] must be a string, not a number$/,
  )
  // eslint-disable-next-line no-sparse-arrays
  throwsCode(() => MeshConfig.fromFiles(['/a.toml', , '/b.toml']), 'RUNBEAM_INVALID_ARGUMENT')
})

test('mesh context checks take a Reference or a string, nothing else', () => {
  const config = MeshConfig.fromToml(VALID_TOML)
  for (const value of [undefined, null, 42, {}, [], { toString: () => 'x' }, Object.create(Reference.prototype)]) {
    for (const check of ['inMeshContext', 'checkMeshContext']) {
      const e = throwsCode(() => config[check](value), 'RUNBEAM_INVALID_ARGUMENT')
      assert.match(e.message, /^expected a Reference or a string, not /)
    }
  }
})

test('misused classes throw instead of crashing', () => {
  assert.throws(() => new MeshConfig(), Error)
  assert.throws(() => MeshConfig.prototype.validate.call({}), TypeError)
  assert.throws(() => MeshConfig.prototype.inMeshContext.call(Reference.parse('x'), 'x'), TypeError)
  assert.throws(() => Reference.prototype.toString.call({}), TypeError)
  assert.throws(() => Object.getOwnPropertyDescriptor(Reference.prototype, 'provider').get.call({}), TypeError)
})

test('a 1 MB reference is rejected with a short message', () => {
  for (const text of ['x'.repeat(1 << 20), 'é'.repeat(1 << 20), '😀'.repeat(1 << 18), `runbeam.id.${'A'.repeat(1 << 20)}`]) {
    const e = throwsCode(() => Reference.parse(text), 'RUNBEAM_INVALID_REFERENCE')
    assert.ok(e.message.length < 300, `${e.message.length} characters`)
    assert.ok(e.message.includes('bytes long (at most 512)'), e.message)
  }
})

test('references just around the length limits', () => {
  const max = `runbeam.acme.ingress.id.${'A'.repeat(128)}`
  assert.equal(Reference.parse(max).value.length, 128)
  throwsCode(() => Reference.parse(`${max}A`), 'RUNBEAM_INVALID_REFERENCE')
  // 512 bytes of segments of 128: the longest input read without allocating, and one more.
  const seg = 'a'.repeat(127)
  const long = `${seg}.${seg}.${seg}.${seg}`
  for (const text of [long, `${long}.x`, `${long}xxxx`, 'a'.repeat(513), 'a'.repeat(516), 'a'.repeat(520)]) {
    const e = throwsCode(() => Reference.parse(text), 'RUNBEAM_INVALID_REFERENCE')
    assert.ok(e.message.startsWith(`invalid reference '${text.slice(0, 80)}…(+${text.length - 80} bytes)': `), e.message)
  }
  // Multi-byte characters around the end of the stack buffer: the core sees the whole string.
  for (const n of [127, 128, 129, 130, 200]) {
    const e = throwsCode(() => Reference.parse('😀'.repeat(n)), 'RUNBEAM_INVALID_REFERENCE')
    const expected = `is ${4 * n} bytes long`
    assert.ok(e.message.includes(expected), `${e.message} lacks ${expected}`)
  }
})

test('hostile characters are rejected and quoted safely', () => {
  for (const [text, shown] of [
    ['runbeam.id.a\u0000b', 'a\\u{0}b'],
    ['runbeam.id.\ud800', '\\u{fffd}'],
    ['runbeam.id.😀', '\\u{1f600}'],
    ['runbeam.id.a\nb', 'a\\nb'],
    ['runbeam.id.\u012e', '\\u{12e}'],
  ]) {
    const e = throwsCode(() => Reference.parse(text), 'RUNBEAM_INVALID_REFERENCE')
    assert.ok(e.message.includes(shown), e.message)
    assert.ok(!e.message.includes('\n') && !e.message.includes('\u0000'), JSON.stringify(e.message))
  }
})

test('huge, deeply nested and binary TOML are RUNBEAM_CONFIG errors', () => {
  for (const text of [
    'x'.repeat(1 << 20),
    `a = ${'['.repeat(100000)}`,
    `a = ${'{ b = '.repeat(10000)}`,
    `a = "${'y'.repeat(5 << 20)}"`,
    '\u0000\u0001\u0002',
  ]) {
    const e = throwsCode(() => MeshConfig.fromToml(text), 'RUNBEAM_CONFIG', 'Config')
    assert.ok(e.problems.length >= 1)
    assert.ok(e.message.length < 1000, `${e.message.length} characters`)
  }
})
