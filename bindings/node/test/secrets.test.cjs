'use strict'
// No secret is ever shown: every result type and error of the Node surface, built with real
// values from runbeam-devcloud, is rendered every way a program may print or serialise it
// (`util.inspect` to any depth with hidden members and getters, `JSON.stringify`, `String()`,
// `Object.entries`, spreading, and a `for…in` copy as lodash's `assignIn`/`toPlainObject` make),
// and none of the texts holds a machine token, a mesh token, a user JWT or a Sanctum token (nor a
// long piece of one).

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const { join } = require('node:path')
const { inspect } = require('node:util')

const {
  AuthorizeResult,
  Client,
  FileTokenStore,
  IssuedMeshToken,
  MachineToken,
  MemoryTokenStore,
  MeshTokenResult,
  Resolver,
  TokenManager,
  UserToken,
  Validator,
} = require('..')
const {
  startDevcloud,
  analyticsConfig,
  ALICE_SANCTUM,
  BOB_SANCTUM,
  RADIOLOGY_GW,
  ANALYTICS_GW,
  MESH,
  DICOM_URL,
  DICOMWEB,
} = require('./devcloud.cjs')

const DESTINATION = `${DICOM_URL}/studies`

/**
 * A copy of every enumerable property, own and inherited, read by name: what
 * `for (const k in x) o[k] = x[k]`, lodash's `_.assignIn` and `_.toPlainObject` make. With
 * `functions: false` the methods are left out, so the copy can go through `JSON.stringify` (a
 * copied native `toJSON` would be called on the plain copy).
 */
function forInCopy(value, { functions = true } = {}) {
  const copy = {}
  for (const key in value) {
    const field = value[key]
    if (functions || typeof field !== 'function') copy[key] = field
  }
  return copy
}

/** Every way a value may end up in a log or a response: `[how, text]` pairs. */
function renderings(value) {
  const deep = { depth: Infinity, showHidden: true }
  const views = [
    ['inspect', inspect(value)],
    ['inspect, hidden', inspect(value, deep)],
    ['inspect, hidden and getters', inspect(value, { ...deep, getters: true })],
    ['JSON.stringify', JSON.stringify(value) ?? ''],
    ['String', String(value)],
  ]
  if (typeof value === 'object' && value !== null) {
    views.push(['inspect of Object.entries', inspect(Object.entries(value), deep)])
    views.push(['JSON.stringify of Object.entries', JSON.stringify(Object.entries(value))])
    views.push(['inspect of a spread copy', inspect({ ...value }, deep)])
    views.push(['JSON.stringify of a spread copy', JSON.stringify({ ...value })])
    views.push(['inspect of a for…in copy', inspect(forInCopy(value), { ...deep, getters: true })])
    views.push(['JSON.stringify of a for…in copy', JSON.stringify(forInCopy(value, { functions: false }))])
  }
  return views
}

/** The pieces of `secret` long enough to be a leak (a JWT's parts, a Sanctum token's secret). */
function pieces(secret) {
  return [secret, ...secret.split(/[.|]/)].filter((p) => p.length >= 12)
}

describe('secrets never shown (against runbeam-devcloud)', () => {
  let cloud
  let root
  const secrets = []
  const values = {}

  before(async () => {
    cloud = await startDevcloud()
    root = fs.mkdtempSync(join(os.tmpdir(), 'runbeam-secrets-'))
    const res = await fetch(`${cloud.url}/_dev/jwt`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'alice@radiology.example.com' }),
    })
    const userJwt = (await res.json()).token

    const alice = new Client(cloud.url, { token: ALICE_SANCTUM })
    const bob = new Client(cloud.url, { token: BOB_SANCTUM })
    const viaJwt = new Client(cloud.url, { token: userJwt })
    const granted = await bob.authorize(ANALYTICS_GW)
    const gateway = bob.withToken(granted.expose())
    const meshToken = await gateway.meshToken(MESH, DESTINATION)
    const radiologyGranted = await viaJwt.authorize(RADIOLOGY_GW)

    const validator = new Validator({ trustedIssuers: [`${cloud.url}/api`] })
    const claims = await validator.validate(userJwt)

    const memory = new MemoryTokenStore()
    const file = new FileTokenStore({ root })
    const machine = new MachineToken({
      machineToken: radiologyGranted.expose(),
      expiresAt: radiologyGranted.expiresAt,
      gatewayId: radiologyGranted.gateway.id,
      abilities: radiologyGranted.abilities,
    })
    await memory.saveMachineToken(RADIOLOGY_GW, machine)
    await file.saveMachineToken(RADIOLOGY_GW, machine)
    await file.saveUserToken(RADIOLOGY_GW, { token: userJwt, user: { email: 'alice@radiology.example.com' } })
    const manager = new TokenManager({
      instanceId: ANALYTICS_GW,
      store: new MemoryTokenStore(),
      client: new Client(cloud.url),
      credential: BOB_SANCTUM,
    })
    const managed = await manager.ensureToken()
    const resolver = new Resolver({
      config: analyticsConfig(cloud.url, 300),
      client: new Client(cloud.url),
      tokenManager: manager,
    })
    const resolution = await resolver.resolve(DICOMWEB)
    const issued = await resolver.meshToken(MESH, DESTINATION)

    const errors = await Promise.all([
      new Client(cloud.url, { token: `${ALICE_SANCTUM}x` }).list('gateways').catch((e) => e),
      alice.authorize(ANALYTICS_GW).catch((e) => e),
      gateway.acknowledgeChanges([granted.expose(), '01JDWNOTACHANGE']).catch((e) => e),
      gateway.change('01JDWNOTACHANGE').catch((e) => e),
      validator.validate(`${userJwt}x`).catch((e) => e),
      validator.verifyMeshToken(meshToken.expose(), 'no-such-mesh').catch((e) => e),
      resolver.verifyMeshToken(issued.expose(), 'no-such-mesh').catch((e) => e),
      new Client(cloud.url).withToken(userJwt).baseUrl().catch((e) => e),
    ])
    for (const e of errors) assert.ok(e instanceof Error && typeof e.code === 'string', inspect(e))

    secrets.push(ALICE_SANCTUM, BOB_SANCTUM, userJwt, granted.expose(), radiologyGranted.expose())
    secrets.push(meshToken.expose(), managed.expose(), issued.expose())
    Object.assign(values, {
      authorizeResult: granted,
      radiologyAuthorizeResult: radiologyGranted,
      meshToken,
      machineToken: machine,
      loadedMachineToken: await memory.loadMachineToken(RADIOLOGY_GW),
      fileMachineToken: await file.loadMachineToken(RADIOLOGY_GW),
      userToken: await file.loadUserToken(RADIOLOGY_GW),
      managedToken: managed,
      claims,
      resolved: await gateway.resolve(DICOMWEB),
      baseUrl: await gateway.baseUrl(),
      resolution,
      issuedMeshToken: issued,
      memoryStore: memory,
      fileStore: file,
      tokenManager: manager,
      resolver,
      validator,
      clients: [alice, bob, viaJwt, gateway],
      errors,
    })
  })

  after(async () => {
    await cloud?.stop()
    if (root) fs.rmSync(root, { recursive: true, force: true })
  })

  it('the values are real (the search below would find the secrets)', () => {
    assert.ok(values.authorizeResult instanceof AuthorizeResult)
    assert.ok(values.meshToken instanceof MeshTokenResult)
    assert.ok(values.userToken instanceof UserToken)
    assert.ok(values.machineToken instanceof MachineToken)
    assert.ok(values.managedToken instanceof MachineToken)
    assert.ok(values.issuedMeshToken instanceof IssuedMeshToken)
    assert.equal(values.loadedMachineToken.expose(), values.radiologyAuthorizeResult.expose())
    assert.equal(values.userToken.expose(), secrets[2])
    for (const secret of secrets) assert.ok(secret.length >= 16, 'a secret long enough to be searched for')
    // The search works: an exposed secret is found.
    const leak = renderings({ token: values.meshToken.expose() })
      .map(([, text]) => text)
      .join('\n')
    assert.ok(pieces(values.meshToken.expose()).every((p) => leak.includes(p)))
  })

  it('no rendering of any result, object or error shows a secret', () => {
    const all = Object.entries(values).flatMap(([name, value]) =>
      (Array.isArray(value) ? value : [value]).map((v, i) => [`${name}${Array.isArray(value) ? `[${i}]` : ''}`, v]),
    )
    for (const [name, value] of all) {
      for (const [how, text] of renderings(value)) {
        // The message names the value, the rendering and the secret, never the text (the secret).
        secrets.forEach((secret, index) => {
          const shown = pieces(secret).some((piece) => text.includes(piece))
          assert.ok(!shown, `${how}(${name}) shows secret #${index}`)
        })
      }
    }
  })

  it('every secret getter is left out of for…in and still reads the secret by name', () => {
    const getters = [
      ['authorizeResult', 'machineToken'],
      ['radiologyAuthorizeResult', 'machineToken'],
      ['meshToken', 'token'],
      ['machineToken', 'machineToken'],
      ['loadedMachineToken', 'machineToken'],
      ['fileMachineToken', 'machineToken'],
      ['managedToken', 'machineToken'],
      ['userToken', 'token'],
      ['issuedMeshToken', 'token'],
    ]
    for (const [name, getter] of getters) {
      const token = values[name]
      assert.ok(getter in token, `${name}.${getter} exists`)
      assert.ok(!Object.hasOwn(token, getter), `${name}.${getter} is not an own property`)
      assert.ok(!(getter in forInCopy(token)), `${name}.${getter} is enumerable`)
      assert.equal(token[getter], token.expose())
      assert.ok(secrets.includes(token.expose()), `${name}.expose() is one of the secrets`)
    }
  })

  it('the authorize and meshToken results redact the secret and offer an accessor', () => {
    const { authorizeResult: granted, meshToken } = values
    assert.deepEqual(Object.keys(granted), [])
    assert.deepEqual(Object.keys(meshToken), [])
    assert.deepEqual({ ...granted }, {})
    assert.equal(JSON.parse(JSON.stringify(granted)).machineToken, '***')
    assert.equal(JSON.parse(JSON.stringify(granted)).gateway.code, ANALYTICS_GW)
    assert.equal(JSON.parse(JSON.stringify(meshToken)).token, '***')
    assert.equal(JSON.parse(JSON.stringify(meshToken)).meshId, meshToken.meshId)
    assert.match(inspect(granted), /^AuthorizeResult \{.*machineToken: '\*\*\*'/s)
    assert.match(inspect(meshToken), /^MeshTokenResult \{.*token: '\*\*\*'/s)
    assert.equal(granted.expose(), granted.machineToken)
    assert.equal(meshToken.expose(), meshToken.token)
    assert.equal(meshToken.expose().split('.').length, 3)
  })
})
