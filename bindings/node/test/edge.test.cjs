'use strict'
// The native calls of the HTTP edge (src/edge.rs, docs/edge.md) against runbeam-devcloud over
// real HTTP: Validator.authenticate(Cached), Resolver.verifyMeshRequest(Cached),
// Resolver.outbound(Cached) and Outbound (its fields, the token never shown), refusalFor (the
// core's table for every error kind and stage) and joinPath; argument errors. The middleware
// built on them is tested with the real frameworks in express.test.cjs and fastify.test.cjs.

const { describe, it, before, after, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const { readFileSync } = require('node:fs')
const { join } = require('node:path')
const { inspect } = require('node:util')

const {
  Client,
  MemoryTokenStore,
  MeshConfig,
  Outbound,
  Reference,
  Resolver,
  TokenManager,
  Validator,
  joinPath,
  refusalFor,
} = require('..')
const native = require('../native.js')
const { startDevcloud, analyticsConfig, BOB_SANCTUM, ANALYTICS_GW, RADIOLOGY_GW, MESH, DICOM_URL, DICOMWEB } = require('./devcloud.cjs')
const { EXAMPLES, rejectsCode, throwsCode } = require('./helpers.cjs')

const RADIOLOGY_TOML = readFileSync(join(EXAMPLES, 'radiology-dept.toml'), 'utf8')
const WWW_AUTHENTICATE = 'Bearer error="invalid_token"'
const BOB_EMAIL = 'bob@analytics.example.com'

describe('refusalFor: runbeam-core refusals', () => {
  const kinds = native._errorKinds()
  const error = (kind, extra = {}) => Object.assign(new Error('secret eyJhbGciOi detail'), { kind: kind.name, code: kind.code, ...extra })

  it('never a 500; every 401 has WWW-Authenticate, every 503 Retry-After; the body never quotes the error', () => {
    for (const kind of kinds) {
      for (const stage of ['userToken', 'meshToken', 'outbound']) {
        const r = refusalFor(error(kind), stage)
        const what = `${kind.name} at ${stage}`
        assert.ok([400, 401, 403, 404, 503].includes(r.status), what)
        assert.equal(r.kind, kind.name, what)
        assert.equal(r.contentType, 'application/json')
        assert.equal(r.headers['www-authenticate'] !== undefined, r.status === 401, what)
        assert.equal(r.headers['retry-after'] !== undefined, r.status === 503, what)
        if (r.status === 401) assert.equal(r.headers['www-authenticate'], WWW_AUTHENTICATE)
        assert.deepEqual(Object.keys(JSON.parse(r.body)), ['error'], what)
        assert.ok(!r.body.includes('eyJ') && !r.body.includes('detail'), what)
      }
    }
  })

  it('token errors are 401 inbound and 503 outbound; the rest as docs/edge.md says', () => {
    const byName = Object.fromEntries(kinds.map((k) => [k.name, k]))
    const answer = (name, stage) => {
      const r = refusalFor(error(byName[name]), stage)
      return [r.status, r.body, r.headers]
    }
    for (const name of ['JwtInvalid', 'JwtExpired', 'UntrustedIssuer']) {
      for (const stage of ['userToken', 'meshToken']) {
        assert.deepEqual(answer(name, stage), [401, '{"error":"invalid_token"}', { 'www-authenticate': WWW_AUTHENTICATE }])
      }
      assert.equal(answer(name, 'outbound')[0], 503)
    }
    assert.deepEqual(answer('NotInMesh', 'outbound'), [403, '{"error":"not_in_mesh"}', {}])
    assert.deepEqual(answer('UnknownProvider', 'outbound'), [403, '{"error":"not_in_mesh"}', {}])
    assert.deepEqual(answer('PermissionDenied', 'outbound'), [403, '{"error":"forbidden"}', {}])
    assert.deepEqual(answer('InvalidArgument', 'meshToken'), [400, '{"error":"invalid_request"}', {}])
    assert.deepEqual(answer('NotFound', 'outbound'), [404, '{"error":"not_found"}', {}])
    assert.deepEqual(answer('Transport', 'userToken'), [503, '{"error":"unavailable"}', { 'retry-after': '5' }])
    assert.deepEqual(answer('NoToken', 'outbound'), [503, '{"error":"unavailable"}', { 'retry-after': '30' }])
    assert.deepEqual(answer('Internal', 'outbound'), [503, '{"error":"unavailable"}', { 'retry-after': '30' }])
  })

  it("follows the Cloud's Retry-After (rounded up, at most an hour); reads the code when there is no kind", () => {
    const rateLimited = kinds.find((k) => k.name === 'RateLimited')
    assert.equal(refusalFor(error(rateLimited, { retryAfterMs: 2500 }), 'outbound').headers['retry-after'], '3')
    assert.equal(refusalFor(error(rateLimited, { retryAfterMs: 9e9 }), 'outbound').headers['retry-after'], '3600')
    assert.equal(refusalFor({ code: 'RUNBEAM_JWT_EXPIRED' }, 'userToken').status, 401)
    assert.equal(refusalFor({ code: 'RUNBEAM_JWT_EXPIRED' }, 'userToken').kind, 'JwtExpired')
  })

  it('answers anything that is not an error of the SDK as Internal (503), never a 500', () => {
    for (const value of [
      new Error('plain'),
      new TypeError('x'),
      { kind: 'NoSuchKind' },
      { code: 'ECONNRESET' },
      'text',
      42,
      null,
      undefined,
      Symbol('s'),
      () => {},
      new Proxy({}, { get: () => { throw new Error('hostile getter') } }),
    ]) {
      const r = refusalFor(value, 'outbound')
      assert.deepEqual([r.status, r.kind, r.headers, r.body], [503, 'Internal', { 'retry-after': '30' }, '{"error":"unavailable"}'], inspect(value))
    }
  })

  it('ignores a retryAfterMs that is not a duration', () => {
    for (const retryAfterMs of ['soon', -1, NaN, null]) {
      const r = refusalFor(Object.assign(new Error('x'), { kind: 'Transport', retryAfterMs }), 'outbound')
      assert.equal(r.headers['retry-after'], '5', String(retryAfterMs))
    }
  })

  it('refuses a stage that is not one', () => {
    for (const stage of ['inbound', 'UserToken', '', 1, undefined, null]) {
      throwsCode(() => refusalFor(new Error('x'), stage), 'RUNBEAM_INVALID_ARGUMENT')
    }
    const e = throwsCode(() => refusalFor(new Error('x'), 'inbound'), 'RUNBEAM_INVALID_ARGUMENT')
    assert.match(e.message, /'userToken', 'meshToken' or 'outbound'/)
  })
})

describe('joinPath: the core join_path', () => {
  it('appends a request path with its query and keeps it under the base', () => {
    assert.equal(joinPath('https://dicom.example.com/wado', '/studies?patient=7'), 'https://dicom.example.com/wado/studies?patient=7')
    assert.equal(joinPath('http://127.0.0.1:8080/dicom/', '/a/./b/../c?x=1&y=/../z'), 'http://127.0.0.1:8080/dicom/a/c?x=1&y=/../z')
    assert.equal(joinPath('http://127.0.0.1:8080', '/'), 'http://127.0.0.1:8080/')
  })

  it('refuses a path that leaves the base, without quoting it', () => {
    for (const path of ['', 'studies', '//evil.test/x', '/../etc/passwd', '/a/../../x', '/%2e%2e/x', '/a\\b', '/a#f', '/a b', '/a\nb', `/${'a'.repeat(8192)}`]) {
      const e = throwsCode(() => joinPath('http://127.0.0.1:8080/dicom/', path), 'RUNBEAM_INVALID_ARGUMENT')
      assert.ok(!e.message.includes('passwd'), e.message)
    }
    for (const base of ['ftp://x/', 'not a url', 'http://x/?q=1', 'file:///etc']) {
      throwsCode(() => joinPath(base, '/a'), 'RUNBEAM_INVALID_ARGUMENT')
    }
    throwsCode(() => joinPath('http://x', 42), 'RUNBEAM_INVALID_ARGUMENT')
    throwsCode(() => joinPath(undefined, '/'), 'RUNBEAM_INVALID_ARGUMENT')
  })
})

describe('the edge against runbeam-devcloud', () => {
  let cloud

  function analytics() {
    const client = new Client(cloud.url)
    const tokenManager = new TokenManager({ instanceId: ANALYTICS_GW, store: new MemoryTokenStore(), client, credential: BOB_SANCTUM })
    return new Resolver({ config: analyticsConfig(cloud.url, 300), client, tokenManager })
  }
  function radiology() {
    const client = new Client(cloud.url)
    return new Resolver({
      config: MeshConfig.fromToml(RADIOLOGY_TOML).withProviderApi('runbeam', cloud.url),
      client,
      tokenManager: new TokenManager({ instanceId: RADIOLOGY_GW, store: new MemoryTokenStore(), client }),
    })
  }

  before(async () => {
    cloud = await startDevcloud()
  })
  after(async () => {
    await cloud?.stop()
  })
  afterEach(async () => {
    await cloud.clearFaults()
    await cloud.resetCounts()
  })

  it('Validator.authenticate: the claims of a Bearer header, then without I/O', async () => {
    const validator = new Validator({ trustedIssuers: [`${cloud.url}/api`] })
    const token = await cloud.userJwt(BOB_EMAIL)
    assert.equal(validator.authenticateCached(`Bearer ${token}`), null, 'keys must be fetched first')
    const claims = await validator.authenticate(`Bearer ${token}`)
    assert.equal(claims.user.email, BOB_EMAIL)
    const cached = validator.authenticateCached(`bearer ${token}`)
    assert.equal(cached.sub, claims.sub)
    const repeated = await validator.authenticate(`Bearer ${token}`)
    assert.equal(validator.authenticateCached(`Bearer ${token}`), repeated, 'a repeated token: the same object')

    const expired = await cloud.userJwt(BOB_EMAIL, { ttl_secs: -3600 })
    const untrusted = await cloud.userJwt(BOB_EMAIL, { claims: { iss: 'https://evil.example/api' } })
    for (const [header, code] of [
      [undefined, 'RUNBEAM_JWT_INVALID'],
      [null, 'RUNBEAM_JWT_INVALID'],
      ['', 'RUNBEAM_JWT_INVALID'],
      ['Basic Ym9iOnB3', 'RUNBEAM_JWT_INVALID'],
      ['Bearer a b', 'RUNBEAM_JWT_INVALID'],
      [token, 'RUNBEAM_JWT_INVALID'],
      [`Bearer ${expired}`, 'RUNBEAM_JWT_EXPIRED'],
      [`Bearer ${untrusted}`, 'RUNBEAM_UNTRUSTED_ISSUER'],
    ]) {
      const e = throwsCode(() => validator.authenticateCached(header), code)
      assert.ok(!e.message.includes(token.slice(0, 30)), 'the header is never quoted')
      await rejectsCode(validator.authenticate(header), code)
      assert.equal(refusalFor(e, 'userToken').status, 401)
    }
    throwsCode(() => validator.authenticateCached(42), 'RUNBEAM_INVALID_ARGUMENT')
    await rejectsCode(validator.authenticate(['Bearer x']), 'RUNBEAM_INVALID_ARGUMENT')
    const aborted = AbortSignal.abort()
    await rejectsCode(new Validator({ trustedIssuers: [`${cloud.url}/api`] }).authenticate(`Bearer ${token}`, { signal: aborted }), 'RUNBEAM_CANCELLED')
  })

  it('Resolver.outbound: URL, headers and mesh token; the token never shown; then without I/O', async () => {
    const sender = analytics()
    assert.equal(sender.outboundCached(DICOMWEB, '/studies'), null, 'nothing cached yet')
    const out = await sender.outbound(DICOMWEB, '/studies?modality=CT')
    assert.ok(out instanceof Outbound)
    assert.equal(out.url, `${DICOM_URL}/studies?modality=CT`)
    assert.equal(out.baseUrl, DICOM_URL)
    assert.equal(out.mesh, MESH)
    assert.equal(out.reference, DICOMWEB)
    assert.equal(out.isStale, false)
    assert.ok(out.tokenExpiresAt instanceof Date && out.tokenExpiresAt > new Date())
    assert.match(out.authorization, /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/)
    assert.deepEqual(out.headers, { authorization: out.authorization })
    const token = out.authorization.slice('Bearer '.length)

    // The token is not shown, copied by for…in, Object.keys, spread or JSON.
    const shown = [inspect(out), inspect(out, { showHidden: true, depth: 5 }), JSON.stringify(out), JSON.stringify({ ...out })]
    for (const text of shown) assert.ok(!text.includes(token), text)
    assert.match(inspect(out), /^Outbound \{/)
    assert.equal(JSON.parse(JSON.stringify(out)).authorization, '***')
    assert.equal(JSON.parse(JSON.stringify(out)).url, out.url)
    const keys = []
    for (const key in out) keys.push(key)
    assert.ok(!keys.includes('authorization') && !keys.includes('headers'), keys.join())

    // The receiving side accepts it for the URL served.
    const claims = await radiology().verifyMeshRequest(out.authorization, MESH, out.url)
    assert.equal(claims.all.source_team, 'ai-analytics')
    assert.equal(claims.all.dest_url, out.baseUrl)
    assert.equal(claims.exp * 1000, out.tokenExpiresAt.getTime())

    // From the cache, another path: no request to the Cloud, the same token.
    await cloud.resetCounts()
    const cached = sender.outboundCached(Reference.parse(DICOMWEB), '/studies/1.2.3')
    assert.equal(cached.url, `${DICOM_URL}/studies/1.2.3`)
    assert.equal(cached.authorization, out.authorization)
    const again = await sender.outbound(DICOMWEB, '/studies')
    assert.equal(again.url, `${DICOM_URL}/studies`)
    assert.equal(await cloud.count('GET /api/harmony/resources/resolve'), 0)
    assert.equal(await cloud.count('POST /api/harmony/mesh/token'), 0)
    assert.throws(() => new Outbound(), 'made only by the resolver')
  })

  it('Resolver.outbound refusals: outside the mesh, bad paths, the Cloud down', async () => {
    const sender = analytics()
    await sender.outbound(DICOMWEB, '/studies')
    for (const [reference, code] of [
      ['runbeam.acme.ingress.name.api', 'RUNBEAM_NOT_IN_MESH'],
      ['runbeam.radiology-dept.ingress.name.pacs', 'RUNBEAM_NOT_IN_MESH'],
      ['elsewhere.acme.ingress.name.api', 'RUNBEAM_UNKNOWN_PROVIDER'],
    ]) {
      const e = await rejectsCode(sender.outbound(reference, '/studies'), code)
      assert.deepEqual([refusalFor(e, 'outbound').status, refusalFor(e, 'outbound').body], [403, '{"error":"not_in_mesh"}'])
      throwsCode(() => sender.outboundCached(reference, '/studies'), code)
    }
    await rejectsCode(sender.outbound('runbeam..ingress', '/'), 'RUNBEAM_INVALID_REFERENCE')
    // (The resource's URL is an origin here: a `..` cannot leave it; express/fastify.test.cjs
    // refuse those under a path.)
    for (const path of ['admin', '//evil.test/admin', '/admin#x', '/admin\r\nx-injected: 1', '/a\\admin']) {
      const e = await rejectsCode(sender.outbound(DICOMWEB, path), 'RUNBEAM_INVALID_ARGUMENT')
      assert.ok(!e.message.includes('admin'), e.message)
      assert.equal(refusalFor(e, 'outbound').status, 400)
      throwsCode(() => sender.outboundCached(DICOMWEB, path), 'RUNBEAM_INVALID_ARGUMENT')
    }
    await rejectsCode(sender.outbound(DICOMWEB, 42), 'RUNBEAM_INVALID_ARGUMENT')
    throwsCode(() => sender.outboundCached(DICOMWEB), 'RUNBEAM_INVALID_ARGUMENT')

    // A fresh resolver while the Cloud fails: no stale answer, 503 with the Cloud's Retry-After.
    const fresh = analytics()
    await cloud.fault({ path: '/api/harmony/resources/resolve', status: 503, retry_after: 7, count: 10 })
    const e = await rejectsCode(fresh.outbound(DICOMWEB, '/studies'), 'RUNBEAM_SERVER_ERROR')
    assert.equal(e.retryAfterMs, 7000)
    assert.deepEqual(refusalFor(e, 'outbound').headers, { 'retry-after': '7' })
  })

  it('Resolver.verifyMeshRequest: the guard of an ingress as one call', async () => {
    const sender = analytics()
    const receiver = radiology()
    const out = await sender.outbound(DICOMWEB, '/studies')
    assert.equal(receiver.verifyMeshRequestCached(out.authorization, MESH, out.url), null, 'keys first')
    const claims = await receiver.verifyMeshRequest(out.authorization, MESH, out.url)
    assert.equal(claims.all.source_team, 'ai-analytics')
    assert.equal(receiver.verifyMeshRequestCached(out.authorization, MESH, out.url).sub, claims.sub)
    assert.equal(receiver.verifyMeshRequestCached(out.authorization, MESH).sub, claims.sub, 'no served URL: no destination check')

    // Where the check runs (src/offload.rs), as the core's mesh_request_needs_signature_check
    // says: a signature to check settles from the event loop (a worker), a token the mesh's
    // verifier remembers (from its second verification on) or an unknown mesh in this turn.
    const settledThisTurn = async (promise) => {
      let settled = false
      const done = promise.then(() => { settled = true }, () => { settled = true })
      for (let i = 0; i < 8; i++) await null
      const early = settled
      await done
      return early
    }
    const other = radiology()
    assert.equal((await other.verifyMeshRequest(out.authorization, MESH, out.url)).sub, claims.sub)
    assert.equal(await settledThisTurn(other.verifyMeshRequest(out.authorization, MESH, out.url)), false, 'checked on a worker')
    assert.equal(await settledThisTurn(other.verifyMeshRequest(out.authorization, MESH, out.url)), true, 'remembered')
    assert.equal(await settledThisTurn(other.verifyMeshRequest(out.authorization, 'no-such-mesh', out.url)), true, 'unknown mesh')
    assert.equal(await settledThisTurn(other.verifyMeshRequest('Basic x', MESH, out.url)), true, 'not Bearer')

    const user = await cloud.userJwt(BOB_EMAIL)
    for (const [header, mesh, served, code] of [
      [undefined, MESH, out.url, 'RUNBEAM_JWT_INVALID'],
      ['Basic x', MESH, out.url, 'RUNBEAM_JWT_INVALID'],
      [out.authorization, MESH, 'https://pacs.radiology.example.com/studies', 'RUNBEAM_JWT_INVALID'],
      [`Bearer ${user}`, MESH, out.url, 'RUNBEAM_JWT_INVALID'],
      [out.authorization, 'no-such-mesh', out.url, 'RUNBEAM_NOT_IN_MESH'],
    ]) {
      const e = throwsCode(() => receiver.verifyMeshRequestCached(header, mesh, served), code)
      await rejectsCode(receiver.verifyMeshRequest(header, mesh, served), code)
      assert.equal(refusalFor(e, 'meshToken').status, code === 'RUNBEAM_NOT_IN_MESH' ? 403 : 401)
    }
    throwsCode(() => receiver.verifyMeshRequestCached(out.authorization), 'RUNBEAM_INVALID_ARGUMENT')
    await rejectsCode(receiver.verifyMeshRequest(out.authorization, 42), 'RUNBEAM_INVALID_ARGUMENT')
  })
})
