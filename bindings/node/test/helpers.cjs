'use strict'
// Shared by the tests: fixture locations and assertions on the SDK's errors.

const assert = require('node:assert/strict')
const { readFileSync } = require('node:fs')
const { join } = require('node:path')
const { inspect } = require('node:util')

const REPO = join(__dirname, '..', '..', '..')
const FIXTURES = join(REPO, 'tests', 'fixtures')
const CONFIGS = join(FIXTURES, 'configs')
const EXAMPLES = join(REPO, 'examples', 'config')

/** Rows of tests/fixtures/references.tsv (format in its header comment). */
function referenceRows() {
  const text = readFileSync(join(FIXTURES, 'references.tsv'), 'utf8')
  const input = (field) => (field === '(empty)' ? '' : field)
  const opt = (field) => (field === '-' ? null : field)
  const valid = []
  const invalid = []
  for (const line of text.split('\n')) {
    const f = line.split('\t')
    if (f[0] === 'valid') {
      valid.push({
        input: input(f[1]),
        canonical: f[2],
        provider: f[3],
        team: opt(f[4]),
        type: opt(f[5]),
        lookup: f[6],
        value: f[7],
        isLocal: f[8] === '1',
      })
    } else if (f[0] === 'invalid') {
      invalid.push({ input: input(f[1]), segment: opt(f[2]), fragment: f[3] })
    }
  }
  return { valid, invalid }
}

/** How runbeam-core quotes input in messages: printable ASCII as is, the rest escaped. */
function quoted(text) {
  let out = ''
  for (const ch of text) {
    const cp = ch.codePointAt(0)
    if (cp >= 0x20 && cp < 0x7f) out += ch
    else if (ch === '\t') out += '\\t'
    else if (ch === '\n') out += '\\n'
    else if (ch === '\r') out += '\\r'
    else out += `\\u{${cp.toString(16)}}`
  }
  return out
}

/** Runs `fn`, asserts it throws an SDK error with `code`, and returns the error. */
function throwsCode(fn, code, kind) {
  let thrown
  assert.throws(fn, (e) => {
    thrown = e
    return true
  })
  assert.ok(thrown instanceof Error, `not an Error: ${thrown}`)
  assert.equal(thrown.code, code, thrown.message)
  if (kind !== undefined) assert.equal(thrown.kind, kind)
  assert.equal(typeof thrown.message, 'string')
  return thrown
}

/** Awaits `promise`, asserts it rejects with an SDK error with `code`, and returns the error. */
async function rejectsCode(promise, code) {
  const error = await promise.then(
    (value) => assert.fail(`resolved with ${inspect(value)} instead of rejecting with ${code}`),
    (e) => e,
  )
  assert.ok(error instanceof Error, `not an Error: ${error}`)
  assert.equal(error.code, code, error.message)
  return error
}

/** What `promise` settles with: `{value}` or `{error}`, or `'pending'` after `ms` (the timer is
 * cleared once it settles, so it never keeps the process alive). */
async function settledWithin(promise, ms) {
  let timer
  const late = new Promise((done) => {
    timer = setTimeout(() => done('pending'), ms)
  })
  const settled = promise.then(
    (value) => ({ value }),
    (error) => ({ error }),
  )
  try {
    return await Promise.race([settled, late])
  } finally {
    clearTimeout(timer)
  }
}

module.exports = { CONFIGS, EXAMPLES, FIXTURES, REPO, quoted, referenceRows, rejectsCode, settledWithin, throwsCode }
