'use strict'
// Cancellation: the `signal` (an AbortSignal) of every Promise-returning method, against a
// runbeam-devcloud subprocess over real HTTP. Aborting rejects at once with an
// AbortError-compatible RUNBEAM_CANCELLED error, and the request is really cancelled: the Rust
// future is dropped with its connection, so the server (which makes a request slow with its
// `latency_ms` fault and only then handles it) never carries it out. A signal already aborted
// rejects without any request.
//
// The one upper bound on time (the rejection comes before the injected latency is over) has
// seconds of slack; the proof that the server never handled the request does not depend on
// time: what it would have created does not exist, and creating it again is no conflict.

const { describe, it, before, after, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const { getEventListeners } = require('node:events')
const { inspect } = require('node:util')

const { Client, MemoryTokenStore, Resolver, TokenManager, Validator, openTokenStore } = require('..')
const {
  startDevcloud,
  analyticsConfig,
  ALICE_SANCTUM,
  BOB_SANCTUM,
  ANALYTICS_GW,
  DICOMWEB,
} = require('./devcloud.cjs')
const { settledWithin } = require('./helpers.cjs')

const LATENCY_MS = 2000
const sleep = (ms) => new Promise((done) => setTimeout(done, ms))

/** Asserts that `error` is the SDK's cancellation error (AbortError-compatible). */
function assertCancelled(error, { function: name, cause }) {
  assert.ok(error instanceof Error, inspect(error))
  assert.equal(error.name, 'AbortError', inspect(error))
  assert.equal(error.code, 'RUNBEAM_CANCELLED', inspect(error))
  assert.equal(error.kind, 'Cancelled')
  assert.ok(error.message.startsWith(name), error.message)
  assert.equal(error.status, null)
  assert.equal(error.attempts, null)
  if (cause !== undefined) assert.equal(error.cause, cause)
}

describe('AbortSignal against runbeam-devcloud', () => {
  let cloud
  let alice

  /** Waits until devcloud has received `key` (`"POST /api/services"`) `n` times. */
  async function received(key, n = 1) {
    while ((await cloud.count(key)) < n) await sleep(10)
  }

  before(async () => {
    cloud = await startDevcloud()
    alice = new Client(cloud.url, { token: ALICE_SANCTUM })
  })

  after(async () => {
    await cloud?.stop()
  })

  afterEach(async () => {
    await cloud.clearFaults()
    await cloud.resetCounts()
  })

  it('aborting a request the server holds rejects at once, and the server never carries it out', async () => {
    const name = `node-abort-${process.pid}`
    await cloud.fault({ path: '/api/services', method: 'POST', latency_ms: LATENCY_MS, count: 1 })
    const controller = new AbortController()
    const creating = alice.create('services', { name, url: 'https://abort.example' }, { signal: controller.signal })
    await received('POST /api/services')
    assert.equal(getEventListeners(controller.signal, 'abort').length, 1, 'the call listens while it runs')
    const reason = new Error('the gateway is shutting down')
    controller.abort(reason)

    // Settled before the server could have answered.
    const outcome = await settledWithin(creating, LATENCY_MS)
    assert.notEqual(outcome, 'pending', 'the Promise waited for the server')
    assert.ok('error' in outcome, `resolved with ${inspect(outcome.value)}`)
    assertCancelled(outcome.error, { function: 'Client.create', cause: reason })
    assert.match(outcome.error.message, /aborted by its AbortSignal/)
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0, 'and stops listening')

    // Once the latency is over, a request still alive would have created the service: there is
    // none, and creating it is no conflict.
    await sleep(LATENCY_MS + 500)
    const names = []
    for await (const service of alice.listAll('services')) names.push(service.name)
    assert.ok(!names.includes(name), 'the aborted request was carried out')
    const created = await alice.create('services', { name, url: 'https://abort.example' })
    assert.equal(created.name, name)
    assert.equal(await cloud.count('POST /api/services'), 2)
  })

  it('a signal already aborted rejects without any request', async () => {
    const reason = new Error('too late')
    const signal = AbortSignal.abort(reason)
    const gateway = alice.withToken('machine-token-never-sent')
    const calls = [
      ['Client.jwks', () => alice.jwks({ signal })],
      ['Client.create', () => alice.create('services', { name: 'never' }, { signal })],
      ['Client.authorize', () => alice.authorize(ANALYTICS_GW, { signal })],
      ['Client.list', () => alice.list('services', { signal })],
      ['Client.updateConfig', () => gateway.updateConfig('pipeline', 'name = "p"', { signal })],
      ['Client.changeFailed', () => gateway.changeFailed('id', 'e', { stage: 'x' }, { signal })],
      ['Validator.refreshKeys', () => new Validator({ trustedIssuers: [`${cloud.url}/api`] }).refreshKeys({ signal })],
      ['Validator.validate', () => new Validator({ trustedIssuers: [`${cloud.url}/api`] }).validate('a.b.c', { signal })],
      ['TokenManager.ensureToken', () => manager().ensureToken({ signal })],
    ]
    for (const [name, call] of calls) {
      assertCancelled(await call().catch((e) => e), { function: name, cause: reason })
    }
    assert.match((await alice.jwks({ signal }).catch((e) => e)).message, /was not started: its AbortSignal was already aborted/)
    const listed = await alice.listAll('services', { signal }).next().catch((e) => e)
    assertCancelled(listed, { function: 'Client.listAll', cause: reason })
    const counts = (await (await fetch(`${cloud.url}/_dev/counters`)).json()).counts
    assert.deepEqual(counts, {}, 'no request reached the Cloud')

    // Nor any store access: a save that was not started saves nothing.
    const store = new MemoryTokenStore()
    const token = { machineToken: 'mt-abort', expiresAt: new Date('2031-01-01T00:00:00Z'), gatewayId: 'gw' }
    assertCancelled(await store.saveMachineToken('gw', token, { signal }).catch((e) => e), {
      function: 'MemoryTokenStore.saveMachineToken',
    })
    assert.equal(await store.loadMachineToken('gw'), null)
    assertCancelled(await openTokenStore({ choice: 'file', signal }).catch((e) => e), { function: 'openTokenStore' })
  })

  /** A token manager of Bob's analytics gateway (memory store, Sanctum credential). */
  function manager(store = new MemoryTokenStore()) {
    return new TokenManager({ instanceId: ANALYTICS_GW, store, client: new Client(cloud.url), credential: BOB_SANCTUM })
  }

  it('aborts a JWKS fetch (Validator.refreshKeys, validate) and a renewal (TokenManager.ensureToken)', async () => {
    const validator = new Validator({ trustedIssuers: [`${cloud.url}/api`] })
    await cloud.fault({ path: '/api/.well-known/jwks.json', latency_ms: LATENCY_MS, count: 1 })
    const controller = new AbortController()
    const refreshing = validator.refreshKeys({ signal: controller.signal })
    await received('GET /api/.well-known/jwks.json')
    controller.abort()
    const refreshed = await settledWithin(refreshing, LATENCY_MS)
    assert.notEqual(refreshed, 'pending')
    assertCancelled(refreshed.error, { function: 'Validator.refreshKeys' })
    assert.equal(refreshed.error.cause.name, 'AbortError', 'the default reason of abort()')
    // The aborted fetch left no mark: the next one is made at once (no minimum interval).
    await validator.refreshKeys()
    assert.equal(await cloud.count('GET /api/.well-known/jwks.json'), 2)

    const store = new MemoryTokenStore()
    await cloud.fault({ path: '/api/harmony/authorize', method: 'POST', latency_ms: LATENCY_MS, count: 1 })
    const renewal = new AbortController()
    const ensuring = manager(store).ensureToken({ signal: renewal.signal })
    await received('POST /api/harmony/authorize')
    renewal.abort()
    const ensured = await settledWithin(ensuring, LATENCY_MS)
    assert.notEqual(ensured, 'pending')
    assertCancelled(ensured.error, { function: 'TokenManager.ensureToken' })
    assert.equal(await store.loadMachineToken(ANALYTICS_GW), null, 'nothing saved')
    const token = await manager(store).ensureToken()
    assert.equal(token.gatewayId.length > 0, true)
  })

  it('aborts the page a listAll loop waits for', async () => {
    await cloud.fault({ path: '/api/services', method: 'GET', latency_ms: LATENCY_MS, count: 1 })
    const controller = new AbortController()
    const walk = (async () => {
      for await (const service of alice.listAll('services', { signal: controller.signal })) void service
    })()
    await received('GET /api/services')
    controller.abort()
    const outcome = await settledWithin(walk, LATENCY_MS)
    assert.notEqual(outcome, 'pending')
    assertCancelled(outcome.error, { function: 'Client.listAll' })
  })

  it("a Resolver's caller stops waiting; the fetch it shares with other callers goes on", async () => {
    const client = new Client(cloud.url)
    const tokenManager = new TokenManager({ instanceId: ANALYTICS_GW, store: new MemoryTokenStore(), client, credential: BOB_SANCTUM })
    const resolver = new Resolver({ config: analyticsConfig(cloud.url, 300), client, tokenManager })
    await tokenManager.ensureToken()
    await cloud.fault({ path: '/api/harmony/resources/resolve', latency_ms: LATENCY_MS, count: 1 })
    const controller = new AbortController()
    const waiting = resolver.resolve(DICOMWEB, { signal: controller.signal })
    const other = resolver.resolve(DICOMWEB)
    await received('GET /api/harmony/resources/resolve')
    controller.abort()
    const outcome = await settledWithin(waiting, LATENCY_MS)
    assert.notEqual(outcome, 'pending')
    assertCancelled(outcome.error, { function: 'Resolver.resolve' })
    // The other caller gets the answer of the one request, which is cached.
    assert.equal((await other).resource.name, 'dicomweb')
    assert.equal(resolver.stats().upstreamRequests, 1)
    assert.equal(resolver.resolveCached(DICOMWEB).resource.name, 'dicomweb')
  })

  it('leaves no listener on a long-lived signal, and the signal\'s own onabort handler in place', async () => {
    const controller = new AbortController()
    const { signal } = controller
    let handled = 0
    signal.onabort = () => handled++
    const validator = new Validator({ trustedIssuers: [`${cloud.url}/api`] })
    for (let round = 0; round < 3; round++) {
      const calls = []
      for (let i = 0; i < 5; i++) calls.push(alice.jwks({ signal }), validator.refreshKeys({ signal }))
      calls.push(alice.get('services', 'no-such-service', { signal }).catch((e) => e.code))
      const done = await Promise.all(calls)
      assert.equal(done.at(-1), 'RUNBEAM_NOT_FOUND')
    }
    // Only the handler set above listens (the `onabort` attribute is a listener too).
    assert.equal(getEventListeners(signal, 'abort').length, 1)
    // A cache hit with a live signal answers without registering anything.
    const claims = await validator.validate(await mintUserJwt(), { signal })
    assert.equal(typeof claims.sub, 'string')
    assert.equal(getEventListeners(signal, 'abort').length, 1)
    controller.abort()
    assert.equal(handled, 1)
  })

  /** A user JWT of Alice signed by devcloud. */
  async function mintUserJwt() {
    const res = await fetch(`${cloud.url}/_dev/jwt`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'alice@radiology.example.com' }),
    })
    return (await res.json()).token
  }

  it('a call that finished is not affected by a later abort', async () => {
    const controller = new AbortController()
    const jwks = await alice.jwks({ signal: controller.signal })
    assert.ok(jwks.keys.length >= 1)
    controller.abort()
    // And an AbortSignal.timeout that fires later rejects the call it still waits for.
    await cloud.fault({ path: '/api/.well-known/jwks.json', latency_ms: LATENCY_MS, count: 1 })
    const timedOut = await alice.jwks({ signal: AbortSignal.timeout(50) }).catch((e) => e)
    assertCancelled(timedOut, { function: 'Client.jwks' })
    assert.equal(timedOut.cause.name, 'TimeoutError')
  })
})
