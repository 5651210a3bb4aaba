'use strict'
// Client (the Runbeam Cloud API client) against a runbeam-devcloud subprocess.

const { describe, it, before, after, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const { inspect } = require('node:util')

const { AuthorizeResult, Client, MeshTokenResult, Reference } = require('..')
const {
  startDevcloud,
  ALICE_SANCTUM,
  BOB_SANCTUM,
  RADIOLOGY_GW,
  ANALYTICS_GW,
  MESH,
  DICOM_URL,
  DICOMWEB,
} = require('./devcloud.cjs')

describe('Client against runbeam-devcloud', () => {
  let cloud
  let alice
  let bob
  let analytics

  before(async () => {
    cloud = await startDevcloud()
    alice = new Client(cloud.url, { token: ALICE_SANCTUM })
    bob = new Client(cloud.url, { token: BOB_SANCTUM })
    const granted = await bob.authorize(ANALYTICS_GW)
    analytics = bob.withToken(granted.expose())
  })

  after(async () => {
    await cloud?.stop()
  })

  afterEach(async () => {
    await cloud.clearFaults()
  })

  it('applies the base-URL rule', () => {
    assert.equal(alice.apiRoot, `${cloud.url}/api`)
  })

  it('authorizes a gateway with a Sanctum token', async () => {
    const granted = await alice.authorize(RADIOLOGY_GW, { metadata: ['node-test'] })
    assert.equal(typeof granted.expose(), 'string')
    assert.ok(granted.expose().length > 0)
    assert.equal(granted.machineToken, granted.expose(), 'the prototype getter reads the same secret')
    assert.ok(granted instanceof AuthorizeResult)
    assert.ok(granted.expiresInMs > 0)
    assert.ok(!Number.isNaN(Date.parse(granted.expiresAt)))
    assert.equal(granted.gateway.code, RADIOLOGY_GW)
    assert.equal(typeof granted.gateway.id, 'string')
    assert.equal(typeof granted.gateway.name, 'string')
    assert.ok(Array.isArray(granted.abilities))
  })

  it('sends the machine public key, which the gateway then carries, and says who authorized it', async () => {
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINodePublicKeyOfTheGateway'
    const granted = await alice.authorize(RADIOLOGY_GW, { metadata: ['node-test'], machinePublicKey: key })
    assert.deepEqual(granted.gateway.authorizedBy, {
      id: granted.gateway.authorizedBy.id,
      name: 'Alice Reyes',
      email: 'alice@radiology.example.com',
    })
    assert.equal(typeof granted.gateway.authorizedBy.id, 'string')
    assert.deepEqual(JSON.parse(JSON.stringify(granted)).gateway.authorizedBy, granted.gateway.authorizedBy)
    const gateway = await alice.get('gateways', granted.gateway.id)
    assert.equal(gateway.machine_public_key, key)
    await assert.rejects(alice.authorize(RADIOLOGY_GW, { machinePublicKey: 7 }), {
      code: 'RUNBEAM_INVALID_ARGUMENT',
      message: 'AuthorizeOptions.machinePublicKey must be a string, not a number',
    })
  })

  it("rejects another team's gateway code with 403", async () => {
    const err = await alice.authorize(ANALYTICS_GW).catch((e) => e)
    assert.ok(err instanceof Error)
    assert.equal(err.code, 'RUNBEAM_PERMISSION_DENIED')
    assert.equal(err.kind, 'PermissionDenied')
    assert.equal(err.status, 403)
    assert.equal(err.retryAfterMs, null)
    assert.equal(err.fieldErrors, null)
    assert.deepEqual(err.request, { method: 'POST', path: '/harmony/authorize' })
    // No token in what an error shows.
    const shown = inspect(err, { depth: 5 }) + JSON.stringify(err)
    assert.ok(!shown.includes(ALICE_SANCTUM.split('|')[1]))
  })

  it('resolves a reference, given as a string or a Reference', async () => {
    for (const ref of [DICOMWEB, Reference.parse(DICOMWEB)]) {
      const resolved = await analytics.resolve(ref)
      assert.equal(resolved.resource.type, 'ingress')
      assert.equal(resolved.resource.name, 'dicomweb')
      assert.ok(resolved.resource.urls.includes(DICOM_URL))
      assert.equal(resolved.provider, 'runbeam')
      assert.ok(!Number.isNaN(Date.parse(resolved.resolvedAt)))
    }
  })

  it('rejects an unknown reference with RUNBEAM_NOT_FOUND', async () => {
    await assert.rejects(analytics.resolve('runbeam.radiology-dept.ingress.name.nope'), (e) => {
      assert.equal(e.code, 'RUNBEAM_NOT_FOUND')
      assert.equal(e.status, 404)
      return true
    })
  })

  it('rejects bad arguments (the constructor throws)', async () => {
    await assert.rejects(analytics.resolve('runbeam.acme.widget.name.x'), { code: 'RUNBEAM_INVALID_REFERENCE' })
    await assert.rejects(analytics.resolve(42), { code: 'RUNBEAM_INVALID_ARGUMENT' })
    await assert.rejects(analytics.resolve('local-ingress'), { code: 'RUNBEAM_INVALID_ARGUMENT' })
    await assert.rejects(alice.list('widgets'), { code: 'RUNBEAM_INVALID_ARGUMENT', message: /widgets/ })
    await assert.rejects(alice.list('services', { perPage: 0 }), { code: 'RUNBEAM_INVALID_ARGUMENT' })
    await assert.rejects(alice.list('services', { perPage: 5000 }), { code: 'RUNBEAM_INVALID_ARGUMENT' })
    await assert.rejects(alice.authorize(7), { code: 'RUNBEAM_INVALID_ARGUMENT', message: /expected a string, not a number/ })
    assert.throws(() => new Client('ftp://x'), { code: 'RUNBEAM_INVALID_ARGUMENT' })
    assert.throws(() => new Client(cloud.url, { deadlineMs: -5 }), { code: 'RUNBEAM_INVALID_ARGUMENT', message: /deadlineMs/ })
    assert.throws(() => new Client(cloud.url, { deadlineMs: 'x' }), { code: 'RUNBEAM_INVALID_ARGUMENT', message: /deadlineMs/ })
    assert.throws(() => new Client(cloud.url, { caBundlePem: 'not a PEM' }), { code: 'RUNBEAM_INVALID_ARGUMENT' })
    assert.throws(() => new Client(cloud.url, 5), { code: 'RUNBEAM_INVALID_ARGUMENT' })
  })

  it('needs a token for authorize and hides the token', async () => {
    await assert.rejects(new Client(cloud.url).authorize(RADIOLOGY_GW), { code: 'RUNBEAM_NO_TOKEN' })
    const shown = inspect(alice, { depth: 5 }) + JSON.stringify(alice)
    assert.ok(!shown.includes(ALICE_SANCTUM.split('|')[1]), shown)
  })

  it('issues a mesh token and refuses one', async () => {
    const t = await analytics.meshToken(MESH, `${DICOM_URL}/studies/1.2.3`)
    assert.equal(t.expose().split('.').length, 3)
    assert.ok(t instanceof MeshTokenResult)
    assert.equal(t.token, t.expose(), 'the prototype getter reads the same secret')
    assert.ok(!Number.isNaN(Date.parse(t.expiresAt)))
    assert.equal(typeof t.meshId, 'string')

    const radiology = alice.withToken((await alice.authorize(RADIOLOGY_GW)).expose())
    await assert.rejects(radiology.meshToken(MESH, `${DICOM_URL}/studies/1.2.3`), (e) => {
      assert.equal(e.code, 'RUNBEAM_PERMISSION_DENIED')
      assert.equal(e.status, 403)
      return true
    })
    await assert.rejects(analytics.meshToken(MESH, 'https://evil.example.com/studies'), {
      code: 'RUNBEAM_PERMISSION_DENIED',
    })
  })

  it('serves jwks and baseUrl', async () => {
    const jwks = await analytics.jwks()
    assert.ok(jwks.keys.length >= 1)
    assert.equal(typeof jwks.keys[0].kty, 'string')
    const base = await analytics.baseUrl()
    assert.equal(typeof base.baseUrl, 'string')
  })

  it('creates, gets, updates, lists (pages and listAll) and deletes', async () => {
    const created = []
    for (let i = 0; i < 7; i++) {
      created.push(await alice.create('services', { name: `node-page-svc-${i}`, url: 'https://svc.example.com' }))
    }
    assert.equal(created[0].name, 'node-page-svc-0')
    assert.equal(typeof created[0].id, 'string')

    const got = await alice.get('services', created[1].id)
    assert.equal(got.id, created[1].id)
    const updated = await alice.update('services', created[1].id, { description: 'updated' })
    assert.equal(updated.description, 'updated')

    const first = await alice.list('services', { page: 1, perPage: 3 })
    assert.equal(first.data.length, 3)
    assert.equal(first.currentPage, 1)
    assert.equal(first.perPage, 3)
    assert.ok(first.total >= 7)
    assert.equal(first.lastPage, Math.ceil(first.total / 3))

    const all = []
    for await (const service of alice.listAll('services', { perPage: 3 })) all.push(service)
    assert.equal(all.length, first.total)
    const names = new Set(all.map((s) => s.name))
    for (const s of created) assert.ok(names.has(s.name))

    await alice.delete('services', created[0].id)
    await assert.rejects(alice.get('services', created[0].id), { code: 'RUNBEAM_NOT_FOUND' })
  })

  it('rejects a missing required field with 422 and fieldErrors', async () => {
    await assert.rejects(alice.create('services', { url: 'https://x.example' }), (e) => {
      assert.equal(e.code, 'RUNBEAM_VALIDATION')
      assert.equal(e.status, 422)
      assert.ok(Array.isArray(e.fieldErrors.name), inspect(e))
      return true
    })
  })

  it('keeps retryAfterMs of an injected 429', async () => {
    await cloud.fault({ path: '/api/harmony/base-url', status: 429, retry_after: 7, count: 5 })
    // No retry; and retries whose Retry-After would pass the deadline: rejected at once.
    const noRetry = new Client(cloud.url, { token: 'x', maxAttempts: 1 })
    const shortDeadline = new Client(cloud.url, { deadlineMs: 2000 }).withToken('machine-token')
    for (const client of [noRetry, shortDeadline]) {
      const err = await client.baseUrl().catch((e) => e)
      assert.equal(err.code, 'RUNBEAM_RATE_LIMITED', inspect(err))
      assert.equal(err.status, 429)
      assert.equal(err.retryAfterMs, 7000)
    }
  })

  it('reads a response body up to maxBodyBytes', async () => {
    const jwks = JSON.stringify(await alice.jwks())
    const capped = new Client(cloud.url, { maxBodyBytes: 64 })
    assert.ok(jwks.length > 64, 'the JWKS document is larger than the limit')
    await assert.rejects(capped.jwks(), (e) => {
      assert.equal(e.code, 'RUNBEAM_PROTOCOL', inspect(e))
      assert.match(e.message, /64/)
      return true
    })
    assert.deepEqual(await new Client(cloud.url, { maxBodyBytes: jwks.length + 1024 }).jwks(), JSON.parse(jwks))
    assert.throws(() => new Client(cloud.url, { maxBodyBytes: 0 }), { code: 'RUNBEAM_INVALID_ARGUMENT' })
    assert.throws(() => new Client(cloud.url, { maxBodyBytes: 1.5 }), {
      code: 'RUNBEAM_INVALID_ARGUMENT',
      message: /ClientOptions\.maxBodyBytes/,
    })
  })

  it('maps a 500, a malformed body and a refused connection', async () => {
    const once = new Client(cloud.url, { token: 'x', maxAttempts: 1 })
    await cloud.fault({ path: '/api/harmony/base-url', status: 500, count: 1 })
    await assert.rejects(once.baseUrl(), (e) => {
      assert.equal(e.code, 'RUNBEAM_SERVER_ERROR')
      assert.equal(e.status, 500)
      assert.deepEqual(e.request, { method: 'GET', path: '/harmony/base-url' })
      return true
    })
    await cloud.fault({ path: '/api/harmony/base-url', malformed_body: true, count: 1 })
    await assert.rejects(analytics.baseUrl(), { code: 'RUNBEAM_PROTOCOL' })
    // A port nobody listens on: one the OS just handed out and that was closed again.
    const net = require('node:net')
    const port = await new Promise((done) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address()
        s.close(() => done(port))
      })
    })
    await assert.rejects(new Client(`http://127.0.0.1:${port}`, { maxAttempts: 1 }).jwks(), (e) => {
      assert.equal(e.code, 'RUNBEAM_TRANSPORT')
      assert.equal(e.status, null)
      return true
    })
  })

  it('revokes a gateway: its machine token stops working', async () => {
    const code = 'node-revoke-gw'
    const gw = alice.withToken((await alice.authorize(code)).expose())
    await gw.baseUrl()
    const ack = await alice.revoke(code)
    assert.equal(ack.success, true)
    await assert.rejects(gw.baseUrl(), { code: 'RUNBEAM_UNAUTHORIZED', status: 401 })
  })

  it('times out with a latency fault and a short deadline, without blocking the event loop', async () => {
    await cloud.fault({ path: '/api/harmony/base-url', latency_ms: 10_000, count: 5 })
    const slow = new Client(cloud.url, { token: 'x', deadlineMs: 600, maxAttempts: 1 })
    let ticks = 0
    const timer = setInterval(() => ticks++, 20)
    const started = Date.now()
    const err = await slow.baseUrl().catch((e) => e)
    clearInterval(timer)
    assert.equal(err.code, 'RUNBEAM_TIMEOUT', inspect(err))
    // Generous: the point is that the client did not wait the server's 10 s out.
    assert.ok(Date.now() - started < 8000)
    assert.ok(ticks >= 10, `the event loop ticked ${ticks} times`)
  })
})
