'use strict'
// Reference: every row of the shared fixture file, plus the JavaScript surface of the class.

const assert = require('node:assert/strict')
const { describe, test } = require('node:test')
const { inspect } = require('node:util')

const { Reference } = require('@runbeam/sdk')
const { quoted, referenceRows, throwsCode } = require('./helpers.cjs')

const rows = referenceRows()

test('the fixture file has rows of both kinds', () => {
  assert.ok(rows.valid.length >= 20, `${rows.valid.length} valid rows`)
  assert.ok(rows.invalid.length >= 20, `${rows.invalid.length} invalid rows`)
})

describe('valid fixtures parse into the expected parts', () => {
  for (const row of rows.valid) {
    test(JSON.stringify(row.input), () => {
      const r = Reference.parse(row.input)
      assert.ok(r instanceof Reference)
      assert.equal(r.toString(), row.canonical)
      assert.equal(String(r), row.canonical)
      assert.equal(r.provider, row.provider)
      assert.equal(r.team, row.team)
      assert.equal(r.type, row.type)
      assert.equal(r.lookup, row.lookup)
      assert.equal(r.value, row.value)
      assert.equal(r.isLocal, row.isLocal)
      const again = Reference.parse(r.toString())
      assert.ok(again.equals(r) && r.equals(again))
      assert.equal(again.toString(), row.canonical)
    })
  }
})

describe('invalid fixtures fail with RUNBEAM_INVALID_REFERENCE, the segment and the reason', () => {
  for (const row of rows.invalid) {
    test(JSON.stringify(row.input), () => {
      const e = throwsCode(() => Reference.parse(row.input), 'RUNBEAM_INVALID_REFERENCE', 'InvalidReference')
      const prefix = `invalid reference '${quoted(row.input)}': `
      assert.ok(e.message.startsWith(prefix), `${JSON.stringify(e.message)} does not start with ${JSON.stringify(prefix)}`)
      if (row.segment !== null) assert.ok(e.message.includes(`segment ${row.segment}`), e.message)
      assert.ok(e.message.includes(row.fragment), `${JSON.stringify(e.message)} lacks ${JSON.stringify(row.fragment)}`)
      assert.equal(e.problems, undefined)
    })
  }
})

test('new Reference(text) is Reference.parse(text)', () => {
  const r = new Reference('runbeam.acme.Mesh.id.M1')
  assert.equal(r.toString(), 'runbeam.acme.mesh.id.M1')
  assert.equal(r.type, 'mesh')
  throwsCode(() => new Reference('runbeam..id.x'), 'RUNBEAM_INVALID_REFERENCE')
})

test('parses are independent of each other', () => {
  // The parts travel through a buffer shared by all parses: earlier objects must keep theirs.
  const a = Reference.parse('runbeam.acme-corp.ingress.name.fhir-api')
  const b = Reference.parse('local.name.my-local-ingress')
  const c = Reference.parse('runbeam.id.abc123')
  assert.throws(() => Reference.parse('runbeam.acme.widget.name.api'))
  assert.deepEqual(
    [a, b, c].map((r) => [r.provider, r.team, r.type, r.lookup, r.value, r.isLocal, String(r)]),
    [
      ['runbeam', 'acme-corp', 'ingress', 'name', 'fhir-api', false, 'runbeam.acme-corp.ingress.name.fhir-api'],
      ['local', null, null, 'name', 'my-local-ingress', true, 'my-local-ingress'],
      ['runbeam', null, null, 'id', 'abc123', false, 'runbeam.id.abc123'],
    ],
  )
})

test('equals compares canonical forms and only References', () => {
  const local = Reference.parse('local.name.x')
  assert.ok(local.equals(Reference.parse('x')))
  assert.ok(Reference.parse('runbeam.a.INGRESS.id.1').equals(Reference.parse('runbeam.a.ingress.id.1')))
  assert.ok(!local.equals(Reference.parse('y')))
  assert.ok(!Reference.parse('runbeam.a.ingress.id.1').equals(Reference.parse('runbeam.a.egress.id.1')))
  for (const other of ['x', null, undefined, 1, {}, { toString: () => 'x' }, Object.create(Reference.prototype)]) {
    assert.equal(local.equals(other), false, inspect(other))
  }
})

test('a Reference is immutable', () => {
  const r = Reference.parse('runbeam.acme.ingress.name.api')
  assert.throws(() => {
    r.provider = 'other'
  }, TypeError)
  assert.equal(r.provider, 'runbeam')
  assert.equal(r.toString(), 'runbeam.acme.ingress.name.api')
})

test('JSON and inspect show the canonical form', () => {
  const r = Reference.parse('local.name.my-ingress')
  assert.equal(JSON.stringify({ r }), '{"r":"my-ingress"}')
  assert.equal(inspect(r), 'Reference(my-ingress)')
  assert.equal(`${Reference.parse('runbeam.acme.Backend.name.b')}`, 'runbeam.acme.backend.name.b')
})
