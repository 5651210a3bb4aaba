'use strict'
// MeshConfig against the seed snippets (tests/fixtures/configs) and the example gateways
// (examples/config), as runbeam-core/tests/config_fixtures.rs checks them in Rust.

const assert = require('node:assert/strict')
const { mkdtempSync, rmSync, writeFileSync } = require('node:fs')
const { tmpdir } = require('node:os')
const { join } = require('node:path')
const { test } = require('node:test')

const { MeshConfig, Reference } = require('@runbeam/sdk')
const { CONFIGS, EXAMPLES, throwsCode } = require('./helpers.cjs')

const seed = (name) => join(CONFIGS, `${name}.toml`)

test('seed snippets alone report the missing provider', () => {
  for (const name of ['seed-partner-integration', 'seed-team-b']) {
    const problems = MeshConfig.fromFile(seed(name)).validate()
    const unknown = problems.filter((p) => p.kind === 'UnknownProvider')
    assert.ok(unknown.length > 0, `${name}: ${JSON.stringify(problems)}`)
    for (const p of unknown) {
      assert.equal(p.code, 'RUNBEAM_UNKNOWN_PROVIDER')
      assert.ok(p.path.startsWith('mesh.'), p.path)
    }
    assert.ok(
      unknown.some((p) => p.message.startsWith("Unknown provider 'runbeam' in reference 'runbeam.")),
      JSON.stringify(unknown),
    )
  }
})

test('seed snippets load once completed, and their references are in mesh context', () => {
  const config = MeshConfig.fromFiles([
    seed('seed-partner-integration'),
    seed('seed-team-a'),
    seed('seed-team-b'),
    seed('completion'),
  ])
  assert.deepEqual(config.validate(), [])
  const theirApi = 'runbeam.partner-team.ingress.name.their-api'
  assert.equal(config.inMeshContext(theirApi), true)
  assert.equal(config.inMeshContext(Reference.parse(theirApi)), true)
  assert.equal(config.checkMeshContext(theirApi), 'partner-integration')
  assert.equal(config.checkMeshContext(Reference.parse(theirApi)), 'partner-integration')
  assert.equal(config.inMeshContext('runbeam.partner-team.ingress.name.other-api'), false)

  const remote = config.remoteReferences()
  for (const member of remote) assert.ok(member.reference instanceof Reference)
  assert.deepEqual(
    remote.map((m) => `${m.mesh}:${m.direction}:${m.reference}`),
    [
      'partner-integration:ingress:runbeam.partner-team.ingress.name.their-api',
      'imaging-integration:egress:runbeam.radiology-dept.ingress.name.dicomweb',
    ],
  )
  assert.equal(remote[0].reference.team, 'partner-team')
})

test('invalid-shape.toml fails to load with every problem and its path', () => {
  const e = throwsCode(() => MeshConfig.fromFile(seed('invalid-shape')), 'RUNBEAM_CONFIG', 'Config')
  assert.deepEqual(
    e.problems.map((p) => p.path),
    ['provider.runbeam.poll_interval_secs', 'mesh.imaging.enabeld', 'mesh.imaging.egress'],
  )
  for (const p of e.problems) {
    assert.deepEqual(Object.keys(p).sort(), ['code', 'kind', 'message', 'path'])
    assert.equal(p.kind, 'Config')
    assert.equal(p.code, 'RUNBEAM_CONFIG')
  }
  assert.ok(e.message.includes('invalid-shape.toml'), e.message)
  assert.ok(e.message.includes('mesh.imaging.enabeld'), e.message)
})

test('broken-unknown-provider.toml reports unknown providers and the bad reference', () => {
  const problems = MeshConfig.fromFile(join(EXAMPLES, 'broken-unknown-provider.toml')).validate()
  assert.deepEqual(
    problems.map((p) => [p.kind, p.code, p.path]),
    [
      ['UnknownProvider', 'RUNBEAM_UNKNOWN_PROVIDER', 'mesh.imaging-integration.provider'],
      ['UnknownProvider', 'RUNBEAM_UNKNOWN_PROVIDER', 'mesh.imaging-integration.egress[1]'],
      ['InvalidReference', 'RUNBEAM_INVALID_REFERENCE', 'mesh.imaging-integration.egress[2]'],
    ],
  )
  assert.ok(problems[2].message.includes('igress'), problems[2].message)
})

test('example gateways are valid and in mesh context', () => {
  const analytics = MeshConfig.fromFile(join(EXAMPLES, 'ai-analytics.toml'))
  assert.deepEqual(analytics.validate(), [])
  assert.equal(analytics.inMeshContext('runbeam.radiology-dept.ingress.name.dicomweb'), true)
  const e = throwsCode(
    () => analytics.checkMeshContext('runbeam.radiology-dept.ingress.name.other'),
    'RUNBEAM_NOT_IN_MESH',
    'NotInMesh',
  )
  assert.ok(e.message.includes('runbeam.radiology-dept.ingress.name.other'), e.message)
  throwsCode(
    () => analytics.checkMeshContext(Reference.parse('unknown.team.ingress.name.api')),
    'RUNBEAM_UNKNOWN_PROVIDER',
    'UnknownProvider',
  )
  assert.deepEqual(analytics.meshes(), [
    {
      name: 'imaging-integration',
      protocol: 'http3',
      provider: 'runbeam',
      id: null,
      cloudId: 'imaging-integration',
      enabled: true,
      isActive: true,
      description: null,
      ingress: [],
      egress: ['imaging-out', 'runbeam.radiology-dept.ingress.name.dicomweb'],
    },
  ])

  const radiology = MeshConfig.fromFile(join(EXAMPLES, 'radiology-dept.toml'))
  assert.deepEqual(radiology.validate(), [])
  assert.equal(radiology.inMeshContext('dicomweb'), true)
  assert.equal(radiology.inMeshContext(Reference.parse('local.name.dicomweb')), true)
  assert.deepEqual(radiology.remoteReferences(), [])
  const [mesh] = radiology.meshes()
  assert.equal(mesh.description, 'Radiology images for partner analytics')
  assert.deepEqual(mesh.ingress, ['dicomweb'])
})

test('a disabled mesh or provider gives no mesh context', () => {
  const toml = (meshEnabled, providerEnabled) => `
    [provider.runbeam]
    api = "https://api.runbeam.io"
    enabled = ${providerEnabled}
    [mesh.m]
    type = "http"
    provider = "runbeam"
    id = "01J9MESH"
    enabled = ${meshEnabled}
    egress = ["runbeam.t.ingress.name.x"]
  `
  for (const [mesh, provider, expected] of [
    [true, true, true],
    [false, true, false],
    [true, false, false],
  ]) {
    const config = MeshConfig.fromToml(toml(mesh, provider))
    assert.equal(config.inMeshContext('runbeam.t.ingress.name.x'), expected, `mesh ${mesh} provider ${provider}`)
  }
  const [m] = MeshConfig.fromToml(toml(false, true)).meshes()
  assert.deepEqual([m.protocol, m.id, m.cloudId, m.enabled, m.isActive], ['http', '01J9MESH', '01J9MESH', false, false])
  const [p] = MeshConfig.fromToml(toml(true, false)).meshes()
  assert.deepEqual([p.enabled, p.isActive], [true, false])
  throwsCode(
    () => MeshConfig.fromToml(toml(false, true)).checkMeshContext('runbeam.t.ingress.name.x'),
    'RUNBEAM_NOT_IN_MESH',
  )
})

test('a missing file is a RUNBEAM_CONFIG error naming the path', () => {
  const e = throwsCode(() => MeshConfig.fromFile('/nonexistent/gateway.toml'), 'RUNBEAM_CONFIG', 'Config')
  assert.ok(e.message.includes('/nonexistent/gateway.toml'), e.message)
  const e2 = throwsCode(() => MeshConfig.fromFiles([seed('completion'), '/nonexistent/b.toml']), 'RUNBEAM_CONFIG')
  assert.ok(e2.message.includes('/nonexistent/b.toml'), e2.message)
})

test('a key defined in two files is a problem, not a silent override', () => {
  const dir = mkdtempSync(join(tmpdir(), 'runbeam-node-'))
  try {
    const a = join(dir, 'a.toml')
    const b = join(dir, 'b.toml')
    writeFileSync(a, '[provider.runbeam]\napi = "https://api.runbeam.io"\n')
    writeFileSync(b, '[provider.runbeam]\napi = "https://evil.example.com"\n')
    const e = throwsCode(() => MeshConfig.fromFiles([a, b]), 'RUNBEAM_CONFIG')
    assert.deepEqual(e.problems.map((p) => p.path), ['provider.runbeam.api'])
    assert.ok(e.problems[0].message.includes('b.toml'), e.problems[0].message)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('TOML syntax errors are RUNBEAM_CONFIG errors with problems', () => {
  const e = throwsCode(() => MeshConfig.fromToml('[mesh.m\ntype = "http"'), 'RUNBEAM_CONFIG', 'Config')
  assert.ok(e.problems.length >= 1)
  assert.ok(e.message.includes('syntax'), e.message)
})

test('mesh context checks parse strings strictly', () => {
  const config = MeshConfig.fromFile(join(EXAMPLES, 'ai-analytics.toml'))
  const e = throwsCode(
    () => config.inMeshContext('runbeam.radiology-dept.igress.name.dicomweb'),
    'RUNBEAM_INVALID_REFERENCE',
  )
  assert.ok(e.message.startsWith("invalid reference 'runbeam.radiology-dept.igress.name.dicomweb': segment 2"), e.message)
  throwsCode(() => config.checkMeshContext(''), 'RUNBEAM_INVALID_REFERENCE')
})
