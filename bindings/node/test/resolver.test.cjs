'use strict'
// Resolver (reference resolution with a cache, mesh tokens, docs/spec.md §6) against runbeam-devcloud
// subprocesses over real HTTP: single-flight, TTL, stale answers while the Cloud fails, errors
// that are not cached, reload, mesh context, mesh-token reuse and renewal, the receiving side,
// redaction and argument errors. Mirrors tests/e2e/tests/resolver.rs.

const { describe, it, before, after, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const { readFileSync } = require('node:fs')
const { join } = require('node:path')
const { inspect } = require('node:util')

const { Client, IssuedMeshToken, MemoryTokenStore, MeshConfig, Reference, Resolver, TokenManager, Validator } = require('..')
const {
  startDevcloud,
  analyticsConfig,
  ANALYTICS_TOML,
  RETIRED,
  BOB_SANCTUM,
  RADIOLOGY_GW,
  ANALYTICS_GW,
  MESH,
  DICOM_URL,
  DICOMWEB,
} = require('./devcloud.cjs')
const { EXAMPLES, rejectsCode, throwsCode } = require('./helpers.cjs')

const RESOLVE = 'GET /api/harmony/resources/resolve'
const RESOLVE_PATH = '/api/harmony/resources/resolve'
const MESH_TOKEN = 'POST /api/harmony/mesh/token'
const AUTHORIZE = 'POST /api/harmony/authorize'
const DESTINATION = `${DICOM_URL}/studies`

const RADIOLOGY_TOML = readFileSync(join(EXAMPLES, 'radiology-dept.toml'), 'utf8')

const sleep = (ms) => new Promise((done) => setTimeout(done, ms))

describe('Resolver against runbeam-devcloud', () => {
  let cloud

  /** A resolver for team ai-analytics (Bob's gateway, its own memory token store). */
  function analytics(config, options = {}) {
    const client = new Client(cloud.url)
    const tokenManager = new TokenManager({
      instanceId: ANALYTICS_GW,
      store: new MemoryTokenStore(),
      client,
      credential: BOB_SANCTUM,
    })
    return new Resolver({ config: config ?? analyticsConfig(cloud.url, 300), client, tokenManager, ...options })
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

  it('MeshConfig.withProviderApi points a configuration at another Cloud', () => {
    const original = MeshConfig.fromToml(ANALYTICS_TOML)
    const dev = original.withProviderApi('runbeam', cloud.url)
    assert.ok(dev instanceof MeshConfig)
    assert.deepEqual(dev.validate(), [])
    const e = throwsCode(() => original.withProviderApi('partner', cloud.url), 'RUNBEAM_UNKNOWN_PROVIDER')
    assert.ok(e.message.includes('partner'), e.message)
    throwsCode(() => original.withProviderApi('local', cloud.url), 'RUNBEAM_UNKNOWN_PROVIDER')
    throwsCode(() => original.withProviderApi(42, cloud.url), 'RUNBEAM_INVALID_ARGUMENT')
    throwsCode(() => original.withProviderApi('runbeam'), 'RUNBEAM_INVALID_ARGUMENT')
  })

  it('1000 concurrent cold resolves send one request and share one answer', async () => {
    const resolver = analytics()
    resolver.validateStartup()
    assert.equal(resolver.resolveCached(DICOMWEB), null, 'cold: a request is needed')
    await cloud.resetCounts()
    const answers = await Promise.all(Array.from({ length: 1000 }, () => resolver.resolve(DICOMWEB)))
    for (const answer of answers) {
      assert.deepEqual(answer.resource.urls, [DICOM_URL])
      assert.equal(answer.isStale, false)
    }
    assert.equal(await cloud.count(RESOLVE), 1, 'one upstream request')
    assert.equal(await cloud.count(AUTHORIZE), 1, 'one machine token')
    assert.equal(new Set(answers).size, 1, 'one frozen object for every caller')
    const stats = resolver.stats()
    assert.equal(stats.upstreamRequests, 1)
    assert.equal(stats.hits + stats.misses, 1000)

    // Later calls are cache hits, without I/O: the same object again.
    const hit = resolver.resolveCached(DICOMWEB)
    assert.equal(hit, answers[0])
    assert.ok(Object.isFrozen(hit) && Object.isFrozen(hit.resource) && Object.isFrozen(hit.resource.urls))
    assert.equal(hit.resource.type, 'ingress')
    assert.equal(hit.resource.name, 'dicomweb')
    assert.equal(hit.provider, 'runbeam')
    assert.equal(hit.isLocal, false)
    assert.ok(!Number.isNaN(Date.parse(hit.resolvedAt)))
    // Any spelling, and a Reference object, hit the same entry.
    assert.equal(resolver.resolveCached('runbeam.radiology-dept.INGRESS.name.dicomweb'), hit)
    assert.equal(await resolver.resolve(Reference.parse(DICOMWEB)), hit)
    assert.equal(resolver.cachedReferences, 1)
    assert.equal(await cloud.count(RESOLVE), 1)
  })

  it('asks the Cloud again after the TTL', async () => {
    const resolver = analytics(analyticsConfig(cloud.url, 1))
    await resolver.resolve(DICOMWEB)
    await resolver.resolve(DICOMWEB)
    assert.equal(await cloud.count(RESOLVE), 1)
    await sleep(1100)
    assert.equal(resolver.resolveCached(DICOMWEB), null, 'expired')
    const again = await resolver.resolve(DICOMWEB)
    assert.equal(again.isStale, false)
    assert.equal(await cloud.count(RESOLVE), 2)
  })

  it('serves the stale answer flagged while the Cloud fails, then the error after maxStaleMs', async () => {
    // A devcloud of its own, stopped halfway.
    const own = await startDevcloud()
    let resolver
    try {
      const client = new Client(own.url)
      const tokenManager = new TokenManager({ instanceId: ANALYTICS_GW, store: new MemoryTokenStore(), client, credential: BOB_SANCTUM })
      resolver = new Resolver({ config: analyticsConfig(own.url, 1), client, tokenManager, maxStaleMs: 2000 })
      const fresh = await resolver.resolve(DICOMWEB)
      assert.equal(fresh.isStale, false)
      await own.stop()
      await sleep(1100)
      const stale = await resolver.resolve(DICOMWEB)
      assert.equal(stale.isStale, true, 'past the TTL with the Cloud down')
      assert.deepEqual(stale.resource, fresh.resource)
      assert.equal(resolver.stats().staleServed, 1)
      assert.equal(resolver.resolveCached(DICOMWEB), null, 'a stale answer is never a cache hit')
      await sleep(1100)
      const e = await rejectsCode(resolver.resolve(DICOMWEB), 'RUNBEAM_TRANSPORT')
      assert.equal(e.kind, 'Transport')
    } finally {
      await own.stop()
    }
  })

  it('serves the stale answer on 5xx and junk from the Cloud, and the fresh one when it is back', async () => {
    const resolver = analytics(analyticsConfig(cloud.url, 1))
    await resolver.resolve(DICOMWEB)
    await sleep(1100)
    await cloud.fault({ path: RESOLVE_PATH, status: 503, count: 10 })
    assert.equal((await resolver.resolve(DICOMWEB)).isStale, true)
    await cloud.clearFaults()
    await cloud.fault({ path: RESOLVE_PATH, malformed_body: true, count: 1 })
    assert.equal((await resolver.resolve(DICOMWEB)).isStale, true)
    await cloud.clearFaults()
    const fresh = await resolver.resolve(DICOMWEB)
    assert.equal(fresh.isStale, false, 'the Cloud is back')
  })

  it('returns NotFound without caching it', async () => {
    const resolver = analytics()
    for (const expected of [1, 2]) {
      const e = await rejectsCode(resolver.resolve(RETIRED), 'RUNBEAM_NOT_FOUND')
      assert.equal(e.status, 404)
      assert.equal(await cloud.count(RESOLVE), expected, 'not cached')
    }
    assert.equal(resolver.resolveCached(RETIRED), null)
  })

  it('refuses references outside every mesh and unknown providers without a request', async () => {
    const resolver = analytics()
    await cloud.resetCounts()
    const e = await rejectsCode(resolver.resolve('runbeam.acme.ingress.name.api'), 'RUNBEAM_NOT_IN_MESH')
    assert.ok(e.message.includes('runbeam.acme.ingress.name.api'), e.message)
    throwsCode(() => resolver.resolveCached('runbeam.acme.ingress.name.api'), 'RUNBEAM_NOT_IN_MESH', 'NotInMesh')
    await rejectsCode(resolver.resolve('elsewhere.acme.ingress.name.api'), 'RUNBEAM_UNKNOWN_PROVIDER')
    await rejectsCode(resolver.resolve('runbeam..ingress'), 'RUNBEAM_INVALID_REFERENCE')
    throwsCode(() => resolver.resolveCached(''), 'RUNBEAM_INVALID_REFERENCE')
    assert.equal(await cloud.count(RESOLVE), 0)
    assert.equal(await cloud.count(AUTHORIZE), 0)
    assert.equal(resolver.cachedReferences, 0)
  })

  it('answers local references from the configuration', async () => {
    const resolver = analytics()
    await cloud.resetCounts()
    const local = resolver.resolveCached('imaging-out')
    assert.equal(local.isLocal, true)
    assert.equal(local.provider, 'local')
    assert.equal(local.resource.type, 'egress')
    assert.equal(local.resource.backendId, 'dicom-archive')
    assert.equal(await resolver.resolve('local.name.imaging-out'), local)
    await rejectsCode(resolver.resolve('no-such-ingress'), 'RUNBEAM_NOT_FOUND')
    assert.equal(resolver.stats().local, 3)
    assert.equal(await cloud.count(RESOLVE), 0)
  })

  it('invalidate and reload drop what changed; a broken configuration is refused', async () => {
    const resolver = analytics()
    await resolver.resolve(DICOMWEB)
    assert.equal(resolver.invalidate(DICOMWEB), true)
    assert.equal(resolver.invalidate(Reference.parse(DICOMWEB)), false, 'already gone')
    await resolver.resolve(DICOMWEB)
    assert.equal(await cloud.count(RESOLVE), 2, 'invalidate forgets')

    // The same configuration again keeps the answers.
    resolver.reload(analyticsConfig(cloud.url, 300))
    assert.notEqual(resolver.resolveCached(DICOMWEB), null)

    // A changed provider (TTL) drops them.
    resolver.reload(analyticsConfig(cloud.url, 120))
    assert.equal(resolver.resolveCached(DICOMWEB), null)
    await resolver.resolve(DICOMWEB)
    assert.equal(await cloud.count(RESOLVE), 3)

    // A configuration with problems is refused and the old one stays.
    const broken = MeshConfig.fromToml('[mesh.m]\ntype = "http"\nprovider = "runbeam"\negress = ["runbeam.a.ingress.name.b"]')
    const e = throwsCode(() => resolver.reload(broken), 'RUNBEAM_CONFIG', 'Config')
    assert.ok(e.problems.some((p) => p.code === 'RUNBEAM_UNKNOWN_PROVIDER'), inspect(e.problems))
    assert.notEqual(resolver.resolveCached(DICOMWEB), null, 'the old configuration is in use')
    assert.equal(resolver.config.checkMeshContext(DICOMWEB), MESH)

    // A configuration that no longer lists the reference: out of context, its answer dropped.
    const without = ANALYTICS_TOML.replace('https://api.runbeam.io', cloud.url).replace(`  "${DICOMWEB}",\n`, '')
    resolver.reload(MeshConfig.fromToml(without))
    assert.equal(resolver.cachedReferences, 0)
    await rejectsCode(resolver.resolve(DICOMWEB), 'RUNBEAM_NOT_IN_MESH')

    resolver.reload(analyticsConfig(cloud.url, 300))
    await resolver.resolve(DICOMWEB)
    assert.equal(resolver.cachedReferences, 1)
    resolver.invalidateAll()
    assert.equal(resolver.cachedReferences, 0)
  })

  it('validateStartup lists every problem of the configuration', () => {
    const broken = MeshConfig.fromToml(
      '[mesh.m]\ntype = "http"\nprovider = "runbeam"\negress = ["runbeam.a.ingress.name.b", "missing-local"]',
    )
    const resolver = analytics(broken)
    const e = throwsCode(() => resolver.validateStartup(), 'RUNBEAM_CONFIG')
    assert.ok(e.problems.length >= 2, inspect(e.problems))
    assert.ok(e.problems.every((p) => p.path.startsWith('mesh.m')), inspect(e.problems))
  })

  it('reuses a mesh token until near expiry, then renews it', async () => {
    const resolver = analytics()
    const issued = await Promise.all(Array.from({ length: 100 }, () => resolver.meshToken(MESH, DESTINATION)))
    assert.equal(new Set(issued.map((t) => t.claims.jti)).size, 1, 'one token for all callers')
    assert.equal(await cloud.count(MESH_TOKEN), 1)
    const first = issued[0]
    assert.ok(first instanceof IssuedMeshToken)
    assert.equal(first.mesh, MESH)
    assert.equal(first.meshId, MESH)
    assert.ok(first.expiresAt instanceof Date && first.expiresAt > new Date())
    assert.equal(first.claims.aud, `mesh:${MESH}`)
    assert.equal(first.claims.all.dest_url, DESTINATION)
    assert.equal(first.claims, first.claims, 'the claims object is built once')
    assert.equal(first.token.split('.').length, 3, 'a JWT')
    assert.equal(first.expose(), first.token)

    // Tokens live 300 s; with a 299 s margin one is reusable for about a second.
    const short = analytics(undefined, { meshTokenMarginMs: 299000 })
    await cloud.resetCounts()
    const one = await short.meshToken(MESH, DESTINATION)
    const reused = await short.meshToken(MESH, DESTINATION)
    assert.equal(one.claims.jti, reused.claims.jti)
    assert.equal(await cloud.count(MESH_TOKEN), 1)
    await sleep(1200)
    const renewed = await short.meshToken(MESH, DESTINATION)
    assert.notEqual(renewed.claims.jti, one.claims.jti)
    assert.equal(await cloud.count(MESH_TOKEN), 2)
    assert.equal(short.stats().meshTokenRequests, 2)
  })

  it('never shows a mesh token in inspect, JSON or the resolver', async () => {
    const resolver = analytics()
    const issued = await resolver.meshToken(MESH, DESTINATION)
    const token = issued.token
    const shown = [
      inspect(issued, { depth: 10, showHidden: true }),
      JSON.stringify(issued),
      String(issued),
      inspect(resolver, { depth: 10 }),
      JSON.stringify(issued.toJSON()),
    ]
    for (const text of shown) {
      assert.ok(!text.includes(token), text)
      assert.ok(!text.includes(token.split('.')[2]), 'no signature')
    }
    assert.ok(shown[0].includes("token: '***'"), shown[0])
    assert.equal(issued.toJSON().token, '***')
    assert.equal(issued.toJSON().mesh, MESH)
    assert.deepEqual(Object.keys(issued), [], 'no own properties')
  })

  it('mesh-token errors are clear and not cached', async () => {
    const resolver = analytics()
    for (const expected of [1, 2]) {
      const e = await rejectsCode(resolver.meshToken(MESH, 'https://elsewhere.example.com/'), 'RUNBEAM_PERMISSION_DENIED')
      assert.ok(e.message.includes('Rule 2') || String(e.serverMessage).includes('Rule 2'), e.message)
      assert.equal(await cloud.count(MESH_TOKEN), expected)
    }
    await rejectsCode(resolver.meshToken('no-such-mesh', DICOM_URL), 'RUNBEAM_NOT_IN_MESH')
    await rejectsCode(resolver.meshToken(MESH, 'not a url'), 'RUNBEAM_INVALID_ARGUMENT')
    assert.equal(await cloud.count(MESH_TOKEN), 2)
  })

  it('the receiving gateway verifies the mesh token, for its destination and mesh only', async () => {
    const issued = await analytics().meshToken(MESH, DESTINATION)
    const token = issued.token

    // Verification needs no machine token: a manager on an empty store, without credential.
    const client = new Client(cloud.url)
    const receiver = new Resolver({
      config: MeshConfig.fromToml(RADIOLOGY_TOML).withProviderApi('runbeam', cloud.url),
      client,
      tokenManager: new TokenManager({ instanceId: RADIOLOGY_GW, store: new MemoryTokenStore(), client }),
    })
    receiver.validateStartup()
    assert.equal(receiver.verifyMeshTokenCached(token, MESH, DESTINATION), null, 'keys not fetched yet')
    const claims = await receiver.verifyMeshToken(token, MESH, `${DESTINATION}/123`)
    assert.equal(claims.all.source_team, 'ai-analytics')
    assert.equal(claims.all.dest_url, DESTINATION)
    assert.equal(claims.aud, `mesh:${MESH}`)
    // Keys are cached now: the synchronous path answers.
    assert.equal(receiver.verifyMeshTokenCached(token, MESH, DESTINATION).jti, issued.claims.jti)
    assert.equal((await receiver.verifyMeshToken(token, MESH)).sub, issued.claims.sub)

    await rejectsCode(receiver.verifyMeshToken(token, MESH, 'https://pacs.radiology.example.com/'), 'RUNBEAM_JWT_INVALID')
    throwsCode(() => receiver.verifyMeshTokenCached(token, MESH, 'https://pacs.radiology.example.com/'), 'RUNBEAM_JWT_INVALID')
    await rejectsCode(receiver.verifyMeshToken(token, 'other-mesh'), 'RUNBEAM_NOT_IN_MESH')
    const e = await receiver.verifyMeshToken(`${token.slice(0, -2)}xx`, MESH).catch((error) => error)
    assert.ok(e instanceof Error && e.code.startsWith('RUNBEAM_JWT'), String(e))
    assert.equal(await cloud.count(AUTHORIZE), 1, 'only the sender authorized')
  })

  it("the mesh-token validator's settings apply, but not its trust", async () => {
    const token = (await analytics().meshToken(MESH, DESTINATION)).token
    const receiver = (validator) => {
      const client = new Client(cloud.url)
      return new Resolver({
        config: MeshConfig.fromToml(RADIOLOGY_TOML).withProviderApi('runbeam', cloud.url),
        client,
        tokenManager: new TokenManager({ instanceId: RADIOLOGY_GW, store: new MemoryTokenStore(), client }),
        validator,
      })
    }
    // A template trusting another issuer, pinning a dead JWKS URL and wanting an audience of
    // its own: none of that is used, the mesh's provider is what is trusted.
    const trusting = new Validator({
      trustedIssuers: ['https://other.example/api'],
      jwksUrl: 'http://127.0.0.1:9/jwks.json',
      audiences: ['someone-else'],
      leewayMs: 5000,
    })
    assert.equal((await receiver(trusting).verifyMeshToken(token, MESH)).all.mesh_id, MESH)
    // Its other settings are: an RS256 mesh token is refused when only ES256 is allowed.
    const onlyEs256 = new Validator({ jwksUrl: 'http://127.0.0.1:9/jwks.json', algorithms: ['ES256'] })
    await rejectsCode(receiver(onlyEs256).verifyMeshToken(token, MESH), 'RUNBEAM_JWT_INVALID')
    // The template itself is unchanged and still usable on its own.
    assert.deepEqual(trusting.trustedIssuers, ['https://other.example/api'])
  })

  it('rejects bad arguments with coded errors, never crashing', async () => {
    const resolver = analytics()
    const config = analyticsConfig(cloud.url, 300)
    const client = new Client(cloud.url)
    const tokenManager = new TokenManager({ instanceId: ANALYTICS_GW, store: new MemoryTokenStore(), client })
    const bad = 'RUNBEAM_INVALID_ARGUMENT'

    for (const options of [undefined, null, 42, 'config']) throwsCode(() => new Resolver(options), bad)
    throwsCode(() => new Resolver({}), bad)
    throwsCode(() => new Resolver({ config: 'x.toml', client, tokenManager }), bad)
    throwsCode(() => new Resolver({ config, client: cloud.url, tokenManager }), bad)
    throwsCode(() => new Resolver({ config, client, tokenManager: {} }), bad)
    throwsCode(() => new Resolver({ config: client, client: config, tokenManager }), bad)
    for (const maxStaleMs of [-1, 'soon', Number.NaN, Number.POSITIVE_INFINITY]) {
      throwsCode(() => new Resolver({ config, client, tokenManager, maxStaleMs }), bad)
    }
    throwsCode(() => new Resolver({ config, client, tokenManager, meshTokenMarginMs: -5 }), bad)
    for (const meshTokenCapacity of [-1, 1.5, '10']) {
      throwsCode(() => new Resolver({ config, client, tokenManager, meshTokenCapacity }), bad)
    }
    // A provider URL the client cannot use is a configuration error.
    const insecure = MeshConfig.fromToml(ANALYTICS_TOML).withProviderApi('runbeam', 'http://api.example.com')
    throwsCode(() => new Resolver({ config: insecure, client, tokenManager }), 'RUNBEAM_CONFIG')

    for (const value of [undefined, null, 42, {}, [], true]) {
      throwsCode(() => resolver.resolveCached(value), bad)
      await rejectsCode(resolver.resolve(value), bad)
      throwsCode(() => resolver.invalidate(value), bad)
    }
    throwsCode(() => resolver.resolveCached(), bad)
    throwsCode(() => resolver.resolveCached('runbeam.acme.widget.name.x'), 'RUNBEAM_INVALID_REFERENCE')
    await rejectsCode(resolver.resolve('a'.repeat(100_000)), 'RUNBEAM_INVALID_REFERENCE')
    throwsCode(() => resolver.invalidate('no..such'), 'RUNBEAM_INVALID_REFERENCE')
    await rejectsCode(resolver.meshToken(), bad)
    await rejectsCode(resolver.meshToken(42, DESTINATION), bad)
    await rejectsCode(resolver.meshToken(MESH, undefined), bad)
    await rejectsCode(resolver.meshToken(MESH, 'ftp://dicom.radiology.example.com/'), bad)
    await rejectsCode(resolver.verifyMeshToken(undefined, MESH), bad)
    await rejectsCode(resolver.verifyMeshToken('a.b.c', 42), bad)
    await rejectsCode(resolver.verifyMeshToken('a.b.c', MESH, 42), bad)
    await rejectsCode(resolver.verifyMeshToken('not a jwt', MESH), 'RUNBEAM_JWT_INVALID')
    throwsCode(() => resolver.reload('config.toml'), bad)
    throwsCode(() => resolver.reload(), bad)
    // Still usable afterwards.
    assert.equal((await resolver.resolve(DICOMWEB)).resource.name, 'dicomweb')
  })

  it('the ES module entry point exports Resolver and IssuedMeshToken', async () => {
    const esm = await import('@runbeam/sdk')
    assert.equal(esm.Resolver, Resolver)
    assert.equal(esm.IssuedMeshToken, IssuedMeshToken)
  })
})
