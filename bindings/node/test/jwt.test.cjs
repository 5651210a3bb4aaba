'use strict'
// Validator (JWT validation, docs/spec.md §4) and parseBearer against a runbeam-devcloud subprocess: the
// Node side of tests/e2e/tests/jwt_attacks.rs. Tokens are minted by devcloud's POST /_dev/jwt
// (claims and header members overridden, null removes one) or forged here with node:crypto.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { createHmac } = require('node:crypto')
const { inspect } = require('node:util')

const { Client, Validator, parseBearer } = require('..')
const { ALICE_EMAIL, BOB_SANCTUM, ANALYTICS_GW, MESH, DICOM_URL } = require('./devcloud.cjs')
const { startJwtCloud } = require('./jwt-cloud.cjs')
const { throwsCode } = require('./helpers.cjs')

const JWKS = 'GET /api/.well-known/jwks.json'

const b64 = (data) => Buffer.from(data).toString('base64url')
const unb64 = (text) => JSON.parse(Buffer.from(text, 'base64url').toString('utf8'))
const now = () => Math.floor(Date.now() / 1000)

/** `token` with its header replaced by `header` (signature kept: it no longer verifies). */
function withHeader(token, header) {
  const [, payload, signature] = token.split('.')
  return `${b64(JSON.stringify(header))}.${payload}.${signature}`
}

/** Asserts `promise` rejects with `code` and that the error nowhere shows `token`. */
async function refused(promise, code, token) {
  let error
  await assert.rejects(promise, (e) => {
    error = e
    return true
  })
  assert.ok(error instanceof Error, inspect(error))
  assert.equal(error.code, code, inspect(error))
  assertNoToken(error, token)
  return error
}

function assertNoToken(error, token) {
  // Any long piece of the token would be a leak, not only the whole of it.
  const pieces = [token, ...token.split('.')].filter((p) => p.length >= 8)
  for (const text of [error.message, error.stack, inspect(error), inspect(error, { showHidden: true })]) {
    for (const piece of pieces) assert.ok(!text.includes(piece), `the error shows the token: ${text}`)
  }
}

describe('Validator against runbeam-devcloud', () => {
  let cloud
  let issuer
  let mint

  before(async () => {
    // `mint(extra)`: a token signed by devcloud with `extra` request members (claims, header,
    // alg, ttl_secs).
    ;({ cloud, issuer, mint } = await startJwtCloud())
  })

  after(async () => {
    await cloud?.stop()
  })

  const validator = (options = {}) => new Validator({ trustedIssuers: [issuer], ...options })

  it('gives the typed claims of a genuine user JWT, and every claim', async () => {
    const token = await mint({ claims: { scope: 'gateways', roles: ['admin'], aud: ['a', 'b'] } })
    const claims = await validator().validate(token)
    assert.equal(claims.iss, issuer)
    assert.equal(typeof claims.sub, 'string')
    assert.deepEqual([...claims.aud], ['a', 'b'])
    assert.ok(claims.exp > now() && claims.exp <= now() + 3700)
    assert.ok(Math.abs(claims.iat - now()) < 60)
    assert.equal(claims.nbf, claims.iat)
    assert.equal(typeof claims.jti, 'string')
    assert.deepEqual({ ...claims.user }, { id: claims.sub, email: ALICE_EMAIL, name: 'Alice Reyes' })
    assert.equal(claims.team.name, 'Radiology Department')
    assert.equal(typeof claims.team.id, 'string')
    assert.equal(claims.all.scope, 'gateways')
    assert.deepEqual(claims.all.roles, ['admin'])
    assert.deepEqual(claims.all, unb64(token.split('.')[1]))
    assert.deepEqual(JSON.parse(JSON.stringify(claims)), claims.all)
    // Frozen, all the way down: the same object may be handed out again.
    for (const object of [claims, claims.user, claims.team, claims.aud, claims.all, claims.all.roles]) {
      assert.ok(Object.isFrozen(object), inspect(object))
    }
  })

  it('names the Cloud a user JWT came from: claims.apiBaseUrl()', async () => {
    const claims = await validator().validate(await mint())
    assert.equal(claims.apiBaseUrl(), cloud.url)
    assert.equal(new Client(claims.apiBaseUrl()).apiRoot, new Client(cloud.url).apiRoot)
    // An issuer that is no http(s) URL, or none (a pinned JWKS URL accepts any issuer).
    const pinned = new Validator({ jwksUrl: `${issuer}/.well-known/jwks.json` })
    for (const iss of ['urn:runbeam:cloud', null]) {
      const odd = await pinned.validate(await mint({ claims: { iss } }))
      assert.equal(odd.iss, iss)
      const e = throwsCode(() => odd.apiBaseUrl(), 'RUNBEAM_INVALID_ARGUMENT', 'InvalidArgument')
      assert.match(e.message, /issuer/)
    }
  })

  it('gives null for absent optional claims and a string aud as a string', async () => {
    const token = await mint({ claims: { user: null, team: null, jti: null, nbf: null, aud: 'gw' } })
    const claims = await validator({ audiences: ['gw'] }).validate(token)
    assert.equal(claims.user, null)
    assert.equal(claims.team, null)
    assert.equal(claims.jti, null)
    assert.equal(claims.nbf, null)
    assert.equal(claims.aud, 'gw')
    const noAud = await validator().validate(await mint())
    assert.equal(noAud.aud, null)
  })

  it('validateCached is null before keys are fetched, claims after, and never fetches', async () => {
    const token = await mint()
    const v = validator()
    await cloud.resetCounts()
    assert.equal(v.validateCached(token), null)
    assert.equal(v.validateCached(token), null)
    assert.equal(await cloud.count(JWKS), 0, 'validateCached made a request')
    await v.refreshKeys()
    assert.equal(await cloud.count(JWKS), 1)
    const first = v.validateCached(token)
    assert.equal(first.user.email, ALICE_EMAIL)
    // A repeated token: the core keeps its claims from the second verification on, then the
    // verified-token cache answers, and from its second cache hit on with the same (frozen)
    // object.
    assert.equal(v.cachedTokens, 0)
    v.validateCached(token)
    const claims = v.validateCached(token)
    assert.deepEqual(claims, first)
    assert.equal(v.validateCached(token), claims)
    assert.equal(v.cachedTokens, 1)
    assert.equal(await v.validate(token), claims)
    // After a flush the signature is checked again: equal claims, a new object.
    v.flushTokenCache()
    assert.equal(v.cachedTokens, 0)
    const again = v.validateCached(token)
    assert.notEqual(again, claims)
    assert.deepEqual(again.all, claims.all)
    // With the cache disabled every call verifies and builds its claims.
    const uncached = validator({ cacheCapacity: 0 })
    await uncached.refreshKeys()
    assert.equal(uncached.validateCached(token).jti, claims.jti)
    assert.equal(uncached.cachedTokens, 0)
    assert.equal(await cloud.count(JWKS), 2)
  })

  it('hands out the claims of the right token while its caches evict', async () => {
    const tokens = await Promise.all(Array.from({ length: 12 }, () => mint()))
    const jti = (t) => unb64(t.split('.')[1]).jti
    const v = validator({ cacheCapacity: 4 })
    await v.refreshKeys()
    for (let round = 0; round < 4; round++) {
      for (const t of [...tokens, tokens[0], tokens[0], tokens[5]]) assert.equal(v.validateCached(t).jti, jti(t))
      // At least the 4 most recent tokens, at most twice the capacity (two generations).
      assert.ok(v.cachedTokens <= 8, String(v.cachedTokens))
    }
  })

  it('validate fetches the keys once, and resolves from the cache afterwards', async () => {
    const tokens = await Promise.all([mint(), mint(), mint()])
    const v = validator()
    await cloud.resetCounts()
    const all = await Promise.all(tokens.map((t) => v.validate(t)))
    assert.deepEqual(
      all.map((c) => c.jti),
      tokens.map((t) => unb64(t.split('.')[1]).jti),
    )
    assert.equal(await cloud.count(JWKS), 1, 'concurrent cold validations fetch the JWKS once')
    const hit = v.validate(tokens[0])
    assert.ok(hit instanceof Promise)
    assert.equal((await hit).jti, all[0].jti)
    assert.equal(await cloud.count(JWKS), 1)
  })

  it('refuses unsigned and HMAC-confusion tokens', async () => {
    const v = validator()
    const genuine = await mint()
    await v.refreshKeys()
    const [h, p] = genuine.split('.')
    const { kid } = unb64(h)
    const none = `${b64(JSON.stringify({ alg: 'none', kid }))}.${p}.`
    const e = await refused(v.validate(none), 'RUNBEAM_JWT_INVALID', none)
    assert.match(e.message, /never/)
    assert.equal(e.kind, 'JwtInvalid')

    // HS256 "signed" with the public key (as served in the JWKS) as the HMAC secret.
    const jwks = await (await fetch(`${issuer}/.well-known/jwks.json`)).json()
    const header = b64(JSON.stringify({ alg: 'HS256', kid }))
    for (const secret of [JSON.stringify(jwks.keys[0]), jwks.keys[0].n]) {
      const tag = createHmac('sha256', secret).update(`${header}.${p}`).digest('base64url')
      const confused = `${header}.${p}.${tag}`
      const err = await refused(v.validate(confused), 'RUNBEAM_JWT_INVALID', confused)
      assert.match(err.message, /HMAC/)
      throwsCode(() => v.validateCached(confused), 'RUNBEAM_JWT_INVALID')
    }
    const lower = withHeader(genuine, { alg: 'rs256', kid })
    await refused(v.validate(lower), 'RUNBEAM_JWT_INVALID', lower)
  })

  it('refuses a token without kid', async () => {
    const token = await mint({ header: { kid: null } })
    const e = await refused(validator().validate(token), 'RUNBEAM_JWT_INVALID', token)
    assert.match(e.message, /kid/)
  })

  it('refuses untrusted and look-alike issuers without any JWKS request', async () => {
    const authority = issuer.replace(/^http:\/\//, '').replace(/\/api$/, '')
    const [host, port] = authority.split(':')
    const otherPort = (Number(port) + 1) % 65536
    const lookAlikes = [
      'https://api.runbeam.io/api',
      `http://${host}.evil.example:${port}/api`,
      `http://${authority}.evil.example/api`,
      `http://${authority}@evil.example/api`,
      `http://evil@${authority}/api`,
      `http://${host}:${otherPort}/api`,
      `https://${authority}/api`,
      `http://${authority}/apix`,
      `http://${authority}/api/evil`,
      `http://${authority}`,
      '',
    ]
    const v = validator()
    const tokens = await Promise.all(lookAlikes.map((iss) => mint({ claims: { iss } })))
    const noIss = await mint({ claims: { iss: null } })
    await cloud.resetCounts()
    for (const [i, token] of tokens.entries()) {
      const e = await refused(v.validate(token), 'RUNBEAM_UNTRUSTED_ISSUER', token)
      assert.equal(e.kind, 'UntrustedIssuer')
      if (lookAlikes[i] !== '') assert.match(e.message, /not trusted/, lookAlikes[i])
      throwsCode(() => v.validateCached(token), 'RUNBEAM_UNTRUSTED_ISSUER')
    }
    await refused(v.validate(noIss), 'RUNBEAM_UNTRUSTED_ISSUER', noIss)
    assert.equal(await cloud.count(JWKS), 0, 'a JWKS request was made for an untrusted issuer')
    // The trusted issuer spelled differently is still the trusted one.
    const same = await mint({ claims: { iss: `HTTP://${authority}/api/` } })
    assert.equal((await v.validate(same)).iss, `HTTP://${authority}/api/`)
  })

  it('enforces exp, nbf, iat and the leeway', async () => {
    const v = validator({ leewayMs: 30000 })
    await v.refreshKeys()
    const expired = await mint({ ttl_secs: -120 })
    const e = await refused(v.validate(expired), 'RUNBEAM_JWT_EXPIRED', expired)
    assert.equal(e.kind, 'JwtExpired')
    throwsCode(() => v.validateCached(expired), 'RUNBEAM_JWT_EXPIRED')
    // Within the leeway: accepted.
    assert.ok(await v.validate(await mint({ ttl_secs: -10 })))
    const early = await mint({ claims: { nbf: now() + 600 } })
    await refused(v.validate(early), 'RUNBEAM_JWT_INVALID', early)
    const future = await mint({ claims: { iat: now() + 600 } })
    await refused(v.validate(future), 'RUNBEAM_JWT_INVALID', future)
    const noExp = await mint({ claims: { exp: null } })
    const missing = await refused(v.validate(noExp), 'RUNBEAM_JWT_INVALID', noExp)
    assert.match(missing.message, /exp/)
    const textExp = await mint({ claims: { exp: String(now() + 600) } })
    await refused(v.validate(textExp), 'RUNBEAM_JWT_INVALID', textExp)
  })

  it('checks audiences and required claims', async () => {
    const v = validator({ audiences: ['gw-1', 'gw-2'], requiredClaims: ['team', 'scope'] })
    const good = await mint({ claims: { aud: ['other', 'gw-2'], scope: 's' } })
    assert.deepEqual([...(await v.validate(good)).aud], ['other', 'gw-2'])
    for (const claims of [{ aud: 'gw-3', scope: 's' }, { scope: 's' }, { aud: 'gw-1' }, { aud: 'gw-1', scope: null, team: null }]) {
      const token = await mint({ claims })
      await refused(v.validate(token), 'RUNBEAM_JWT_INVALID', token)
    }
    const wrongAud = await mint({ claims: { aud: 'gw-3', scope: 's' } })
    assert.match((await refused(v.validate(wrongAud), 'RUNBEAM_JWT_INVALID', wrongAud)).message, /aud/)
  })

  it('detects a tampered payload or signature', async () => {
    const v = validator()
    const token = await mint()
    const [h, p, s] = token.split('.')
    const payload = unb64(p)
    payload.sub = 'someone-else'
    const tampered = [
      `${h}.${b64(JSON.stringify(payload))}.${s}`,
      `${h}.${p}.${s.slice(0, -4)}${s.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`,
      `${h}.${p}.`,
      `${h}.${p}`,
      `${h}.${p}.${s}.${s}`,
    ]
    for (const bad of tampered) await refused(v.validate(bad), 'RUNBEAM_JWT_INVALID', bad)
    assert.equal((await v.validate(token)).sub, unb64(p).sub)
  })

  it('refuses a token over 16 KiB before anything else', async () => {
    const v = validator()
    const big = await mint({ claims: { pad: 'x'.repeat(17 * 1024) } })
    assert.ok(big.length > 16 * 1024)
    await cloud.resetCounts()
    const e = await refused(v.validate(big), 'RUNBEAM_JWT_INVALID', big)
    assert.match(e.message, /16384/)
    throwsCode(() => v.validateCached(big), 'RUNBEAM_JWT_INVALID')
    assert.equal(await cloud.count(JWKS), 0)
  })

  it('accepts ES256 only when allowed', async () => {
    const token = await mint({ alg: 'ES256' })
    await refused(validator().validate(token), 'RUNBEAM_JWT_INVALID', token)
    const claims = await validator({ algorithms: ['RS256', 'ES256'] }).validate(token)
    assert.equal(claims.user.email, ALICE_EMAIL)
  })

  it('verifies mesh tokens for their mesh and destination', async () => {
    const bob = new Client(cloud.url, { token: BOB_SANCTUM })
    const gateway = bob.withToken((await bob.authorize(ANALYTICS_GW)).expose())
    const dest = `${DICOM_URL}/studies`
    const { token } = await gateway.meshToken(MESH, dest)
    const v = validator()
    assert.equal(v.verifyMeshTokenCached(token, MESH, dest), null)
    const claims = await v.verifyMeshToken(token, MESH, `${dest}/1.2.3`)
    assert.equal(claims.all.mesh_id, MESH)
    assert.equal(claims.aud, `mesh:${MESH}`)
    assert.match(claims.sub, /^gateway:/)
    assert.equal((await v.verifyMeshToken(token, MESH)).jti, claims.jti)
    assert.equal(v.verifyMeshTokenCached(token, MESH, dest).jti, claims.jti)
    assert.equal(v.verifyMeshTokenCached(token, MESH, null).jti, claims.jti)
    for (const [mesh, destination] of [
      ['other-mesh', dest],
      ['other-mesh', undefined],
      [MESH, 'https://evil.example/studies'],
      [MESH, `${DICOM_URL}/studiesx`],
      [MESH, DICOM_URL],
      [MESH, 'http://dicom.radiology.example.com/studies'],
    ]) {
      await refused(v.verifyMeshToken(token, mesh, destination), 'RUNBEAM_JWT_INVALID', token)
      throwsCode(() => v.verifyMeshTokenCached(token, mesh, destination), 'RUNBEAM_JWT_INVALID')
    }
    // A user JWT is not a mesh token, and a mesh token is still a valid JWT.
    const user = await mint()
    const e = await refused(v.verifyMeshToken(user, MESH), 'RUNBEAM_JWT_INVALID', user)
    assert.match(e.message, /mesh/)
    assert.equal((await v.validate(token)).all.mesh_id, MESH)
  })

  it('reports an unreachable JWKS as a transport error, then recovers with validate', async () => {
    const token = await mint()
    const v = new Validator({ trustedIssuers: [issuer], jwksUrl: 'http://127.0.0.1:9/jwks.json', deadlineMs: 2000 })
    const e = await refused(v.validate(token), 'RUNBEAM_TRANSPORT', token)
    assert.match(e.message, /127\.0\.0\.1:9/)
    await assert.rejects(v.refreshKeys(), { code: 'RUNBEAM_TRANSPORT' })
  })

  it('rejects bad arguments with RUNBEAM_INVALID_ARGUMENT; Promise methods reject', async () => {
    for (const options of [undefined, null, 'x', {}, { trustedIssuers: [] }, { trustedIssuers: 'x' }]) {
      throwsCode(() => new Validator(options), 'RUNBEAM_INVALID_ARGUMENT')
    }
    const e = throwsCode(() => new Validator({ trustedIssuers: ['http://10.1.2.3/api'] }), 'RUNBEAM_INVALID_ARGUMENT')
    assert.match(e.message, /http/)
    new Validator({ trustedIssuers: ['http://10.1.2.3/api'], allowInsecureHttp: true })
    for (const algorithms of [['none'], ['HS256'], ['rs256'], []]) {
      throwsCode(() => validator({ algorithms }), 'RUNBEAM_INVALID_ARGUMENT')
    }
    for (const bad of [{ leewayMs: -1 }, { leewayMs: Number.NaN }, { cacheCapacity: -1 }, { jwksTtlMs: 7200000, maxStaleMs: 60000 }, { leewayMs: '60' }]) {
      throwsCode(() => validator(bad), 'RUNBEAM_INVALID_ARGUMENT')
    }
    const v = validator()
    throwsCode(() => v.validateCached(42), 'RUNBEAM_INVALID_ARGUMENT')
    throwsCode(() => v.verifyMeshTokenCached('t', 5), 'RUNBEAM_INVALID_ARGUMENT')
    for (const call of [() => v.validate(), () => v.validate(null), () => v.verifyMeshToken('t'), () => v.verifyMeshToken('t', MESH, 7)]) {
      const outcome = call()
      assert.ok(outcome instanceof Promise)
      await assert.rejects(outcome, { code: 'RUNBEAM_INVALID_ARGUMENT' })
    }
    await refused(v.validate('not a jwt'), 'RUNBEAM_JWT_INVALID', 'not a jwt')
    await refused(v.validate(''), 'RUNBEAM_JWT_INVALID', '')
  })
})

describe('parseBearer', () => {
  it('returns the token of a Bearer header, any case', () => {
    assert.equal(parseBearer('Bearer abc.def.ghi'), 'abc.def.ghi')
    assert.equal(parseBearer('bearer  abc'), 'abc')
    assert.equal(parseBearer('BEARER\tabc '), 'abc')
  })

  it('refuses anything else with RUNBEAM_JWT_INVALID, without quoting the header', () => {
    const secret = 'c2VjcmV0LXNlY3JldC1zZWNyZXQ'
    for (const header of ['', 'Bearer', 'Bearer ', `Basic ${secret}`, `Bearer ${secret} ${secret}`, `Bearer ${secret},x`, secret]) {
      const e = throwsCode(() => parseBearer(header), 'RUNBEAM_JWT_INVALID', 'JwtInvalid')
      assert.match(e.message, /Bearer/)
      assertNoToken(e, secret)
    }
    throwsCode(() => parseBearer(undefined), 'RUNBEAM_INVALID_ARGUMENT')
  })
})
