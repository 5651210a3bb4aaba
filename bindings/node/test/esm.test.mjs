// Loading with `import`: named and default exports are the CommonJS objects, and they work.

import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { test } from 'node:test'

import sdk, { MeshConfig, Reference, Validator, errorCodes, parseBearer, version } from '@runbeam/sdk'

const require = createRequire(import.meta.url)
const namespace = await import('@runbeam/sdk')

test('import and require give the same objects', () => {
  assert.ok(import.meta.resolve('@runbeam/sdk').endsWith('/bindings/node/index.mjs'))
  assert.ok(require.resolve('@runbeam/sdk').endsWith('/bindings/node/index.js'))
  const cjs = require('@runbeam/sdk')
  assert.equal(Reference, cjs.Reference)
  assert.equal(MeshConfig, cjs.MeshConfig)
  assert.equal(errorCodes, cjs.errorCodes)
  assert.equal(version, cjs.version)
  assert.equal(Validator, cjs.Validator)
  assert.equal(parseBearer, cjs.parseBearer)
  assert.equal(sdk, cjs)
  assert.deepEqual(Object.keys(namespace).sort(), [
    'AuthorizeResult',
    'Client',
    'FileTokenStore',
    'IssuedMeshToken',
    'KeyringTokenStore',
    'MachineToken',
    'MemoryTokenStore',
    'MeshConfig',
    'MeshTokenResult',
    'Outbound',
    'PROMETHEUS_CONTENT_TYPE',
    'Reference',
    'Resolver',
    'TokenManager',
    'UserToken',
    'Validator',
    'Watcher',
    'default',
    'errorCodes',
    'joinPath',
    'logLevel',
    'openTokenStore',
    'parseBearer',
    'prometheusText',
    'refusalFor',
    'setLogLevel',
    'setLogger',
    'version',
  ])
})

test('the ESM entry point works', () => {
  const r = Reference.parse('runbeam.acme-healthcare.INGRESS.name.fhir-api')
  assert.equal(r.toString(), 'runbeam.acme-healthcare.ingress.name.fhir-api')
  assert.equal(r.type, 'ingress')
  const config = MeshConfig.fromToml(`
    [provider.runbeam]
    api = "https://api.runbeam.io"
    [mesh.m]
    type = "http3"
    provider = "runbeam"
    egress = ["runbeam.acme-healthcare.ingress.name.fhir-api"]
  `)
  assert.equal(config.inMeshContext(r), true)
  assert.throws(() => Reference.parse('runbeam.name.fhir-api'), (e) => {
    assert.equal(e.code, 'RUNBEAM_INVALID_REFERENCE')
    assert.ok(e.message.includes('use <provider>.<team>.<type>.name.<name>'), e.message)
    return true
  })
  assert.ok(errorCodes().includes('RUNBEAM_INVALID_REFERENCE'))
  assert.equal(typeof version(), 'string')
})

test('the middleware subpaths load with import and require, the same objects', async () => {
  for (const name of ['express', 'fastify']) {
    assert.ok(import.meta.resolve(`@runbeam/sdk/${name}`).endsWith(`/bindings/node/${name}.mjs`))
    assert.ok(require.resolve(`@runbeam/sdk/${name}`).endsWith(`/bindings/node/${name}.js`))
    const esm = await import(`@runbeam/sdk/${name}`)
    const cjs = require(`@runbeam/sdk/${name}`)
    assert.deepEqual(Object.keys(esm).sort(), ['authenticate', 'default', 'meshGuard', 'refuse'])
    for (const key of ['authenticate', 'meshGuard', 'refuse']) assert.equal(esm[key], cjs[key])
    assert.equal(esm.default, cjs)
  }
})
