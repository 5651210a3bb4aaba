'use strict'
// The package: version, entry points, and index.d.ts against the runtime and TypeScript.

const assert = require('node:assert/strict')
const { readFileSync } = require('node:fs')
const { join } = require('node:path')
const { test } = require('node:test')

const sdk = require('@runbeam/sdk')
const { REPO, throwsCode } = require('./helpers.cjs')

const PACKAGE = join(__dirname, '..')
const pkg = require('../package.json')
const dts = readFileSync(join(PACKAGE, 'index.d.ts'), 'utf8')

test('version() is the package version and the Cargo workspace version', () => {
  assert.equal(sdk.version(), pkg.version)
  const cargo = readFileSync(join(REPO, 'Cargo.toml'), 'utf8')
  const workspace = cargo.slice(cargo.indexOf('[workspace.package]'))
  assert.equal(workspace.match(/^version\s*=\s*"([^"]+)"/m)?.[1], pkg.version)
})

test('package.json points require, import and types at the shipped files', () => {
  assert.equal(pkg.name, '@runbeam/sdk')
  assert.equal(pkg.main, 'index.js')
  assert.equal(pkg.types, 'index.d.ts')
  assert.deepEqual(pkg.exports['.'], { types: './index.d.ts', import: './index.mjs', require: './index.js' })
  for (const file of ['index.js', 'index.mjs', 'index.d.ts', 'native.js']) {
    assert.ok(pkg.files.includes(file), file)
  }
  // The middleware: subpath exports, CommonJS + ESM + types, over the internal middleware.js.
  for (const name of ['express', 'fastify']) {
    assert.deepEqual(pkg.exports[`./${name}`], { types: `./${name}.d.ts`, import: `./${name}.mjs`, require: `./${name}.js` })
    for (const file of [`${name}.js`, `${name}.mjs`, `${name}.d.ts`]) assert.ok(pkg.files.includes(file), file)
  }
  assert.ok(pkg.files.includes('middleware.js'))
  assert.equal(pkg.exports['./middleware'], undefined, 'middleware.js is internal')
  // No framework is a dependency of the package: they are devDependencies, for the tests.
  assert.ok(pkg.devDependencies.express && pkg.devDependencies.fastify)
  assert.equal(pkg.peerDependencies, undefined)
  assert.equal(pkg.devDependencies['@napi-rs/cli'], '3.10.12')
  assert.equal(pkg.dependencies, undefined)
})

test('index.d.ts declares exactly the runtime exports', () => {
  const declared = [...dts.matchAll(/^export declare (?:class|function|const) (\w+)/gm)].map((m) => m[1])
  assert.deepEqual(declared.sort(), Object.keys(sdk).sort())
  // Internal helpers of index.js stay out of the public types.
  assert.ok(!dts.includes('__'), 'index.d.ts mentions an internal __ function')
})

test('the ResourceType declared in index.d.ts is the list runbeam-core accepts', () => {
  const union = dts.match(/^export type ResourceType = (.*)$/m)?.[1]
  assert.ok(union, 'ResourceType is not declared')
  const declared = [...union.matchAll(/'(\w+)'/g)].map((m) => m[1])
  const e = throwsCode(() => sdk.Reference.parse('runbeam.t.x.id.1'), 'RUNBEAM_INVALID_REFERENCE')
  const accepted = e.message.match(/expected one of ([a-z, ]+)\)/)?.[1].split(', ')
  assert.deepEqual(declared, accepted)
  for (const type of declared) assert.equal(sdk.Reference.parse(`runbeam.t.${type.toUpperCase()}.id.1`).type, type)
})

test('the UpdateKind declared in index.d.ts is the list runbeam-core accepts', async () => {
  const union = dts.match(/^export type UpdateKind = (.*)$/m)?.[1]
  assert.ok(union, 'UpdateKind is not declared')
  const declared = [...union.matchAll(/'(\w+)'/g)].map((m) => m[1])
  // Rejected before any request is sent: the URL need not answer.
  const client = new sdk.Client('http://127.0.0.1:9', { token: 'x' })
  const e = await client.updateConfig('widget', '').catch((error) => error)
  assert.equal(e.code, 'RUNBEAM_INVALID_ARGUMENT', String(e))
  const accepted = e.message.split('expected one of ')[1]?.match(/`(\w+)`/g)?.map((k) => k.slice(1, -1))
  assert.deepEqual(declared, accepted)
})

test('the JwtAlgorithm declared in index.d.ts is the list runbeam-core accepts', () => {
  const union = dts.match(/^export type JwtAlgorithm = (.*)$/m)?.[1]
  assert.ok(union, 'JwtAlgorithm is not declared')
  const declared = [...union.matchAll(/'(\w+)'/g)].map((m) => m[1])
  const e = throwsCode(
    () => new sdk.Validator({ trustedIssuers: ['https://x.example/api'], algorithms: ['XS1'] }),
    'RUNBEAM_INVALID_ARGUMENT',
  )
  assert.deepEqual(declared, e.message.split('supported: ')[1]?.split(', '))
  for (const alg of declared) new sdk.Validator({ trustedIssuers: ['https://x.example/api'], algorithms: [alg] })
})

/** Type-checks `file` against the package's declarations; returns the diagnostics. */
function typecheck(file) {
  const ts = require('typescript')
  const program = ts.createProgram([join(__dirname, 'types', file)], {
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: [],
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
  })
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => `${d.file ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: ` : ''}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`)
}

test('TypeScript code using the SDK type-checks against index.d.ts', () => {
  assert.deepEqual(typecheck('usage.ts'), [])
})

test('TypeScript rejects misuse of the SDK', () => {
  const diagnostics = typecheck('misuse.ts')
  // Every line from 6 on (after the imports) but the last.
  for (let line = 6; line <= 40; line++) {
    assert.ok(
      diagnostics.some((d) => d.includes(`misuse.ts:${line}: `)),
      `no error on line ${line}: ${diagnostics.join('\n')}`,
    )
  }
})
