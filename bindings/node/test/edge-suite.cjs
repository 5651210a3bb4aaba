'use strict'
// The behaviour every framework's middleware must have, run against runbeam-devcloud over real
// HTTP by express.test.cjs and fastify.test.cjs, each with its framework's apps (an adapter):
//
// - an egress app of team ai-analytics: `authenticate` (the user's JWT), `/healthz` public,
//   `/me` answering the claims, `/boom` failing in the application, `/imaging/<rest>` sending
//   the request across the mesh (`resolver.outbound` + fetch, the answer relayed) and
//   `/pacs/<rest>` doing the same for a reference no mesh lists;
// - an ingress app of team radiology-dept: `meshGuard` (the partner's mesh token, for the mesh
//   imaging-integration and the URL served) on `/dicomweb/...`, `/healthz` unguarded.
//
// Both listen on 127.0.0.1, port 0. The devcloud's DICOMweb ingress is pointed (as Alice) at
// the ingress app, so a request to the egress app really crosses the mesh.

const { describe, it, before, after, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const { readFileSync } = require('node:fs')
const http = require('node:http')
const { join } = require('node:path')

const { Client, MemoryTokenStore, MeshConfig, Resolver, TokenManager, Validator } = require('..')
const native = require('../native.js')
const {
  startDevcloud,
  analyticsConfig,
  ALICE_SANCTUM,
  BOB_SANCTUM,
  ANALYTICS_GW,
  RADIOLOGY_GW,
  MESH,
  DICOMWEB,
} = require('./devcloud.cjs')
const { EXAMPLES } = require('./helpers.cjs')

const BOB_EMAIL = 'bob@analytics.example.com'
const PACS = 'runbeam.radiology-dept.ingress.name.pacs'
const DICOMWEB_ID = '01JDW14DR9GPQY77ZXYYK596NG'
const RESOLVE_PATH = '/api/harmony/resources/resolve'
/** Port 9 (discard) on loopback: nothing listens, a request fails at once. */
const DEAD = 'http://127.0.0.1:9'
const WWW_AUTHENTICATE = 'Bearer error="invalid_token"'
const INVALID_TOKEN = '{"error":"invalid_token"}'
const RADIOLOGY_TOML = readFileSync(join(EXAMPLES, 'radiology-dept.toml'), 'utf8')

/** What the test apps' routes answer (shared by the adapters). */
const routes = {
  /** `/me`: who the user is, from the claims the middleware put on the request. */
  me: (state) => ({ sub: state.claims.sub, email: state.claims.user?.email, team: state.claims.team?.name }),
  /** `/dicomweb/studies` of the ingress app: the studies, and who called. */
  studies: (state) => ({
    studies: [{ '0020000D': { vr: 'UI', Value: ['1.2.840.113619.2.55.3'] } }],
    caller: state.meshClaims.all.source_team,
  }),
  /**
   * `/imaging/<rest>` and `/pacs/<rest>`: the request sent across the mesh with the host's
   * fetch. `{out}` to relay, `{error}` (the SDK's) to refuse, `{unreachable}` for a 502.
   */
  async forward(resolver, reference, path) {
    let out
    try {
      out = resolver.outboundCached(reference, path) ?? (await resolver.outbound(reference, path))
    } catch (error) {
      return { error }
    }
    try {
      const answer = await fetch(out.url, { headers: out.headers })
      return {
        status: answer.status,
        contentType: answer.headers.get('content-type') ?? 'application/octet-stream',
        body: Buffer.from(await answer.arrayBuffer()),
      }
    } catch {
      return { unreachable: true }
    }
  },
}

/**
 * Registers the suite for `adapter`: `{name, egress(options), ingress(options)}`, each starting
 * an app and resolving with `{url, close()}`. `egress({validator, resolver, onError})`;
 * `ingress({resolver, publicUrl(origin), onError})`, whose URL is its origin (the ingress URL
 * registered in the devcloud is `<origin>/dicomweb`).
 */
function edgeSuite(adapter) {
  describe(`${adapter.name} middleware against runbeam-devcloud`, () => {
    let cloud
    let validator
    let sender
    let receiver
    let egress
    let ingress
    let bob
    const errors = []
    const apps = []

    /** A resolver of team ai-analytics (Bob's gateway; `{api, maxAttempts}` of its client) or
     * radiology-dept (Alice's). */
    function analytics(options = {}) {
      const client = new Client(options.api ?? cloud.url, options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts })
      const tokenManager = new TokenManager({
        instanceId: ANALYTICS_GW,
        store: new MemoryTokenStore(),
        client,
        credential: BOB_SANCTUM,
      })
      const config = analyticsConfig(cloud.url, 300).withProviderApi('runbeam', options.api ?? cloud.url)
      return new Resolver({ config, client, tokenManager })
    }
    function radiology() {
      const client = new Client(cloud.url)
      return new Resolver({
        config: MeshConfig.fromToml(RADIOLOGY_TOML).withProviderApi('runbeam', cloud.url),
        client,
        tokenManager: new TokenManager({ instanceId: RADIOLOGY_GW, store: new MemoryTokenStore(), client }),
      })
    }
    /** Starts an app and closes it after the suite. */
    async function start(app) {
      const started = await app
      apps.push(started)
      return started
    }
    const recordError = (error, req, refusal) => {
      assert.ok(req && typeof req === 'object', 'the hook gets the request')
      errors.push({ code: error.code, status: refusal.status })
    }
    /** A user JWT of Bob minted by the devcloud (`/_dev/jwt`: `ttl_secs`, `claims`). */
    const mint = (extra) => cloud.userJwt(BOB_EMAIL, extra)

    before(async () => {
      cloud = await startDevcloud()
      // A leeway of 10 s on exp/nbf/iat (the default, 60 s, would still accept a token that
      // expired 60 s ago).
      validator = new Validator({ trustedIssuers: [`${cloud.url}/api`], leewayMs: 10_000 })
      sender = analytics()
      receiver = radiology()
      bob = await mint()
      egress = await start(adapter.egress({ validator, resolver: sender, onError: recordError }))
      ingress = await start(adapter.ingress({ resolver: receiver, publicUrl: (origin) => origin, onError: recordError }))
      // The seeded DICOMweb ingress now answers at the ingress app, as Alice registered it.
      const res = await fetch(`${cloud.url}/api/ingresses/${DICOMWEB_ID}`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${ALICE_SANCTUM}`, 'content-type': 'application/json' },
        body: JSON.stringify({ urls: [`${ingress.url}/dicomweb`], protocol: 'http' }),
      })
      assert.ok(res.ok, `PATCH ingress: ${res.status} ${await res.text()}`)
    })

    after(async () => {
      for (const app of apps) await app.close()
      await cloud?.stop()
    })

    afterEach(async () => {
      errors.length = 0
      native._faultArm('jwt', 0)
      native._faultArm('resolve', 0)
      await cloud.clearFaults()
    })

    /** GET `url` with the `Authorization` header `authorization` (none when undefined). */
    async function get(url, authorization) {
      const res = await fetch(url, { headers: authorization === undefined ? {} : { authorization } })
      return { status: res.status, headers: res.headers, body: await res.text() }
    }

    /** GET `path` exactly as written (fetch would normalise `%2e%2e` segments away). */
    function rawGet(base, path, authorization) {
      return new Promise((resolve, reject) => {
        const headers = authorization === undefined ? {} : { authorization }
        const { hostname, port } = new URL(base)
        const req = http.get({ hostname, port, path, headers }, (res) => {
          let body = ''
          res.setEncoding('utf8')
          res.on('data', (chunk) => (body += chunk))
          res.on('end', () => resolve({ status: res.statusCode, headers: new Headers(res.headers), body }))
        })
        req.on('error', reject)
      })
    }

    /** Asserts `answer` is the 401 of a bad token, exactly. */
    function assert401(answer, what) {
      assert.equal(answer.status, 401, `${what}: ${answer.status} ${answer.body}`)
      assert.equal(answer.headers.get('www-authenticate'), WWW_AUTHENTICATE, what)
      assert.equal(answer.headers.get('content-type'), 'application/json', what)
      assert.equal(answer.body, INVALID_TOKEN, `${what}: the body carries no detail`)
      assert.equal(answer.headers.get('retry-after'), null, what)
    }

    it('lets a valid user JWT through with its claims on the request; public paths need none', async () => {
      const answer = await get(`${egress.url}/me`, `Bearer ${bob}`)
      assert.equal(answer.status, 200, answer.body)
      const me = JSON.parse(answer.body)
      assert.equal(me.email, BOB_EMAIL)
      assert.equal(me.team, 'AI Analytics')
      assert.equal(typeof me.sub, 'string')
      // Cached now: the same answer, any case of the scheme.
      assert.deepEqual(JSON.parse((await get(`${egress.url}/me`, `bearer ${bob}`)).body), me)
      const health = await get(`${egress.url}/healthz`)
      assert.equal(health.status, 200)
      assert.deepEqual(JSON.parse(health.body), { status: 'ok' })
      assert.equal((await get(`${egress.url}/healthz?probe=1`)).status, 200, 'the query is ignored')
      assert401(await get(`${egress.url}/healthz/extra`), 'a public path is exact')
      assert.deepEqual(errors, [{ code: 'RUNBEAM_JWT_INVALID', status: 401 }])
    })

    it('answers 401 with WWW-Authenticate and no detail for missing, malformed, expired, untrusted and tampered tokens', async () => {
      const expired = await mint({ ttl_secs: -60 })
      const untrusted = await mint({ claims: { iss: 'https://evil.example/api' } })
      const tampered = `${bob.slice(0, -6)}${bob.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA'}`
      const cases = [
        [undefined, 'no Authorization header', 'RUNBEAM_JWT_INVALID'],
        ['', 'an empty header', 'RUNBEAM_JWT_INVALID'],
        ['Basic Ym9iOnB3', 'another scheme', 'RUNBEAM_JWT_INVALID'],
        ['Bearer', 'no token', 'RUNBEAM_JWT_INVALID'],
        ['Bearer a b', 'two tokens', 'RUNBEAM_JWT_INVALID'],
        ['Bearer not.a.jwt', 'garbage', 'RUNBEAM_JWT_INVALID'],
        [bob, 'the token without its scheme', 'RUNBEAM_JWT_INVALID'],
        [`Bearer ${tampered}`, 'a tampered signature', 'RUNBEAM_JWT_INVALID'],
        [`Bearer ${expired}`, 'an expired token (ttl -60 s)', 'RUNBEAM_JWT_EXPIRED'],
        [`Bearer ${untrusted}`, 'an untrusted issuer', 'RUNBEAM_UNTRUSTED_ISSUER'],
      ]
      for (const [authorization, what] of cases) {
        const answer = await get(`${egress.url}/me`, authorization)
        assert401(answer, what)
        for (const secret of [bob, expired, untrusted]) assert.ok(!answer.body.includes(secret.slice(0, 20)))
      }
      assert.deepEqual(
        errors,
        cases.map(([, , code]) => ({ code, status: 401 })),
        'onError got each SDK error',
      )
    })

    it('answers 503 with Retry-After when the keys cannot be fetched (the token may be fine)', async () => {
      const unreachable = new Validator({ trustedIssuers: [`${DEAD}/api`] })
      const app = await start(adapter.egress({ validator: unreachable, resolver: sender, onError: recordError }))
      const token = await mint({ claims: { iss: `${DEAD}/api` } })
      const answer = await get(`${app.url}/me`, `Bearer ${token}`)
      assert.equal(answer.status, 503, answer.body)
      assert.equal(answer.headers.get('retry-after'), '5')
      assert.equal(answer.headers.get('www-authenticate'), null)
      assert.equal(answer.body, '{"error":"unavailable"}')
      assert.deepEqual(errors, [{ code: 'RUNBEAM_TRANSPORT', status: 503 }])
    })

    it('answers an unexpected Internal error of the SDK with its refusal (503), never a 500', async () => {
      const fresh = await mint({ claims: { jti: 'internal-check' } })
      native._faultArm('jwt', 1)
      const answer = await get(`${egress.url}/me`, `Bearer ${fresh}`)
      assert.equal(answer.status, 503, answer.body)
      assert.equal(answer.headers.get('retry-after'), '30')
      assert.equal(answer.body, '{"error":"unavailable"}')
      assert.deepEqual(errors, [{ code: 'RUNBEAM_INTERNAL', status: 503 }])
      // The same token then goes through: the panic cost one request.
      assert.equal((await get(`${egress.url}/me`, `Bearer ${fresh}`)).status, 200)
    })

    it('leaves the errors of the application to the framework', async () => {
      const boom = await get(`${egress.url}/boom`, `Bearer ${bob}`)
      assert.equal(boom.status, 500, 'the framework answers the route that failed')
      assert.notEqual(boom.body, '{"error":"unavailable"}')
      assert.deepEqual(errors, [])
      // An onError hook that throws is the application's error too.
      const throwing = await start(
        adapter.egress({
          validator,
          resolver: sender,
          onError: () => {
            throw new Error('the host logger failed')
          },
        }),
      )
      const answer = await get(`${throwing.url}/me`)
      assert.equal(answer.status, 500, answer.body)
      assert.equal(answer.headers.get('www-authenticate'), null)
    })

    it('the mesh guard lets a real mesh token through with its claims on the request', async () => {
      const issued = await sender.meshToken(MESH, `${ingress.url}/dicomweb`)
      const answer = await get(`${ingress.url}/dicomweb/studies?modality=CT`, `Bearer ${issued.token}`)
      assert.equal(answer.status, 200, answer.body)
      assert.equal(JSON.parse(answer.body).caller, 'ai-analytics')
      assert.equal((await get(`${ingress.url}/healthz`)).status, 200, 'an unguarded route')
      assert.deepEqual(errors, [])
    })

    it('the mesh guard answers 401 for a token of another mesh, of another destination, a user JWT or none', async () => {
      const dest = `${ingress.url}/dicomweb`
      const real = await sender.meshToken(MESH, dest)
      const { aud, mesh_id: meshId, dest_url: destUrl } = real.claims.all
      assert.equal(destUrl, dest)
      const meshClaims = { aud, mesh_id: meshId, dest_url: destUrl }
      // Minted with the Cloud's key: the control passes, each variant does not.
      const lookalike = await mint({ claims: meshClaims })
      const served = `${ingress.url}/dicomweb/studies`
      assert.equal((await get(served, `Bearer ${lookalike}`)).status, 200, 'the control')
      errors.length = 0
      const otherMesh = await mint({ claims: { ...meshClaims, aud: ['mesh:other-mesh'], mesh_id: 'other-mesh' } })
      const otherDestination = await mint({ claims: { ...meshClaims, dest_url: 'https://pacs.radiology.example.com' } })
      const expired = await mint({ ttl_secs: -3600, claims: meshClaims })
      const cases = [
        [`Bearer ${otherMesh}`, 'a mesh token for another mesh'],
        [`Bearer ${otherDestination}`, 'a mesh token for another destination'],
        [`Bearer ${bob}`, 'a user JWT'],
        [`Bearer ${expired}`, 'an expired mesh token'],
        [undefined, 'no Authorization header'],
        ['Basic Ym9iOnB3', 'another scheme'],
      ]
      for (const [authorization, what] of cases) assert401(await get(served, authorization), what)
      // The real token on a path outside the resource it was issued for.
      assert401(await get(`${ingress.url}/admin`, `Bearer ${real.token}`), 'a path outside dest_url')
      // A path that could be read as another one: the client's mistake, 400.
      const sneaky = await rawGet(ingress.url, '/dicomweb/studies/%2e%2e;/admin', `Bearer ${real.token}`)
      assert.equal(sneaky.status, 400, sneaky.body)
      assert.equal(sneaky.body, '{"error":"invalid_request"}')
      assert.equal(errors.length, cases.length + 2)
      assert.ok(errors.every(({ status }, i) => status === (i === cases.length + 1 ? 400 : 401)), JSON.stringify(errors))
    })

    it('outbound: 403 for a reference outside the mesh', async () => {
      const answer = await get(`${egress.url}/pacs/studies`, `Bearer ${bob}`)
      assert.equal(answer.status, 403, answer.body)
      assert.equal(answer.body, '{"error":"not_in_mesh"}')
      assert.equal(answer.headers.get('content-type'), 'application/json')
      assert.equal(answer.headers.get('www-authenticate'), null)
    })

    it('outbound: 503 with Retry-After when the Cloud is down and no stale answer can be served', async () => {
      // The Cloud failing with its own Retry-After: a fresh resolver has no answer to fall back on.
      const app = await start(adapter.egress({ validator, resolver: analytics({ maxAttempts: 1 }), onError: recordError }))
      await cloud.fault({ path: RESOLVE_PATH, status: 503, retry_after: 7, count: 10 })
      let answer = await get(`${app.url}/imaging/studies`, `Bearer ${bob}`)
      assert.equal(answer.status, 503, answer.body)
      assert.equal(answer.headers.get('retry-after'), '7', "the Cloud's own Retry-After")
      assert.equal(answer.body, '{"error":"unavailable"}')
      // The Cloud unreachable (a dead port): the transient default.
      const dead = await start(adapter.egress({ validator, resolver: analytics({ api: DEAD, maxAttempts: 1 }), onError: recordError }))
      answer = await get(`${dead.url}/imaging/studies`, `Bearer ${bob}`)
      assert.equal(answer.status, 503, answer.body)
      assert.equal(answer.headers.get('retry-after'), '5')
      assert.equal(answer.body, '{"error":"unavailable"}')
      // An unexpected Internal error on the way out: a refusal too.
      native._faultArm('resolve', 1)
      answer = await get(`${egress.url}/imaging/studies`, `Bearer ${bob}`)
      assert.equal(answer.status, 503, answer.body)
      assert.equal(answer.headers.get('retry-after'), '30')
    })

    it('outbound: a request crosses the mesh end to end, egress app to ingress app', async () => {
      const answer = await get(`${egress.url}/imaging/studies?modality=CT`, `Bearer ${bob}`)
      assert.equal(answer.status, 200, answer.body)
      assert.equal(answer.headers.get('content-type'), 'application/json; charset=utf-8')
      const body = JSON.parse(answer.body)
      assert.equal(body.caller, 'ai-analytics', 'the ingress verified the mesh token of ai-analytics')
      assert.equal(body.studies.length, 1)
      // Again: resolution and mesh token from the cache, no request to the Cloud.
      await cloud.resetCounts()
      assert.equal((await get(`${egress.url}/imaging/studies`, `Bearer ${bob}`)).status, 200)
      assert.equal(await cloud.count('GET /api/harmony/resources/resolve'), 0)
      assert.equal(await cloud.count('POST /api/harmony/mesh/token'), 0)
      // A path that would leave the resource: refused before anything is sent.
      const escape = await rawGet(egress.url, '/imaging/%2e%2e/admin', `Bearer ${bob}`)
      assert.equal(escape.status, 400, escape.body)
      assert.deepEqual(errors, [])
    })
  })
}

module.exports = { edgeSuite, routes }
