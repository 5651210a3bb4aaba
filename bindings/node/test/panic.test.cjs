'use strict'
// The panic boundary: a panic inside librunbeam (forced with the test-only `_faultArm` of debug
// builds) is one failed call — a `RUNBEAM_INTERNAL` error, thrown or rejected like any other —
// never an aborted Node process, and it prints nothing. The object that panicked keeps
// working. Also the regressions that used to abort the process: a JWT whose `alg` holds a
// multi-byte character, and JSON arrays where the JOSE header or the claims set belong.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const crypto = require('node:crypto')
const http = require('node:http')
const { join } = require('node:path')
const { inspect } = require('node:util')

const {
  Client,
  MemoryTokenStore,
  MeshConfig,
  Reference,
  Resolver,
  TokenManager,
  Validator,
} = require('..')
const native = require('../native.js')
const { startDevcloud, analyticsConfig, BOB_SANCTUM, ANALYTICS_GW, DICOMWEB, MESH } = require('./devcloud.cjs')
const { rejectsCode, throwsCode } = require('./helpers.cjs')

const arm = native._faultArm

/** Asserts `error` is the binding's error for a caught panic. */
function assertInternal(error) {
  assert.ok(error instanceof Error, `not an Error: ${inspect(error)}`)
  assert.equal(error.code, 'RUNBEAM_INTERNAL', inspect(error))
  assert.equal(error.kind, 'Internal')
  // Caught by the binding ("internal error in Reference.parse: …") or, for work the core runs
  // on its own blocking threads, by the core ("storage task failed: … panicked …").
  assert.match(error.message, /fault injected at/)
  assert.equal(error.status, null)
}

/** Arms `site` once, asserts the synchronous `call` throws RUNBEAM_INTERNAL. */
function panicsSync(site, call) {
  arm(site, 1)
  try {
    assertInternal(throwsCode(call, 'RUNBEAM_INTERNAL', 'Internal'))
  } finally {
    arm(site, 0)
  }
}

/** Arms `site` once, asserts the Promise `call()` returns rejects with RUNBEAM_INTERNAL. */
async function panicsAsync(site, call) {
  arm(site, 1)
  try {
    assertInternal(await rejectsCode(call(), 'RUNBEAM_INTERNAL'))
  } finally {
    arm(site, 0)
  }
}

const b64 = (text) => Buffer.from(text).toString('base64url')

/** A JWKS server on loopback with one RSA key; `sign(headerJson, payloadJson)` signs exact
 * JSON texts with it (so that tests can sign what devcloud will not: arrays, odd algs). */
async function ownIssuer() {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'own-1', alg: 'RS256', use: 'sig' }
  const server = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ keys: [jwk] }))
  })
  await new Promise((done) => server.listen(0, '127.0.0.1', done))
  const url = `http://127.0.0.1:${server.address().port}/jwks.json`
  const sign = (header, payload) => {
    const input = `${b64(header)}.${b64(payload)}`
    return `${input}.${crypto.sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`
  }
  return { url, sign, close: () => new Promise((done) => server.close(done)) }
}

describe('panic boundary', () => {
  let cloud
  let own

  before(async () => {
    assert.equal(typeof arm, 'function', 'the debug addon has _faultArm (fault-injection feature)')
    cloud = await startDevcloud()
    own = await ownIssuer()
  })

  after(async () => {
    await cloud?.stop()
    await own?.close()
  })

  /** A validator trusting devcloud, its keys fetched. */
  async function cloudValidator() {
    const validator = new Validator({ trustedIssuers: [`${cloud.url}/api`] })
    await validator.refreshKeys()
    return validator
  }

  async function userJwt() {
    const res = await fetch(`${cloud.url}/_dev/jwt`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'alice@radiology.example.com' }),
    })
    assert.equal(res.status, 200, await res.clone().text())
    return (await res.json()).token
  }

  /** A resolver for Bob's analytics gateway against devcloud. */
  function analytics() {
    const client = new Client(cloud.url)
    const tokenManager = new TokenManager({
      instanceId: ANALYTICS_GW,
      store: new MemoryTokenStore(),
      client,
      credential: BOB_SANCTUM,
    })
    return new Resolver({ config: analyticsConfig(cloud.url, 300), client, tokenManager })
  }

  it('site "jwt": validateCached, validate, verifyMeshTokenCached, verifyMeshToken', async () => {
    const validator = await cloudValidator()
    const token = await userJwt()
    panicsSync('jwt', () => validator.validateCached(token))
    assert.equal(validator.validateCached(token).iss, `${cloud.url}/api`, 'usable after the panic')
    await panicsAsync('jwt', () => validator.validate(token))
    assert.equal((await validator.validate(token)).iss, `${cloud.url}/api`)
    panicsSync('jwt', () => validator.verifyMeshTokenCached(token, MESH))
    throwsCode(() => validator.verifyMeshTokenCached(token, MESH), 'RUNBEAM_JWT_INVALID')
    await panicsAsync('jwt', () => validator.verifyMeshToken(token, MESH))
    await rejectsCode(validator.verifyMeshToken(token, MESH), 'RUNBEAM_JWT_INVALID')
    assert.equal(validator.validateCached(token).iss, `${cloud.url}/api`)
  })

  it('site "reference": Reference.parse, MeshConfig.inMeshContext, Client.resolve', async () => {
    panicsSync('reference', () => Reference.parse(DICOMWEB))
    assert.equal(Reference.parse(DICOMWEB).toString(), DICOMWEB, 'usable after the panic')
    const config = analyticsConfig(cloud.url, 300)
    panicsSync('reference', () => config.inMeshContext(DICOMWEB))
    assert.equal(config.inMeshContext(DICOMWEB), true)
    const client = new Client(cloud.url, { token: 'unused' })
    await panicsAsync('reference', () => client.resolve(DICOMWEB))
  })

  it('site "resolve": Resolver.resolveCached and resolve', async () => {
    const resolver = analytics()
    const first = await resolver.resolve(DICOMWEB)
    panicsSync('resolve', () => resolver.resolveCached(DICOMWEB))
    assert.equal(resolver.resolveCached(DICOMWEB), first, 'usable after the panic (cache hit)')
    await panicsAsync('resolve', () => resolver.resolve(DICOMWEB))
    assert.equal(await resolver.resolve(DICOMWEB), first)
  })

  it('site "storage": a token store load and TokenManager.ensureToken', async () => {
    const store = new MemoryTokenStore()
    await panicsAsync('storage', () => store.loadMachineToken(ANALYTICS_GW))
    assert.equal(await store.loadMachineToken(ANALYTICS_GW), null, 'usable after the panic')
    const manager = new TokenManager({
      instanceId: ANALYTICS_GW,
      store,
      client: new Client(cloud.url),
      credential: BOB_SANCTUM,
    })
    await panicsAsync('storage', () => manager.ensureToken())
    const token = await manager.ensureToken()
    assert.equal(token.gatewayId.length > 0, true, 'usable after the panic')
  })

  it('site "jwks": Validator.refreshKeys', async () => {
    const validator = new Validator({ trustedIssuers: [`${cloud.url}/api`] })
    await panicsAsync('jwks', () => validator.refreshKeys())
    // Within the minimum refresh interval the failed attempt is remembered; a new validator
    // over the same JWKS shows the fetch itself works again.
    const again = new Validator({ trustedIssuers: [`${cloud.url}/api`] })
    await again.refreshKeys()
    assert.ok(again.validateCached(await userJwt()))
  })

  it('prints nothing and keeps the process alive, sync and async (RUST_BACKTRACE=1)', () => {
    const script = `
      const { MemoryTokenStore, Reference } = require(${JSON.stringify(join(__dirname, '..'))})
      const native = require(${JSON.stringify(join(__dirname, '..', 'native.js'))})
      native._faultArm('reference', 1)
      let sync
      try { Reference.parse('runbeam.a.ingress.name.b') } catch (e) { sync = e.code }
      native._faultArm('storage', 1)
      new MemoryTokenStore().loadMachineToken('gw').then(
        () => process.exit(3),
        (e) => { if (sync !== 'RUNBEAM_INTERNAL' || e.code !== 'RUNBEAM_INTERNAL') process.exit(4) },
      )
    `
    const child = spawnSync(process.execPath, ['-e', script], {
      env: { ...process.env, RUST_BACKTRACE: '1' },
      encoding: 'utf8',
    })
    assert.equal(child.status, 0, `exit ${child.status} ${child.signal ?? ''}: ${child.stderr}`)
    assert.equal(child.stderr, '')
  })
})

describe('JWTs that used to abort the process', () => {
  let own
  let validator

  before(async () => {
    own = await ownIssuer()
    validator = new Validator({ jwksUrl: own.url })
    await validator.refreshKeys()
  })

  after(async () => {
    await own?.close()
  })

  const PAYLOAD = JSON.stringify({ iss: 'own', sub: 'u', exp: Math.floor(Date.now() / 1000) + 600 })

  it('a genuine token of this issuer passes (the fixture works)', () => {
    const token = own.sign(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: 'own-1' }), PAYLOAD)
    assert.equal(validator.validateCached(token).sub, 'u')
  })

  for (const [name, header] of [
    ['a multi-byte alg "a€b"', '{"alg":"a€b","typ":"JWT","kid":"own-1"}'],
    ['the JSON-escaped form "a\\u20acb"', '{"alg":"a\\u20acb","typ":"JWT","kid":"own-1"}'],
  ]) {
    it(`${name} is RUNBEAM_JWT_INVALID in validateCached, validate and verifyMeshTokenCached`, async () => {
      const token = own.sign(header, PAYLOAD)
      throwsCode(() => validator.validateCached(token), 'RUNBEAM_JWT_INVALID')
      await rejectsCode(validator.validate(token), 'RUNBEAM_JWT_INVALID')
      throwsCode(() => validator.verifyMeshTokenCached(token, MESH), 'RUNBEAM_JWT_INVALID')
      await rejectsCode(validator.verifyMeshToken(token, MESH), 'RUNBEAM_JWT_INVALID')
    })
  }

  it('a validly signed token whose header or claims set is a JSON array is refused', async () => {
    const header = JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: 'own-1' })
    for (const token of [own.sign(`[${header}]`, PAYLOAD), own.sign(header, `[${PAYLOAD}]`), own.sign(header, '[]')]) {
      throwsCode(() => validator.validateCached(token), 'RUNBEAM_JWT_INVALID')
      await rejectsCode(validator.validate(token), 'RUNBEAM_JWT_INVALID')
      throwsCode(() => validator.verifyMeshTokenCached(token, MESH), 'RUNBEAM_JWT_INVALID')
    }
  })
})
