'use strict'
// Reliability over real HTTP (the Node side of tests/e2e/tests/client_faults.rs): every error
// kind of docs/spec.md §3.4 produced by runbeam-devcloud's fault injection (/_dev/faults), retries of
// idempotent calls and none of POSTs (counted by /_dev/counters), Retry-After, the deadline —
// and no error ever shows a token.
//
// No assertion depends on how fast this machine is: waits are asserted from below only (a
// client that honours `Retry-After: 1` cannot finish in less than a second), and the one upper
// bound (a 500 ms deadline against a 10 s server delay) has seconds of slack.

const { describe, it, before, after, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const { inspect } = require('node:util')
const { performance } = require('node:perf_hooks')

const { Client } = require('..')
const { startDevcloud, ALICE_SANCTUM, BOB_SANCTUM, ANALYTICS_GW, MESH, DICOM_URL, DICOMWEB } = require('./devcloud.cjs')

const BASE_URL = '/harmony/base-url'
const RESOLVE = '/harmony/resources/resolve'
const MESH_TOKEN = '/harmony/mesh/token'
const UPDATE = '/harmony/update'
const ACKNOWLEDGE = '/harmony/changes/acknowledge'
/** Paths as devcloud serves (and counts) them: under the API root `/api`. */
const served = (path) => `/api${path}`

/** Every error kind of docs/spec.md §3.4 an HTTP status maps to. */
const STATUS_KINDS = [
  [401, 'RUNBEAM_UNAUTHORIZED', 'Unauthorized'],
  [403, 'RUNBEAM_PERMISSION_DENIED', 'PermissionDenied'],
  [404, 'RUNBEAM_NOT_FOUND', 'NotFound'],
  [409, 'RUNBEAM_CONFLICT', 'Conflict'],
  [422, 'RUNBEAM_VALIDATION', 'Validation'],
  [429, 'RUNBEAM_RATE_LIMITED', 'RateLimited'],
  [500, 'RUNBEAM_SERVER_ERROR', 'ServerError'],
  [502, 'RUNBEAM_SERVER_ERROR', 'ServerError'],
  [503, 'RUNBEAM_SERVER_ERROR', 'ServerError'],
  [504, 'RUNBEAM_SERVER_ERROR', 'ServerError'],
]
/** Kinds an idempotent call retries (runbeam-core's policy, docs/spec.md §3.4). */
const RETRIED = new Set(['RUNBEAM_RATE_LIMITED', 'RUNBEAM_SERVER_ERROR', 'RUNBEAM_TRANSPORT', 'RUNBEAM_TIMEOUT'])

describe('Client faults against runbeam-devcloud', () => {
  let cloud
  /** Bob's analytics gateway (machine token), default retries (3 attempts). */
  let gateway
  /** Its machine token: no error may show it. */
  let machineToken
  /** Every token used here; no error may show any of them. */
  const secrets = [ALICE_SANCTUM, ALICE_SANCTUM.split('|')[1], BOB_SANCTUM, BOB_SANCTUM.split('|')[1]]

  /** A client of Bob's gateway with other options (same machine token). */
  const gatewayWith = (options) => new Client(cloud.url, { ...options, token: machineToken })

  /** The rejection of `promise` (fails if it resolves). */
  async function rejection(promise) {
    const outcome = await promise.then(
      (value) => ({ value }),
      (error) => ({ error }),
    )
    assert.ok('error' in outcome, `resolved instead of rejecting: ${inspect(outcome.value)}`)
    return outcome.error
  }

  /**
   * Asserts what every Cloud error carries (docs/spec.md §3.4), and that no token shows. `status`: the
   * HTTP status, null when there was no answer, or a list of the acceptable ones.
   */
  function assertCloudError(err, { code, kind, status, method, path }) {
    assert.ok(err instanceof Error, inspect(err))
    assert.equal(err.code, code, inspect(err))
    assert.equal(err.kind, kind, inspect(err))
    if (Array.isArray(status)) assert.ok(status.includes(err.status), inspect(err))
    else assert.equal(err.status, status, inspect(err))
    assert.deepEqual(err.request, { method, path }, inspect(err))
    assert.ok(err.message.includes(`${method} ${path}`), err.message)
    if (status !== 429) assert.equal(err.retryAfterMs, null, inspect(err))
    if (status !== 422) assert.equal(err.fieldErrors, null, inspect(err))
    assertNoToken(err)
  }

  /** No token in anything an error shows: message, stack, inspect (hidden too), JSON. */
  function assertNoToken(err) {
    const shown = [
      err.message,
      err.stack,
      inspect(err, { depth: 10, showHidden: true }),
      JSON.stringify(err),
      String(err),
      err.serverMessage ?? '',
      JSON.stringify(err.fieldErrors),
    ].join('\n')
    for (const secret of [machineToken, ...secrets]) {
      assert.ok(!shown.includes(secret), `an error shows a token: ${shown}`)
    }
  }

  before(async () => {
    cloud = await startDevcloud()
    const bob = new Client(cloud.url, { token: BOB_SANCTUM })
    machineToken = (await bob.authorize(ANALYTICS_GW)).expose()
    assert.ok(machineToken.length >= 16, 'a machine token long enough to be searched for')
    gateway = bob.withToken(machineToken)
  })

  after(async () => {
    await cloud?.stop()
  })

  afterEach(async () => {
    await cloud.clearFaults()
    await cloud.resetCounts()
  })

  it('maps every injected HTTP status of a GET to its error kind; retries only 429 and 5xx', async () => {
    for (const [status, code, kind] of STATUS_KINDS) {
      await cloud.clearFaults()
      await cloud.resetCounts()
      await cloud.fault({ path: served(BASE_URL), status, count: 10 })
      const err = await rejection(gateway.baseUrl())
      assertCloudError(err, { code, kind, status, method: 'GET', path: BASE_URL })
      const attempts = RETRIED.has(code) ? 3 : 1
      assert.equal(await cloud.count(`GET ${served(BASE_URL)}`), attempts, `${status}: attempts`)
      assert.equal(err.attempts, attempts, `${status}: RunbeamError.attempts`)
      if (attempts > 1) assert.match(err.message, /after 3 attempts/)
      if (status === 404) assert.match(err.message, /^Resource not found: /)
      if (status === 403) assert.match(err.serverMessage, /injected_fault/)
      if (status === 422) {
        // The server's field errors are kept, field by field.
        assert.deepEqual(Object.keys(err.fieldErrors), ['fault'], inspect(err))
        assert.ok(err.fieldErrors.fault.length >= 1)
        assert.match(err.fieldErrors.fault[0], /Injected fault/)
        assert.match(err.message, /fault: Injected fault/)
      }
      if (status >= 500) assert.match(err.serverMessage, new RegExp(`injected ${status}`))
    }
  })

  it('maps every injected HTTP status of a POST to its error kind, with exactly one attempt', async () => {
    for (const [status, code, kind] of STATUS_KINDS) {
      await cloud.clearFaults()
      await cloud.resetCounts()
      await cloud.fault({ path: served(MESH_TOKEN), method: 'POST', status, count: 10 })
      const err = await rejection(gateway.meshToken(MESH, `${DICOM_URL}/studies`))
      assertCloudError(err, { code, kind, status, method: 'POST', path: MESH_TOKEN })
      assert.equal(await cloud.count(`POST ${served(MESH_TOKEN)}`), 1, `${status}: a POST is never retried`)
      assert.equal(err.attempts, 1, `${status}: RunbeamError.attempts`)
      assert.doesNotMatch(err.message, /attempts/)
    }
  })

  it('maps real 401, 403, 404, 409 and 422 answers (no fault) the same way', async () => {
    const stranger = gatewayWith({ maxAttempts: 1 }).withToken('machine-token-nobody-issued-0123456789')
    const unauthorized = await rejection(stranger.baseUrl())
    assertCloudError(unauthorized, { code: 'RUNBEAM_UNAUTHORIZED', kind: 'Unauthorized', status: 401, method: 'GET', path: BASE_URL })
    assert.ok(!inspect(unauthorized).includes('machine-token-nobody-issued'))

    const alice = new Client(cloud.url, { token: ALICE_SANCTUM })
    const denied = await rejection(alice.authorize(ANALYTICS_GW))
    assertCloudError(denied, { code: 'RUNBEAM_PERMISSION_DENIED', kind: 'PermissionDenied', status: 403, method: 'POST', path: '/harmony/authorize' })
    assert.equal(typeof denied.serverMessage, 'string')

    const missing = await rejection(gateway.resolve('runbeam.radiology-dept.ingress.name.no-such-ingress'))
    assertCloudError(missing, { code: 'RUNBEAM_NOT_FOUND', kind: 'NotFound', status: 404, method: 'GET', path: RESOLVE })
    assert.match(missing.message, /^Resource not found: runbeam\.radiology-dept\.ingress\.name\.no-such-ingress/)

    const name = `node-faults-conflict-${process.pid}`
    await alice.create('services', { name })
    const conflict = await rejection(alice.create('services', { name }))
    assertCloudError(conflict, { code: 'RUNBEAM_CONFLICT', kind: 'Conflict', status: 409, method: 'POST', path: '/services' })

    const invalid = await rejection(alice.create('services', { description: 'no name' }))
    assertCloudError(invalid, { code: 'RUNBEAM_VALIDATION', kind: 'Validation', status: 422, method: 'POST', path: '/services' })
    assert.ok(Array.isArray(invalid.fieldErrors.name), inspect(invalid))
  })

  it('redacts its own token when the server echoes it back', async () => {
    // devcloud quotes an unknown change id in its 422 message and field errors: pass the
    // machine token as the id and the server sends it back in both.
    const err = await rejection(gateway.acknowledgeChanges([machineToken, '01JDWNOTACHANGE']))
    assertCloudError(err, { code: 'RUNBEAM_VALIDATION', kind: 'Validation', status: 422, method: 'POST', path: ACKNOWLEDGE })
    assert.deepEqual(Object.keys(err.fieldErrors).sort(), ['change_ids.0', 'change_ids.1'], inspect(err))
    // The echoes are there, with the token replaced.
    assert.match(err.serverMessage, /The selected change '\*\*\*' is invalid/)
    assert.match(err.fieldErrors['change_ids.0'][0], /The selected change '\*\*\*' is invalid/)
    assert.match(err.fieldErrors['change_ids.1'][0], /01JDWNOTACHANGE/)
  })

  it('retries a GET after a 5xx and succeeds: devcloud counts two attempts', async () => {
    await cloud.fault({ path: served(RESOLVE), status: 503, count: 1 })
    const resolved = await gateway.resolve(DICOMWEB)
    assert.equal(resolved.resource.name, 'dicomweb')
    assert.equal(await cloud.count(`GET ${served(RESOLVE)}`), 2)
  })

  it('gives up a GET after maxAttempts (3 by default, as configured otherwise)', async () => {
    await cloud.fault({ path: served(RESOLVE), status: 500, count: 50 })
    const err = await rejection(gateway.resolve(DICOMWEB))
    assertCloudError(err, { code: 'RUNBEAM_SERVER_ERROR', kind: 'ServerError', status: 500, method: 'GET', path: RESOLVE })
    assert.match(err.message, /after 3 attempts/)
    assert.equal(await cloud.count(`GET ${served(RESOLVE)}`), 3)

    for (const maxAttempts of [1, 2, 4]) {
      await cloud.resetCounts()
      const e = await rejection(gatewayWith({ maxAttempts }).resolve(DICOMWEB))
      assert.equal(e.code, 'RUNBEAM_SERVER_ERROR', inspect(e))
      assert.equal(await cloud.count(`GET ${served(RESOLVE)}`), maxAttempts)
    }
  })

  it('says in RunbeamError.attempts how many attempts a retried 503 took', async () => {
    for (const maxAttempts of [1, 2, 3]) {
      await cloud.clearFaults()
      await cloud.resetCounts()
      await cloud.fault({ path: served(RESOLVE), status: 503, count: 10 })
      const err = await rejection(gatewayWith({ maxAttempts }).resolve(DICOMWEB))
      assertCloudError(err, { code: 'RUNBEAM_SERVER_ERROR', kind: 'ServerError', status: 503, method: 'GET', path: RESOLVE })
      assert.equal(err.attempts, maxAttempts, inspect(err))
      assert.equal(await cloud.count(`GET ${served(RESOLVE)}`), maxAttempts, 'devcloud saw as many')
    }
    // An error that is not the Cloud's has no attempts.
    const invalid = await rejection(gateway.resolve('runbeam.acme.widget.name.x'))
    assert.equal(invalid.code, 'RUNBEAM_INVALID_REFERENCE')
    assert.equal(invalid.attempts, null)
  })

  it('retries PUT and DELETE (idempotent) too', async () => {
    const alice = new Client(cloud.url, { token: ALICE_SANCTUM })
    const svc = await alice.create('services', { name: `node-faults-put-${process.pid}` })
    const path = served(`/services/${svc.id}`)
    await cloud.fault({ path, method: 'PUT', status: 502, count: 1 })
    const updated = await alice.update('services', svc.id, { description: 'after a 502' })
    assert.equal(updated.description, 'after a 502')
    assert.equal(await cloud.count(`PUT ${path}`), 2)

    await cloud.fault({ path, method: 'DELETE', drop_connection: true, count: 1 })
    await alice.delete('services', svc.id)
    assert.equal(await cloud.count(`DELETE ${path}`), 2)
    await assert.rejects(alice.get('services', svc.id), { code: 'RUNBEAM_NOT_FOUND' })
  })

  it('never retries a POST: one attempt after a 5xx, a 429 or a dropped connection', async () => {
    await cloud.fault({ path: served(MESH_TOKEN), method: 'POST', status: 503, count: 1 })
    const err = await rejection(gateway.meshToken(MESH, `${DICOM_URL}/studies`))
    assertCloudError(err, { code: 'RUNBEAM_SERVER_ERROR', kind: 'ServerError', status: 503, method: 'POST', path: MESH_TOKEN })
    assert.equal(await cloud.count(`POST ${served(MESH_TOKEN)}`), 1)
    // The fault is used up: the same call now succeeds.
    const token = await gateway.meshToken(MESH, `${DICOM_URL}/studies`)
    assert.equal(token.expose().split('.').length, 3)
    assert.equal(await cloud.count(`POST ${served(MESH_TOKEN)}`), 2)

    await cloud.resetCounts()
    await cloud.fault({ path: served(UPDATE), method: 'POST', status: 429, retry_after: 1, count: 1 })
    const limited = await rejection(gateway.updateConfig('pipeline', 'name = "p"'))
    assertCloudError(limited, { code: 'RUNBEAM_RATE_LIMITED', kind: 'RateLimited', status: 429, method: 'POST', path: UPDATE })
    assert.equal(limited.retryAfterMs, 1000)
    assert.equal(await cloud.count(`POST ${served(UPDATE)}`), 1)

    await cloud.resetCounts()
    await cloud.fault({ path: served(ACKNOWLEDGE), method: 'POST', drop_connection: true, count: 1 })
    const dropped = await rejection(gateway.acknowledgeChanges([]))
    assertCloudError(dropped, { code: 'RUNBEAM_TRANSPORT', kind: 'Transport', status: null, method: 'POST', path: ACKNOWLEDGE })
    assert.equal(await cloud.count(`POST ${served(ACKNOWLEDGE)}`), 1)
  })

  it('honours Retry-After: waits at least what the server asked, then succeeds', async () => {
    await cloud.fault({ path: served(RESOLVE), status: 429, retry_after: 1, count: 1 })
    const started = performance.now()
    const resolved = await gateway.resolve(DICOMWEB)
    const waited = performance.now() - started
    assert.equal(resolved.resource.name, 'dicomweb')
    assert.equal(await cloud.count(`GET ${served(RESOLVE)}`), 2)
    // Without Retry-After the first backoff is at most 200 ms; honouring it takes ≥ 1 s.
    assert.ok(waited >= 950, `retried after ${waited.toFixed(0)} ms, before the 1 s asked`)
  })

  it('keeps retryAfterMs of a 429: without retries, and when the wait would pass the deadline', async () => {
    await cloud.fault({ path: served(RESOLVE), status: 429, retry_after: 7, count: 5 })
    const once = await rejection(gatewayWith({ maxAttempts: 1 }).resolve(DICOMWEB))
    assertCloudError(once, { code: 'RUNBEAM_RATE_LIMITED', kind: 'RateLimited', status: 429, method: 'GET', path: RESOLVE })
    assert.equal(once.retryAfterMs, 7000)
    assert.equal(await cloud.count(`GET ${served(RESOLVE)}`), 1)

    await cloud.resetCounts()
    // 7 s asked, 2 s of deadline: given up at once instead of waiting past the deadline.
    const hurried = await rejection(gatewayWith({ deadlineMs: 2000 }).resolve(DICOMWEB))
    assertCloudError(hurried, { code: 'RUNBEAM_RATE_LIMITED', kind: 'RateLimited', status: 429, method: 'GET', path: RESOLVE })
    assert.equal(hurried.retryAfterMs, 7000)
    assert.match(hurried.message, /beyond the remaining deadline/)
    assert.equal(await cloud.count(`GET ${served(RESOLVE)}`), 1)
  })

  it('maps a dropped connection to RUNBEAM_TRANSPORT after retrying it, and recovers from one', async () => {
    await cloud.fault({ path: served(RESOLVE), drop_connection: true, count: 10 })
    const err = await rejection(gateway.resolve(DICOMWEB))
    assertCloudError(err, { code: 'RUNBEAM_TRANSPORT', kind: 'Transport', status: null, method: 'GET', path: RESOLVE })
    assert.match(err.message, /after 3 attempts/)
    assert.equal(await cloud.count(`GET ${served(RESOLVE)}`), 3)

    await cloud.clearFaults()
    await cloud.resetCounts()
    await cloud.fault({ path: served(RESOLVE), drop_connection: true, count: 1 })
    assert.equal((await gateway.resolve(DICOMWEB)).resource.name, 'dicomweb')
    assert.equal(await cloud.count(`GET ${served(RESOLVE)}`), 2)
  })

  it('maps a truncated or mismatched 2xx body to RUNBEAM_PROTOCOL, not retried', async () => {
    await cloud.fault({ path: served(RESOLVE), malformed_body: true, count: 5 })
    // runbeam-core does not record the 2xx status of an undecodable answer (null today).
    const protocol = { code: 'RUNBEAM_PROTOCOL', kind: 'Protocol', status: [null, 200] }
    const truncated = await rejection(gateway.resolve(DICOMWEB))
    assertCloudError(truncated, { ...protocol, method: 'GET', path: RESOLVE })
    assert.match(truncated.message, /does not match the Runbeam API/)
    assert.equal(await cloud.count(`GET ${served(RESOLVE)}`), 1)

    // Well-formed JSON of the wrong shape (a 200 with only a message): also Protocol.
    await cloud.clearFaults()
    await cloud.resetCounts()
    await cloud.fault({ path: served(BASE_URL), status: 200, count: 5 })
    const mismatched = await rejection(gateway.baseUrl())
    assertCloudError(mismatched, { ...protocol, method: 'GET', path: BASE_URL })
    assert.equal(await cloud.count(`GET ${served(BASE_URL)}`), 1)

    // And for a POST.
    await cloud.fault({ path: served(UPDATE), method: 'POST', malformed_body: true, count: 1 })
    const post = await rejection(gateway.updateConfig('mesh', 'name = "m"'))
    assertCloudError(post, { ...protocol, method: 'POST', path: UPDATE })
    assert.equal(await cloud.count(`POST ${served(UPDATE)}`), 1)
  })

  it('maps latency past the deadline to RUNBEAM_TIMEOUT without waiting for the server', async () => {
    await cloud.fault({ path: served(RESOLVE), latency_ms: 10_000, count: 5 })
    const started = performance.now()
    const err = await rejection(gatewayWith({ deadlineMs: 500 }).resolve(DICOMWEB))
    const elapsed = performance.now() - started
    assertCloudError(err, { code: 'RUNBEAM_TIMEOUT', kind: 'Timeout', status: null, method: 'GET', path: RESOLVE })
    assert.match(err.message, /deadline/)
    // Generous: the point is that the client did not wait the server's 10 s out.
    assert.ok(elapsed < 8000, `took ${elapsed.toFixed(0)} ms`)
  })

  it('maps latency past the request timeout to RUNBEAM_TIMEOUT, retried like a transport failure', async () => {
    await cloud.fault({ path: served(RESOLVE), latency_ms: 3000, count: 10 })
    const err = await rejection(gatewayWith({ requestTimeoutMs: 300, deadlineMs: 20_000 }).resolve(DICOMWEB))
    assertCloudError(err, { code: 'RUNBEAM_TIMEOUT', kind: 'Timeout', status: null, method: 'GET', path: RESOLVE })
    assert.match(err.message, /request timeout/)
    assert.equal(await cloud.count(`GET ${served(RESOLVE)}`), 3)
  })

  it('maps a refused connection to RUNBEAM_TRANSPORT', async () => {
    // A port nobody listens on: one the OS just handed out and that was closed again.
    const net = require('node:net')
    const port = await new Promise((done) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address()
        s.close(() => done(port))
      })
    })
    const nowhere = new Client(`http://127.0.0.1:${port}`, { token: machineToken, maxAttempts: 1 })
    const err = await rejection(nowhere.baseUrl())
    assertCloudError(err, { code: 'RUNBEAM_TRANSPORT', kind: 'Transport', status: null, method: 'GET', path: BASE_URL })
  })

  it('applies faults to their method and path only', async () => {
    // A POST-only fault on the mesh-token path leaves a GET elsewhere alone.
    await cloud.fault({ path: served(MESH_TOKEN), method: 'POST', status: 500, count: 1 })
    await gateway.baseUrl()
    assert.equal((await cloud.faults()).length, 1, 'the fault is still pending')
    await assert.rejects(gateway.meshToken(MESH, `${DICOM_URL}/studies`), { code: 'RUNBEAM_SERVER_ERROR' })
    assert.equal((await cloud.faults()).length, 0, 'the fault is used up')
  })
})
