'use strict'
// Operating the SDK against runbeam-devcloud over real HTTP: the log records a host receives
// through `setLogger` (backend selection, a stale answer, a failed renewal, a failed JWKS
// refresh, a record logged on the JavaScript thread), that none carries a token, that
// `setLogger(null)` stops them and that a logger never keeps the process alive; the stats of
// resolvers, validators and token managers, and their Prometheus text. Mirrors
// tests/e2e/tests/operations.rs. The logger is process-wide: the tests run one at a time.

const { describe, it, before, after, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const { mkdtempSync, rmSync } = require('node:fs')
const { tmpdir } = require('node:os')
const { join } = require('node:path')
const { setImmediate: tick } = require('node:timers/promises')

const {
  Client,
  MemoryTokenStore,
  PROMETHEUS_CONTENT_TYPE,
  Resolver,
  TokenManager,
  Validator,
  logLevel,
  openTokenStore,
  prometheusText,
  setLogLevel,
  setLogger,
} = require('..')
const {
  startDevcloud,
  analyticsConfig,
  ALICE_EMAIL,
  ALICE_SANCTUM,
  BOB_SANCTUM,
  RADIOLOGY_GW,
  ANALYTICS_GW,
  MESH,
  DICOM_URL,
  DICOMWEB,
} = require('./devcloud.cjs')
const { rejectsCode, throwsCode } = require('./helpers.cjs')

const RESOLVE_PATH = '/api/harmony/resources/resolve'
const AUTHORIZE_PATH = '/api/harmony/authorize'
const JWKS_PATH = '/api/.well-known/jwks.json'
const LEVELS = ['error', 'warn', 'info', 'debug', 'trace']

const sleep = (ms) => new Promise((done) => setTimeout(done, ms))

/** Records delivered to a logger installed at `level`. */
function capture(level) {
  const records = []
  setLogger((record) => records.push(record), level)
  return {
    records,
    /** The first record at `level` whose message contains `part` (waits for delivery). */
    async find(level, part) {
      for (let turn = 0; turn < 100; turn++) {
        const found = records.find((r) => r.level === level && r.message.includes(part))
        if (found) return found
        await sleep(10)
      }
      assert.fail(`no ${level} record with '${part}' in ${JSON.stringify(records, null, 1)}`)
    },
  }
}

/** Asserts the shape every record has. */
function assertRecord(record) {
  assert.deepEqual(Object.keys(record), ['level', 'target', 'message', 'fields', 'time'])
  assert.ok(LEVELS.includes(record.level), record.level)
  assert.ok(record.target.startsWith('runbeam'), record.target)
  assert.equal(typeof record.message, 'string')
  assert.equal(Object.getPrototypeOf(record.fields), Object.prototype)
  for (const value of Object.values(record.fields)) assert.equal(typeof value, 'string')
  assert.ok(record.time instanceof Date && !Number.isNaN(record.time.getTime()))
}

/** A token with its signature's first character changed. */
function tampered(jwt) {
  const dot = jwt.lastIndexOf('.')
  return `${jwt.slice(0, dot + 1)}${jwt[dot + 1] === 'A' ? 'B' : 'A'}${jwt.slice(dot + 2)}`
}

describe('operations against runbeam-devcloud', () => {
  let cloud
  let home

  /** A resolver for team ai-analytics (Bob's gateway) with a cache TTL of `ttlSecs`. */
  function analytics(ttlSecs, options = {}) {
    const client = new Client(cloud.url)
    const tokenManager = new TokenManager({ instanceId: ANALYTICS_GW, store: new MemoryTokenStore(), client, credential: BOB_SANCTUM })
    return new Resolver({ config: analyticsConfig(cloud.url, ttlSecs), client, tokenManager, ...options })
  }

  const users = () => new Validator({ trustedIssuers: [`${cloud.url}/api`] })

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'runbeam-node-ops-'))
    process.env.RUNBEAM_HOME = home
    cloud = await startDevcloud()
  })

  after(async () => {
    setLogger(null)
    await cloud?.stop()
    rmSync(home, { recursive: true, force: true })
  })

  afterEach(async () => {
    setLogger(null)
    await cloud.clearFaults()
    await cloud.resetCounts()
  })

  describe('logging', () => {
    it('is off by default; the level is librunbeam’s and setLogLevel changes it', async () => {
      assert.equal(logLevel(), null)
      const { records, find } = capture('warn')
      assert.equal(logLevel(), 'warn')
      await openTokenStore({ choice: 'file' })
      await tick()
      assert.deepEqual(records.filter((r) => r.level === 'info'), [], 'below the level: not even formatted')
      setLogLevel('info')
      assert.equal(logLevel(), 'info')
      await openTokenStore({ choice: 'file' })
      const selected = await find('info', 'token store selected')
      assertRecord(selected)
      assert.equal(selected.target, 'runbeam_core::storage')
      assert.deepEqual(selected.fields, { backend: 'file' })
      setLogger(null)
      assert.equal(logLevel(), null)
      setLogLevel('debug')
      assert.equal(logLevel(), null, 'without a logger the level stays off')
    })

    it('delivers the records a host relies on, none of them carrying a token', async () => {
      const { records, find } = capture('trace')

      // Backend selection, logged on the runtime's blocking pool.
      await openTokenStore({ choice: 'file' })
      const selected = await find('info', 'token store selected')
      assert.equal(selected.fields.backend, 'file')

      // A whole flow: authorize, resolve, a mesh token, a user JWT validated.
      const client = new Client(cloud.url)
      const bob = new TokenManager({ instanceId: ANALYTICS_GW, store: new MemoryTokenStore(), client, credential: BOB_SANCTUM })
      const resolver = new Resolver({ config: analyticsConfig(cloud.url, 1), client, tokenManager: bob, maxStaleMs: 600000 })
      await resolver.resolve(DICOMWEB)
      const machine = await bob.current()
      const meshToken = await resolver.meshToken(MESH, DICOM_URL)
      const userJwt = await cloud.userJwt(ALICE_EMAIL)
      await users().validate(userJwt)

      // A stale answer: the provider fails after the TTL.
      await cloud.fault({ path: RESOLVE_PATH, status: 503, count: 10 })
      await sleep(1100)
      assert.equal((await resolver.resolve(DICOMWEB)).isStale, true)
      const stale = await find('warn', 'stale')
      assertRecord(stale)
      assert.equal(stale.fields.reference, 'dicomweb')
      assert.match(stale.fields.error, /503/)
      await cloud.clearFaults()

      // A renewal that fails while the current token stays valid.
      await cloud.machineTokenLifetime(30)
      const alice = new TokenManager({
        instanceId: RADIOLOGY_GW,
        store: new MemoryTokenStore(),
        apiUrl: cloud.url,
        credential: ALICE_SANCTUM,
        renewalWindowMs: 3600000,
      })
      const aliceToken = await alice.ensureToken()
      await cloud.fault({ path: AUTHORIZE_PATH, status: 503, count: 5 })
      assert.equal((await alice.ensureToken()).expose(), aliceToken.expose(), 'the current token stays in use')
      const renewal = await find('warn', 'renewal failed')
      assertRecord(renewal)
      assert.equal(renewal.fields.instance, RADIOLOGY_GW)
      assert.ok(renewal.fields.error, JSON.stringify(renewal))
      await cloud.clearFaults()
      await cloud.machineTokenLifetime(86400 * 30)

      // A JWKS refresh that fails: a validator without keys yet.
      await cloud.fault({ path: JWKS_PATH, status: 503, count: 10 })
      await rejectsCode(users().validate(userJwt), 'RUNBEAM_SERVER_ERROR')
      const jwks = await find('warn', 'jwks refresh failed')
      assertRecord(jwks)
      assert.ok(jwks.fields.url.endsWith('/.well-known/jwks.json'), jwks.fields.url)
      assert.match(jwks.fields.error, /503/)
      await cloud.clearFaults()

      // No record carries a secret.
      await tick()
      const secrets = [machine.expose(), aliceToken.expose(), meshToken.token, userJwt, ALICE_SANCTUM, BOB_SANCTUM]
      assert.ok(records.length >= 5, JSON.stringify(records))
      for (const record of records) {
        assertRecord(record)
        const text = JSON.stringify(record)
        for (const secret of secrets) assert.ok(!text.includes(secret), `a record carries a token: ${text}`)
      }
    })

    it('delivers a record logged on the JavaScript thread on a later turn, never inside the call', async () => {
      const { records, find } = capture('info')
      const resolver = analytics(300)
      resolver.reload(analyticsConfig(cloud.url, 60))
      assert.deepEqual(records, [], 'not delivered inside reload()')
      const reloaded = await find('info', 'configuration reloaded')
      assertRecord(reloaded)
    })

    it('setLogger(null) stops the records, queued ones too', async () => {
      const { records } = capture('info')
      const resolver = analytics(300)
      resolver.reload(analyticsConfig(cloud.url, 60)) // queued on the JavaScript thread
      setLogger(null)
      await openTokenStore({ choice: 'file' })
      await sleep(50)
      assert.deepEqual(records, [])
      // A replaced logger does not receive what was queued for it either.
      const first = capture('info')
      resolver.reload(analyticsConfig(cloud.url, 30))
      const second = capture('info')
      await openTokenStore({ choice: 'file' })
      await second.find('info', 'token store selected')
      assert.deepEqual(first.records, [])
    })

    it('a logger that throws loses that record only and is reported once', async () => {
      const warnings = []
      const onWarning = (w) => warnings.push(w)
      process.on('warning', onWarning)
      try {
        const delivered = []
        setLogger((record) => {
          delivered.push(record)
          throw new Error('logger failure')
        }, 'info')
        await openTokenStore({ choice: 'file' })
        await openTokenStore({ choice: 'file' })
        for (let turn = 0; delivered.length < 2 && turn < 100; turn++) await sleep(10)
        assert.equal(delivered.length, 2, 'later records are still delivered')
        await tick()
        const ours = warnings.filter((w) => w.code === 'RUNBEAM_LOGGER_ERROR')
        assert.equal(ours.length, 1, 'reported once')
        assert.equal(ours[0].name, 'RunbeamWarning')
        assert.match(ours[0].message, /logger failure/)
      } finally {
        process.off('warning', onWarning)
      }
    })

    it('refuses a callback that is not a function and an unknown level', () => {
      throwsCode(() => setLogger(42), 'RUNBEAM_INVALID_ARGUMENT')
      throwsCode(() => setLogger('console'), 'RUNBEAM_INVALID_ARGUMENT')
      throwsCode(() => setLogger(() => {}, 'loud'), 'RUNBEAM_INVALID_ARGUMENT')
      throwsCode(() => setLogger(() => {}, 3), 'RUNBEAM_INVALID_ARGUMENT')
      throwsCode(() => setLogLevel('verbose'), 'RUNBEAM_INVALID_ARGUMENT')
      assert.equal(logLevel(), null, 'nothing installed by a refused call')
      setLogger(() => {}, 'WARNING')
      assert.equal(logLevel(), 'warn', "librunbeam's spellings")
    })

    it('a process with a logger set exits on its own', async () => {
      // The child logs from the blocking pool and the JavaScript thread, and has nothing else
      // to do: it must exit with its work done, not wait for the logger.
      const script = `
        const { setLogger, openTokenStore, MeshConfig } = require(${JSON.stringify(join(__dirname, '..'))})
        const seen = []
        setLogger((r) => seen.push(r.message), 'trace')
        openTokenStore({ choice: 'file' }).then(() => setTimeout(() => console.log(JSON.stringify(seen)), 20))
      `
      const child = spawn(process.execPath, ['-e', script], {
        env: { ...process.env, RUNBEAM_HOME: home },
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      let out = ''
      child.stdout.on('data', (chunk) => (out += chunk))
      const code = await new Promise((done) => child.once('exit', done))
      assert.equal(code, 0)
      assert.ok(JSON.parse(out).some((m) => m.includes('token store selected')), out)
    })
  })

  describe('stats', () => {
    it('a resolver counts hits, misses, refusals by kind, cached entries and its mesh validation', async () => {
      const resolver = analytics(300)
      await resolver.resolve(DICOMWEB)
      await resolver.resolve(DICOMWEB)
      await rejectsCode(resolver.resolve('runbeam.someone-else.ingress.name.x'), 'RUNBEAM_NOT_IN_MESH')
      const issued = await resolver.meshToken(MESH, DICOM_URL)
      const stats = resolver.stats()
      assert.deepEqual(
        [stats.hits, stats.misses, stats.upstreamRequests, stats.staleServed, stats.local, stats.meshTokenRequests],
        [1, 1, 1, 0, 0, 1],
      )
      assert.deepEqual(stats.errors, { NotInMesh: 1 })
      assert.equal(stats.cachedReferences, 1)
      assert.equal(stats.cachedMeshTokens, 1)
      // The issued mesh token was verified by the resolver's mesh validator, keys fetched once.
      assert.equal(stats.meshValidation.verifications, 1)
      assert.equal(stats.meshValidation.jwksFetches, 1)
      assert.equal(stats.meshValidation.jwksFetchFailures, 0)
      // Verifying it on the receiving side is counted there too.
      await resolver.verifyMeshToken(issued.token, MESH, `${DICOM_URL}/studies`)
      await rejectsCode(resolver.verifyMeshToken(tampered(issued.token), MESH), 'RUNBEAM_JWT_INVALID')
      const after = resolver.stats().meshValidation
      assert.equal(after.failures.JwtInvalid, 1)
      assert.equal(after.jwksFetches, 1)
    })

    it('a validator counts cache hits, signatures, JWKS fetches and each kind of refusal', async () => {
      const validator = users()
      const fresh = validator.stats()
      assert.deepEqual(fresh, { cacheHits: 0, verifications: 0, jwksFetches: 0, jwksFetchFailures: 0, failures: {}, cachedTokens: 0 })

      const userJwt = await cloud.userJwt(ALICE_EMAIL)
      await validator.validate(userJwt)
      await validator.validate(userJwt)
      await validator.validate(userJwt)
      let s = validator.stats()
      assert.equal(s.jwksFetches, 1, 'keys fetched once')
      // The verified-token cache remembers a token from its second verification on.
      assert.deepEqual([s.verifications, s.cacheHits, s.cachedTokens], [2, 1, 1])
      assert.equal(validator.validateCached(userJwt).sub, validator.validateCached(userJwt).sub)
      assert.equal(validator.stats().cacheHits, 3)

      const expired = await cloud.userJwt(ALICE_EMAIL, { ttl_secs: -3600 })
      await rejectsCode(validator.validate(expired), 'RUNBEAM_JWT_EXPIRED')
      await rejectsCode(validator.validate(tampered(userJwt)), 'RUNBEAM_JWT_INVALID')
      throwsCode(() => validator.validateCached('not.a.token'), 'RUNBEAM_JWT_INVALID')
      const foreign = await cloud.userJwt(ALICE_EMAIL, { claims: { iss: 'https://elsewhere.example/api' } })
      await rejectsCode(validator.validate(foreign), 'RUNBEAM_UNTRUSTED_ISSUER')
      s = validator.stats()
      assert.deepEqual(s.failures, { JwtInvalid: 2, JwtExpired: 1, UntrustedIssuer: 1 })

      // A failed JWKS fetch: a validator without keys while the endpoint fails.
      const other = users()
      await cloud.fault({ path: JWKS_PATH, status: 503, count: 10 })
      await rejectsCode(other.validate(userJwt), 'RUNBEAM_SERVER_ERROR')
      const o = other.stats()
      assert.equal(o.jwksFetchFailures, 1)
      assert.ok(o.jwksFetches >= 1)
      assert.equal(o.failures.ServerError, 1)
    })

    it('a token manager counts renewals and failed renewals', async () => {
      await cloud.machineTokenLifetime(30)
      try {
        const manager = new TokenManager({
          instanceId: RADIOLOGY_GW,
          store: new MemoryTokenStore(),
          apiUrl: cloud.url,
          credential: ALICE_SANCTUM,
          renewalWindowMs: 3600000,
        })
        assert.deepEqual(manager.stats(), { renewals: 0, renewalFailures: 0 })
        await manager.ensureToken()
        assert.deepEqual(manager.stats(), { renewals: 1, renewalFailures: 0 })
        await cloud.fault({ path: AUTHORIZE_PATH, status: 503, count: 5 })
        await manager.ensureToken() // inside the renewal window: renewal fails, the token stays
        assert.deepEqual(manager.stats(), { renewals: 1, renewalFailures: 1 })
      } finally {
        await cloud.machineTokenLifetime(86400 * 30)
      }
    })

    it('prometheusText renders every source with the core’s exposition, lines that parse', async () => {
      const resolver = analytics(300)
      await resolver.resolve(DICOMWEB)
      await resolver.resolve(DICOMWEB)
      await rejectsCode(resolver.resolve('runbeam.someone-else.ingress.name.x'), 'RUNBEAM_NOT_IN_MESH')
      await resolver.meshToken(MESH, DICOM_URL)
      const validator = users()
      const userJwt = await cloud.userJwt(ALICE_EMAIL)
      await validator.validate(userJwt)
      await rejectsCode(validator.validate(tampered(userJwt)), 'RUNBEAM_JWT_INVALID')
      const manager = new TokenManager({ instanceId: RADIOLOGY_GW, store: new MemoryTokenStore(), apiUrl: cloud.url, credential: ALICE_SANCTUM })
      await manager.ensureToken()

      assert.equal(PROMETHEUS_CONTENT_TYPE, 'text/plain; version=0.0.4; charset=utf-8')
      const text = prometheusText({ analytics: resolver, users: validator, 'radio"logy': manager })
      for (const expected of [
        'runbeam_resolver_hits_total{name="analytics"} 1\n',
        'runbeam_resolver_errors_total{name="analytics",kind="NotInMesh"} 1\n',
        'runbeam_resolver_cached_mesh_tokens{name="analytics"} 1\n',
        'runbeam_validator_verifications_total{name="analytics:mesh"} 1\n',
        'runbeam_validator_failures_total{name="users",kind="JwtInvalid"} 1\n',
        'runbeam_validator_jwks_fetches_total{name="users"} 1\n',
        'runbeam_token_manager_renewals_total{name="radio\\"logy"} 1\n',
        '# TYPE runbeam_resolver_cached_references gauge\n',
        '# TYPE runbeam_validator_cache_hits_total counter\n',
      ]) {
        assert.ok(text.includes(expected), `missing ${JSON.stringify(expected)} in\n${text}`)
      }
      // Every line parses: `# HELP name text`, `# TYPE name counter|gauge`, or
      // `name{labels} integer`, each family's samples after its one TYPE line.
      const typed = new Set()
      const label = String.raw`[a-z_]+="(?:[^"\\]|\\.)*"`
      const sample = new RegExp(String.raw`^(runbeam_[a-z_]+)\{${label}(?:,${label})*\} (\d+)$`)
      assert.ok(text.endsWith('\n'))
      for (const line of text.slice(0, -1).split('\n')) {
        let m
        if ((m = /^# HELP (runbeam_[a-z_]+) \S.*$/.exec(line))) continue
        if ((m = /^# TYPE (runbeam_[a-z_]+) (counter|gauge)$/.exec(line))) {
          assert.ok(!typed.has(m[1]), `two TYPE lines for ${m[1]}`)
          typed.add(m[1])
          continue
        }
        m = sample.exec(line)
        assert.ok(m, `not a sample line: ${line}`)
        assert.ok(typed.has(m[1]), `sample before its TYPE line: ${line}`)
        assert.ok(Number.isSafeInteger(Number(m[2])))
      }
      assert.equal(prometheusText({}), '')
    })

    it('prometheusText refuses what is not {name: Resolver | Validator | TokenManager}', () => {
      const validator = new Validator({ trustedIssuers: ['https://api.runbeam.io/api'] })
      const e = throwsCode(() => prometheusText([validator]), 'RUNBEAM_INVALID_ARGUMENT')
      assert.match(e.message, /not an array/)
      const f = throwsCode(() => prometheusText({ users: validator, other: {} }), 'RUNBEAM_INVALID_ARGUMENT')
      assert.match(f.message, /sources\.other must be a Resolver, a Validator or a TokenManager/)
      throwsCode(() => prometheusText(), 'RUNBEAM_INVALID_ARGUMENT')
      throwsCode(() => prometheusText('users'), 'RUNBEAM_INVALID_ARGUMENT')
    })
  })
})
