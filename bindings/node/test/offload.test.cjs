'use strict'
// Where a `validate` Promise's signature check runs (src/offload.rs): a call runbeam-core's
// `needs_signature_check` says needs no signature check (a token in the validator's
// verified-token cache, which keeps a token from its second verification on; a token too large;
// a missing or malformed header) is answered on the JavaScript thread (its Promise is already
// settled); any other signature check runs on a worker thread and settles from the event loop.
// Against a runbeam-devcloud subprocess: the answers are the synchronous path's (claims, errors,
// cache), thousands in flight all settle, the event loop runs while they are in flight, abort
// works.
//
// No timing: "off the JavaScript thread" is observed as ordering — an offloaded Promise cannot
// settle before the event loop turns, while an inline answer settles in the microtasks of the
// calling turn. The 'inline' mode (the behaviour before, kept for comparisons) shows that the
// observation tells the two apart.

const { describe, it, before, after, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const { getEventListeners } = require('node:events')
const { inspect } = require('node:util')

const { Validator } = require('..')
const native = require('../native.js')
const { startJwtCloud } = require('./jwt-cloud.cjs')
const { settledWithin } = require('./helpers.cjs')

const IN_FLIGHT = 2000
const sleep = (ms) => new Promise((done) => setTimeout(done, ms))

/** `{value}` or `{error}` of each promise, and how many had settled after the microtasks of this turn. */
async function observe(promises) {
  let settled = 0
  const outcomes = promises.map((p) =>
    p.then(
      (value) => (settled++, { value }),
      (error) => (settled++, { error }),
    ),
  )
  // Drain the microtask queue a few times: inline answers settle here, offloaded ones cannot.
  for (let i = 0; i < 8; i++) await null
  const early = settled
  return { early, outcomes: await Promise.all(outcomes) }
}

/** The claims as plain data: the typed fields and every claim. */
const plain = (claims) => (claims === null ? null : { ...claims, all: claims.all })

/**
 * An outcome (value or error) as comparable data; errors by code, kind, name and message (its
 * numbers masked: an expiry message counts the seconds since `exp`, which may tick between the
 * two calls).
 */
function comparable(outcome) {
  if ('error' in outcome) {
    const { code, kind, name, message } = outcome.error
    return { error: { code, kind, name, message: message.replace(/\d+/g, 'N') } }
  }
  return { value: plain(outcome.value) }
}

/** What `validateCached` answers for `token`, as an outcome. */
function cachedOutcome(validator, token) {
  try {
    return { value: validator.validateCached(token) }
  } catch (error) {
    return { error }
  }
}

describe('validate off the JavaScript thread, against runbeam-devcloud', () => {
  let cloud
  let issuer
  let tokens
  let mint
  let mintMany

  before(async () => {
    ;({ cloud, issuer, mint, mintMany } = await startJwtCloud({ ttl_secs: 3600 }))
    tokens = await mintMany(IN_FLIGHT)
    assert.equal(new Set(tokens).size, IN_FLIGHT)
  })

  after(async () => {
    native._verifyOffload('auto')
    await cloud?.stop()
  })

  afterEach(() => native._verifyOffload('auto'))

  const ready = async (options = {}) => {
    const v = new Validator({ trustedIssuers: [issuer], ...options })
    await v.refreshKeys()
    return v
  }

  it('answers as validateCached does: valid, expired, tampered, garbage, untrusted issuer, wrong audience', async () => {
    const valid = tokens[0]
    const [, payload, signature] = valid.split('.')
    const cases = [
      valid,
      await mint({ ttl_secs: -120 }),
      await mint({ claims: { iss: 'https://evil.example.com/api' } }),
      `${valid.slice(0, -4)}AAAA`,
      `eyJhbGciOiJub25lIn0.${payload}.`,
      'not a token',
      '',
      `a.${payload}.${signature}`,
      await mint({ claims: { aud: 'someone-else' } }),
    ]
    for (const options of [{}, { cacheCapacity: 0 }, { audiences: ['gateway'] }]) {
      const offloaded = await ready(options)
      const inline = await ready(options)
      const { early, outcomes } = await observe(cases.map((t) => offloaded.validate(t)))
      assert.equal(early, 0, 'a signature check settled before the event loop turned')
      for (const [i, token] of cases.entries()) {
        const want = comparable(cachedOutcome(inline, token))
        assert.deepEqual(comparable(outcomes[i]), want, `case ${i} with ${inspect(options)}`)
        if ('error' in outcomes[i]) assert.ok(outcomes[i].error instanceof Error)
      }
      // The same counters as the synchronous path: one signature check per token that got as
      // far, refusals by kind.
      assert.deepEqual(offloaded.stats().failures, inline.stats().failures)
      assert.equal(offloaded.stats().verifications, inline.stats().verifications)
    }
  })

  it(`${IN_FLIGHT} distinct tokens in flight all settle with their own claims, and the event loop runs meanwhile`, async () => {
    const v = await ready()
    const jtis = tokens.map((t) => JSON.parse(Buffer.from(t.split('.')[1], 'base64url')).jti)
    let immediates = 0
    const tick = () => {
      immediates++
    }
    const calls = tokens.map((t) => v.validate(t))
    setImmediate(tick)
    const timer = new Promise((done) => setTimeout(() => done('timer'), 0))
    const { early, outcomes } = await observe(calls)
    assert.equal(early, 0, 'verified on the JavaScript thread')
    assert.equal(immediates, 1, 'the setImmediate scheduled during the batch ran')
    assert.equal(await timer, 'timer')
    for (const [i, outcome] of outcomes.entries()) {
      assert.ok('value' in outcome, inspect(outcome.error))
      assert.equal(outcome.value.jti, jtis[i], 'a Promise settled with another token\'s claims')
    }
    assert.equal(v.stats().verifications, IN_FLIGHT)
    // As inline: the core keeps a token's claims from its second verification on.
    assert.equal(v.cachedTokens, 0)
    const second = await observe(tokens.map((t) => v.validate(t)))
    assert.equal(second.early, 0)
    assert.ok(second.outcomes.every((o, i) => o.value.jti === jtis[i]))
    assert.equal(v.stats().verifications, 2 * IN_FLIGHT)
    assert.equal(v.cachedTokens, IN_FLIGHT, 'a token verified on a worker is cached')

    // Now each is a cache hit, answered on this thread.
    const again = await observe(tokens.map((t) => v.validate(t)))
    assert.equal(again.early, IN_FLIGHT, 'a cached token was not answered inline')
    assert.equal(v.stats().verifications, 2 * IN_FLIGHT, 'no signature checked again')
    assert.equal(v.stats().cacheHits, IN_FLIGHT)
    assert.ok(again.outcomes.every((o, i) => o.value.jti === jtis[i]))
    // A repeated token gets the same object from its second cached sighting on, as inline.
    const third = await v.validate(tokens[0])
    assert.equal(third, again.outcomes[0].value)
    assert.equal(v.validateCached(tokens[0]), third)
  })

  it('a token refused for its size is refused in the calling turn, with the same error', async () => {
    const v = await ready()
    const huge = `${tokens[0]}.${'A'.repeat(64 * 1024)}`
    const { early, outcomes } = await observe([v.validate(huge)])
    assert.equal(early, 1)
    assert.deepEqual(comparable(outcomes[0]), comparable(cachedOutcome(v, huge)))
    assert.equal(outcomes[0].error.code, 'RUNBEAM_JWT_INVALID')
    assert.equal(v.stats().verifications, 0)
  })

  it("the 'inline' mode answers in the calling turn (the observation tells the two apart)", async () => {
    native._verifyOffload('inline')
    const v = await ready()
    const { early, outcomes } = await observe(tokens.slice(0, 50).map((t) => v.validate(t)))
    assert.equal(early, 50)
    assert.ok(outcomes.every((o) => 'value' in o))
    assert.throws(() => native._verifyOffload('sometimes'), { code: 'RUNBEAM_INVALID_ARGUMENT' })
  })

  it('lone calls, bursts across turns and a trickle all settle (answers are batched, never held back)', async () => {
    // The removed comparison modes are refused.
    for (const mode of ['uv', 'tokio']) assert.throws(() => native._verifyOffload(mode), { code: 'RUNBEAM_INVALID_ARGUMENT' })
    const v = await ready({ cacheCapacity: 0 })
    const sub = v.validateCached(tokens[0]).sub
    // One at a time: each answer wakes the event loop by itself.
    for (const t of tokens.slice(0, 50)) assert.equal((await v.validate(t)).sub, sub)
    // Bursts made in successive turns while earlier ones are still in flight, and a trickle.
    const pending = []
    for (let turn = 0; turn < 20; turn++) {
      for (const t of tokens.slice(turn * 37, turn * 37 + 37)) pending.push(v.validate(t))
      pending.push(native._offloadNoop())
      await new Promise((done) => setImmediate(done))
    }
    for (let i = 0; i < 30; i++) {
      pending.push(v.validate(tokens[1000 + i]))
      await new Promise((done) => setTimeout(done, 1))
    }
    const outcomes = await Promise.all(pending)
    assert.equal(outcomes.length, 20 * 38 + 30)
    for (const o of outcomes) assert.ok(o === 0 || o.sub === sub, inspect(o))
    assert.equal(v.stats().verifications, 1 + 50 + 20 * 37 + 30)
  })

  it('flushTokenCache and a validator without a cache send every signature check to a worker again', async () => {
    const v = await ready()
    await v.validate(tokens[1])
    await v.validate(tokens[1])
    assert.equal((await observe([v.validate(tokens[1])])).early, 1)
    v.flushTokenCache()
    const flushed = await observe([v.validate(tokens[1])])
    assert.equal(flushed.early, 0)
    assert.equal(flushed.outcomes[0].value.sub, v.validateCached(tokens[1]).sub)
    assert.equal(v.stats().verifications, 4)

    const uncached = await ready({ cacheCapacity: 0 })
    for (let i = 0; i < 3; i++) {
      const { early, outcomes } = await observe([uncached.validate(tokens[2])])
      assert.equal(early, 0)
      assert.ok('value' in outcomes[0])
    }
    assert.equal(uncached.cachedTokens, 0)
    assert.equal(uncached.stats().verifications, 3)
  })

  it('authenticate and verifyMeshToken take the same path, with the same answers as their cached forms', async () => {
    const v = await ready()
    const inline = await ready()
    const headers = [`Bearer ${tokens[3]}`, `bearer ${tokens[4]}`, 'Basic abc', `Bearer ${tokens[5]} x`, undefined, null]
    const auth = await observe(headers.map((h) => v.authenticate(h)))
    for (const [i, header] of headers.entries()) {
      let want
      try {
        want = { value: inline.authenticateCached(header) }
      } catch (error) {
        want = { error }
      }
      assert.deepEqual(comparable(auth.outcomes[i]), comparable(want), `header ${i}`)
    }
    // A header without a token, or not `Bearer <token>`, is refused at once (no signature to
    // check: the core's authorization_needs_signature_check answers false).
    assert.equal(auth.early, 4)
    assert.deepEqual(auth.outcomes.slice(0, 2).map((o) => 'value' in o), [true, true])
    await v.authenticate(`Bearer ${tokens[3]}`)
    assert.equal((await observe([v.authenticate(`Bearer ${tokens[3]}`)])).early, 1, 'the cached header')

    const meshId = 'imaging-integration'
    // A token of its own per call: the core remembers a token from its second verification
    // on, and a worker may finish one before the next call is made, so a token repeated in the
    // batch could be answered from the cache by the time a later call asks.
    const meshTokens = await mintMany(3, {
      claims: { aud: `mesh:${meshId}`, mesh_id: meshId, dest_url: 'https://pacs.example.com/dicom' },
    })
    const args = [
      [meshTokens[0], meshId, 'https://pacs.example.com/dicom/studies'],
      [meshTokens[1], 'other-mesh', undefined],
      [meshTokens[2], meshId, 'https://elsewhere.example.com/'],
      [tokens[6], meshId, undefined],
    ]
    const fresh = await ready()
    const mesh = await observe(args.map((a) => fresh.verifyMeshToken(...a)))
    assert.equal(mesh.early, 0)
    for (const [i, a] of args.entries()) {
      let want
      try {
        want = { value: inline.verifyMeshTokenCached(...a) }
      } catch (error) {
        want = { error }
      }
      assert.deepEqual(comparable(mesh.outcomes[i]), comparable(want), `mesh case ${i}`)
    }
  })

  it('keys not cached yet: the worker fetches them, once for the whole batch', async () => {
    const v = new Validator({ trustedIssuers: [issuer] })
    await cloud.resetCounts()
    const { outcomes } = await observe(tokens.slice(0, 200).map((t) => v.validate(t)))
    assert.ok(outcomes.every((o) => 'value' in o))
    assert.equal(await cloud.count('GET /api/.well-known/jwks.json'), 1)
  })

  it('an AbortSignal still cancels: already aborted, during the key fetch, and mid-batch', async () => {
    const reason = new Error('shutting down')
    const v = await ready()
    const at = await observe([v.validate(tokens[7], { signal: AbortSignal.abort(reason) })])
    assert.equal(at.outcomes[0].error.code, 'RUNBEAM_CANCELLED')
    assert.equal(at.outcomes[0].error.name, 'AbortError')
    assert.equal(at.outcomes[0].error.cause, reason)
    assert.equal(v.stats().verifications, 0, 'nothing started')

    // An offloaded check that must first fetch keys (held by the server): aborted while it waits.
    const cold = new Validator({ trustedIssuers: [issuer] })
    await cloud.resetCounts()
    await cloud.fault({ path: '/api/.well-known/jwks.json', latency_ms: 2000, count: 1 })
    const controller = new AbortController()
    const waiting = cold.validate(tokens[8], { signal: controller.signal })
    while ((await cloud.count('GET /api/.well-known/jwks.json')) < 1) await sleep(10)
    controller.abort(reason)
    const outcome = await waiting.then(
      (value) => ({ value }),
      (error) => ({ error }),
    )
    assert.equal(outcome.error?.code, 'RUNBEAM_CANCELLED', inspect(outcome))
    assert.equal(outcome.error.cause, reason)
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0)
    await cloud.clearFaults()

    // Mid-batch: each Promise settles, with its claims or the cancellation, and no listener stays.
    const batch = new AbortController()
    const calls = tokens.slice(0, 500).map((t) => v.validate(t, { signal: batch.signal }))
    batch.abort(reason)
    const { outcomes } = await observe(calls)
    for (const o of outcomes) {
      if ('error' in o) {
        assert.equal(o.error.code, 'RUNBEAM_CANCELLED', inspect(o.error))
        assert.equal(o.error.name, 'AbortError')
        assert.equal(o.error.cause, reason)
      }
      else assert.equal(typeof o.value.sub, 'string')
    }
    assert.equal(getEventListeners(batch.signal, 'abort').length, 0)
    // A cancelled check may have finished on its worker: either way the next answer is right.
    const after = await observe(tokens.slice(0, 500).map((t) => v.validate(t)))
    assert.ok(after.outcomes.every((o) => 'value' in o))
  })

  it('a signal shared by many calls in flight holds one listener, none once they settle, and no warning', async () => {
    const v = await ready({ cacheCapacity: 0 })
    const warnings = []
    const onWarning = (warning) => warnings.push(warning)
    process.on('warning', onWarning)
    try {
      const shared = new AbortController()
      let own = 0
      shared.signal.addEventListener('abort', () => own++)
      for (let round = 0; round < 3; round++) {
        const calls = tokens.slice(0, 300).map((t) => v.validate(t, { signal: shared.signal }))
        // The user's own listener and one for all the calls in flight.
        assert.equal(getEventListeners(shared.signal, 'abort').length, 2)
        const { outcomes } = await observe(calls)
        assert.ok(outcomes.every((o) => typeof o.value?.sub === 'string'))
        assert.equal(getEventListeners(shared.signal, 'abort').length, 1, 'a settled call left its listener')
      }
      // Two signals at once: each has its own listener, removed with its last call.
      const other = new AbortController()
      const mixed = tokens.slice(0, 40).map((t, i) => v.validate(t, { signal: i % 2 ? other.signal : shared.signal }))
      assert.equal(getEventListeners(other.signal, 'abort').length, 1)
      other.abort(new Error('other'))
      const { outcomes } = await observe(mixed)
      for (const [i, o] of outcomes.entries()) {
        if (i % 2 === 0) assert.equal(typeof o.value?.sub, 'string', inspect(o))
        else if ('error' in o) assert.equal(o.error.code, 'RUNBEAM_CANCELLED')
      }
      assert.equal(getEventListeners(shared.signal, 'abort').length, 1)
      assert.equal(getEventListeners(other.signal, 'abort').length, 0)
      // The shared signal still aborts later calls, and the user's listener ran once.
      const late = v.validate(tokens[3], { signal: shared.signal })
      shared.abort(new Error('late'))
      const outcome = await late.then(
        (value) => ({ value }),
        (error) => ({ error }),
      )
      assert.ok('value' in outcome || outcome.error.code === 'RUNBEAM_CANCELLED', inspect(outcome))
      assert.equal(own, 1)
      await sleep(10) // a warning is emitted on the next tick
      assert.deepEqual(
        warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map(String),
        [],
      )
    } finally {
      process.off('warning', onWarning)
    }
  })

  it("another thread's checks waiting in the queue never hold back this thread's answers", async () => {
    // The verify threads are shared by every JavaScript thread. A worker keeps thousands of
    // checks queued while this thread asks for a few: each of these answers arrives while the
    // queue is not empty, and must still wake this thread's event loop (the worker's checks
    // wake only the worker's). The worker ends before its checks do; no await below may hang.
    const { Worker } = require('node:worker_threads')
    const code = `
      const { parentPort, workerData } = require('node:worker_threads')
      const { Validator } = require(workerData.sdk)
      const v = new Validator({ trustedIssuers: [workerData.issuer], cacheCapacity: 0 })
      v.refreshKeys().then(() => {
        const flood = () => { for (const t of workerData.tokens) v.validate(t).catch(() => {}) }
        flood()
        parentPort.postMessage('flooding')
        parentPort.on('message', flood)
      })
    `
    const v = await ready({ cacheCapacity: 0 })
    const worker = new Worker(code, { eval: true, workerData: { sdk: require.resolve('..'), issuer, tokens: tokens.slice(0, IN_FLIGHT) } })
    const exited = new Promise((done) => worker.once('exit', done))
    try {
      await new Promise((done) => worker.once('message', done))
      for (let round = 0; round < 20; round++) {
        worker.postMessage('more')
        const few = tokens.slice(round * 3, round * 3 + 3)
        const outcome = await settledWithin(Promise.all(few.map((t) => v.validate(t))), 30_000)
        assert.notEqual(outcome, 'pending', `round ${round}: answers held back while another thread's checks were queued`)
        assert.ok(outcome.value?.every((c) => typeof c.sub === 'string'), inspect(outcome))
      }
    } finally {
      await worker.terminate()
      await exited
    }
  })

  it('a worker_threads worker ending with checks in flight leaves the process and other threads working', async () => {
    const { Worker } = require('node:worker_threads')
    const code = `
      const { parentPort, workerData } = require('node:worker_threads')
      const { Validator } = require(workerData.sdk)
      const v = new Validator({ trustedIssuers: [workerData.issuer], cacheCapacity: 0 })
      v.refreshKeys().then(async () => {
        // A first batch settles here, then checks are left in flight as the worker ends.
        const claims = await Promise.all(workerData.tokens.slice(0, 50).map((t) => v.validate(t)))
        parentPort.postMessage(claims.length)
        for (const t of workerData.tokens) v.validate(t)
        if (workerData.exit) process.exit(0)
        parentPort.postMessage('in flight')
      })
    `
    const v = await ready({ cacheCapacity: 0 })
    for (const exit of [true, false]) {
      for (let round = 0; round < 3; round++) {
        const worker = new Worker(code, { eval: true, workerData: { sdk: require.resolve('..'), issuer, tokens: tokens.slice(0, 1000), exit } })
        // Listened for now: on a slow machine the worker can end before this thread's checks do.
        const exited = new Promise((done) => worker.once('exit', done))
        const messages = []
        worker.on('message', (m) => {
          messages.push(m)
          if (m === 'in flight') worker.terminate()
        })
        // Meanwhile this thread's checks go on through the same verify threads.
        const mine = await Promise.all(tokens.slice(1000, 1100).map((t) => v.validate(t)))
        assert.equal(mine.length, 100)
        await exited
        assert.equal(messages[0], 50)
      }
    }
    // And after the workers ended, with the verify threads still answering for them or not.
    const after = await Promise.all(tokens.slice(1100, 1300).map((t) => v.validate(t)))
    assert.ok(after.every((c) => typeof c.sub === 'string'))
  })
})
