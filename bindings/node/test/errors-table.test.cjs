'use strict'
// The error codes of the SDK against the core's error table (`_errorKinds()` of the addon): what
// `errorCodes()` returns, and the hand-written `ErrorCode` union of index.d.ts (from
// dts-header.d.ts), list exactly the table's codes, in its order.

const assert = require('node:assert/strict')
const { readFileSync } = require('node:fs')
const { join } = require('node:path')
const { test } = require('node:test')

const { Reference, errorCodes } = require('@runbeam/sdk')
const native = require('../native.js')
const { throwsCode } = require('./helpers.cjs')

const KINDS = native._errorKinds()
const CODES = KINDS.map((kind) => kind.code)

/** The members of `export type ErrorCode = | '…' | '…'` in a declaration file. */
function declaredCodes(file) {
  const text = readFileSync(join(__dirname, '..', file), 'utf8')
  const union = text.match(/^export type ErrorCode =((?:\s*\|\s*'[A-Z_]+')+)/m)?.[1]
  assert.ok(union, `${file} does not declare ErrorCode`)
  return [...union.matchAll(/'([A-Z_]+)'/g)].map((m) => m[1])
}

test('the core table has one row per kind, well formed', () => {
  assert.ok(KINDS.length >= 25, `${KINDS.length} kinds`)
  assert.equal(new Set(KINDS.map((k) => k.name)).size, KINDS.length)
  assert.equal(new Set(KINDS.map((k) => k.cStatus)).size, KINDS.length)
  for (const kind of KINDS) {
    const screaming = kind.name.replace(/(?<!^)([A-Z])/g, '_$1').toUpperCase()
    assert.equal(kind.code, `RUNBEAM_${screaming}`)
    assert.ok(['input', 'cloud', 'network', 'jwt', 'storage', 'internal'].includes(kind.category), kind.category)
    assert.equal(typeof kind.retryable, 'boolean')
    assert.equal(typeof kind.argumentError, 'boolean')
  }
  assert.deepEqual(KINDS.find((k) => k.name === 'NotFound'), {
    name: 'NotFound',
    code: 'RUNBEAM_NOT_FOUND',
    cStatus: 202,
    category: 'cloud',
    retryable: false,
    argumentError: false,
  })
})

test('errorCodes() is the table, in order', () => {
  assert.deepEqual(errorCodes(), CODES)
})

test('the ErrorCode union of index.d.ts lists exactly the table codes, in order', () => {
  assert.deepEqual(declaredCodes('index.d.ts'), CODES)
  // index.d.ts is generated from dts-header.d.ts, the file to edit.
  assert.deepEqual(declaredCodes('dts-header.d.ts'), CODES)
})

test('thrown errors carry a code and kind of the table', () => {
  const e = throwsCode(() => Reference.parse('runbeam.x'), 'RUNBEAM_INVALID_REFERENCE', 'InvalidReference')
  assert.deepEqual(
    KINDS.find((k) => k.code === e.code),
    {
      name: 'InvalidReference',
      code: 'RUNBEAM_INVALID_REFERENCE',
      cStatus: 101,
      category: 'input',
      retryable: false,
      argumentError: true,
    },
  )
})
