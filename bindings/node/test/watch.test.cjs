'use strict'
// Live configuration (`resolver.watch`) against runbeam-devcloud over real HTTP: changes
// published with `POST /_dev/changes` reach a watching resolver, which applies them, marks them
// applied or failed at the Cloud and tells the callback; a poll that fails is reported; `stop()`
// stops; a watcher does not keep the process alive. Mirrors tests/e2e/tests/watch.rs.

const { describe, it, before, after, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const { join } = require('node:path')
const { inspect } = require('node:util')

const { Client, MemoryTokenStore, MeshConfig, Resolver, TokenManager, Watcher } = require('..')
const { startDevcloud, BOB_SANCTUM, ANALYTICS_GW, MESH, DICOM_URL, DICOMWEB } = require('./devcloud.cjs')
const { rejectsCode, throwsCode } = require('./helpers.cjs')

/** ai-analytics' own ingress: resolvable by its gateway, in a mesh no change touches. */
const INFERENCE = 'runbeam.ai-analytics.ingress.name.inference-api'
/** The seeded DICOMweb ingress, by id. */
const DICOMWEB_BY_ID = 'runbeam.id.01JDW14DR9GPQY77ZXYYK596NG'
const CHANGES = 'GET /api/harmony/changes'
const CHANGES_PATH = '/api/harmony/changes'
/** A bound for waits on a loaded machine, never asserted. */
const PATIENCE_MS = 30000

const sleep = (ms) => new Promise((done) => setTimeout(done, ms))

/** The gateway's configuration polling `url` every `pollSecs` seconds. */
function configText(url, pollSecs) {
  return `
[provider.runbeam]
api = "${url}"
poll_interval_secs = ${pollSecs}

[pipelines.research.mesh.egress.imaging-out]
type = "http3"
backend = "dicom-archive"
mode = "mesh"

[mesh.${MESH}]
type = "http3"
provider = "runbeam"
egress = ["imaging-out", "${DICOMWEB}"]

[mesh.own]
type = "http"
provider = "runbeam"
ingress = ["${INFERENCE}"]
`
}

/** Collects a watcher's events; `next(pred)` waits for the first one matching `pred`. */
function events() {
  const seen = []
  const waiting = []
  return {
    seen,
    callback(event) {
      seen.push(event)
      for (const w of waiting.splice(0)) w()
    },
    async next(pred, what) {
      const deadline = Date.now() + PATIENCE_MS
      for (;;) {
        const found = seen.find(pred)
        if (found) return found
        if (Date.now() > deadline) assert.fail(`no event ${what} in ${inspect(seen)}`)
        await new Promise((done) => {
          waiting.push(done)
          setTimeout(done, 200)
        })
      }
    },
  }
}

describe('Resolver.watch against runbeam-devcloud', () => {
  let cloud

  function gateway(pollSecs = 1) {
    const client = new Client(cloud.url)
    const tokenManager = new TokenManager({ instanceId: ANALYTICS_GW, store: new MemoryTokenStore(), client, credential: BOB_SANCTUM })
    const resolver = new Resolver({ config: MeshConfig.fromToml(configText(cloud.url, pollSecs)), client, tokenManager })
    resolver.validateStartup()
    return { resolver, tokenManager }
  }

  /** The change as the devcloud holds it, read with the gateway's machine token. */
  async function stored(tokenManager, id) {
    const token = await tokenManager.ensureToken()
    return new Client(cloud.url, { token: token.expose() }).change(id)
  }

  const publish = (change) => cloud.publishChange({ gateway_code: ANALYTICS_GW, ...change })

  /** Waits until the devcloud has served `n` change-feed polls since the last reset. */
  async function polls(n) {
    const deadline = Date.now() + PATIENCE_MS
    while ((await cloud.count(CHANGES)) < n) {
      if (Date.now() > deadline) assert.fail(`fewer than ${n} polls`)
      await sleep(100)
    }
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

  it('a published mesh change reaches the resolver, is marked applied and reported', async () => {
    const { resolver, tokenManager } = gateway()
    await resolver.resolve(DICOMWEB)
    await resolver.resolve(INFERENCE)
    await resolver.meshToken(MESH, DICOM_URL)
    await rejectsCode(resolver.resolve(DICOMWEB_BY_ID), 'RUNBEAM_NOT_IN_MESH')
    const { callback, next } = events()
    const watcher = resolver.watch(callback)
    try {
      assert.ok(watcher instanceof Watcher)
      assert.deepEqual(watcher.providers, ['runbeam'])
      assert.equal(watcher.isStopped, false)

      // DICOMWEB leaves the mesh, the same ingress by id enters it.
      const id = await publish({
        type: 'mesh',
        action: 'updated',
        config: `[mesh.${MESH}]\ntype = "http3"\nprovider = "runbeam"\negress = ["imaging-out", "${DICOMWEB_BY_ID}"]\n`,
      })
      const event = await next((e) => e.changeId === id, `for ${id}`)
      assert.deepEqual(
        { ...event, message: typeof event.message },
        {
          kind: 'applied',
          provider: 'runbeam',
          changeId: id,
          changeType: 'mesh',
          action: 'updated',
          message: 'string',
          meshes: [MESH],
          referencesDropped: 1,
          meshTokensDropped: 1,
          error: null,
          retryInMs: null,
        },
      )
      // The reference that left is refused, the one that entered resolves, the other mesh's
      // answer is still cached, and the mesh token is gone.
      await rejectsCode(resolver.resolve(DICOMWEB), 'RUNBEAM_NOT_IN_MESH')
      assert.deepEqual((await resolver.resolve(DICOMWEB_BY_ID)).resource.urls, [DICOM_URL])
      assert.notEqual(resolver.resolveCached(INFERENCE), null, 'unaffected entry kept')
      assert.equal(resolver.stats().cachedMeshTokens, 0)
      assert.equal((await stored(tokenManager, id)).status, 'applied')

      // A deletion removes the mesh.
      const deleted = await publish({ type: 'mesh', action: 'deleted', name: MESH })
      assert.equal((await next((e) => e.changeId === deleted, `for ${deleted}`)).kind, 'applied')
      assert.ok(!resolver.config.meshes().some((m) => m.name === MESH))
      await rejectsCode(resolver.resolve(DICOMWEB_BY_ID), 'RUNBEAM_NOT_IN_MESH')
    } finally {
      watcher.stop()
    }
  })

  it('an invalid mesh change fails with every problem, is marked failed, and the old configuration stays', async () => {
    const { resolver, tokenManager } = gateway()
    const before = resolver.config.meshes()
    const { callback, next } = events()
    const watcher = resolver.watch(callback)
    try {
      const id = await publish({
        type: 'mesh',
        action: 'updated',
        config: `[mesh.${MESH}]\ntype = "http3"\nprovider = "runbeam"\negress = ["runbeam.acme.widget.name.x", "partner.team.ingress.name.api"]\n`,
      })
      const event = await next((e) => e.changeId === id, `for ${id}`)
      assert.equal(event.kind, 'failed')
      assert.match(event.message, /mesh\.imaging-integration\.egress\[0\]/)
      assert.match(event.message, /Unknown provider 'partner'/)
      assert.ok(event.error instanceof Error)
      assert.equal(event.error.code, 'RUNBEAM_CONFIG')
      assert.equal(event.error.kind, 'Config')
      assert.deepEqual(
        event.error.problems.map((p) => p.path),
        ['mesh.imaging-integration.egress[0]', 'mesh.imaging-integration.egress[1]'],
      )
      assert.deepEqual(resolver.config.meshes(), before, 'the old configuration stays')
      await resolver.resolve(DICOMWEB)
      const change = await stored(tokenManager, id)
      assert.equal(change.status, 'failed')
      assert.match(change.error, /Unknown provider 'partner'/)
    } finally {
      watcher.stop()
    }
  })

  it('a poll that fails is reported with the wait before the next one', async () => {
    const { resolver } = gateway()
    await cloud.fault({ path: CHANGES_PATH, status: 503, count: 100 }) // beyond the client's retries
    const { callback, next } = events()
    const watcher = resolver.watch(callback)
    try {
      const failed = await next((e) => e.kind === 'poll_failed', 'poll_failed')
      assert.equal(failed.provider, 'runbeam')
      assert.equal(failed.changeId, '')
      assert.equal(failed.error.code, 'RUNBEAM_SERVER_ERROR')
      assert.equal(failed.error.status, 503)
      assert.ok(failed.retryInMs >= 1000, String(failed.retryInMs))
    } finally {
      watcher.stop()
    }
  })

  it('stop() stops polling and calling back; the change stays pending', async () => {
    const { resolver, tokenManager } = gateway()
    const { seen, callback } = events()
    const watcher = resolver.watch(callback)
    await polls(1)
    watcher.stop()
    watcher.stop() // idempotent
    assert.equal(watcher.isStopped, true)
    await cloud.resetCounts()
    const id = await publish({ type: 'mesh', action: 'deleted', name: 'own' })
    await sleep(2500) // more than two poll intervals
    assert.equal(await cloud.count(CHANGES), 0, 'no poll after stop()')
    assert.deepEqual(seen.filter((e) => e.changeId === id), [])
    assert.ok(resolver.config.meshes().some((m) => m.name === 'own'))
    assert.equal((await stored(tokenManager, id)).status, 'pending')
    assert.match(inspect(watcher), /Watcher \{ providers: \[ 'runbeam' \], isStopped: true \}/)
  })

  it('a callback that throws is reported and the watcher goes on', async () => {
    const warnings = []
    const onWarning = (w) => warnings.push(w)
    process.on('warning', onWarning)
    const { resolver } = gateway()
    const { callback, next } = events()
    const watcher = resolver.watch((event) => {
      callback(event)
      throw new Error('callback failure')
    })
    try {
      const first = await publish({ type: 'mesh', action: 'deleted', name: 'own' })
      await next((e) => e.changeId === first, `for ${first}`)
      const second = await publish({ type: 'mesh', action: 'deleted', name: MESH })
      await next((e) => e.changeId === second, `for ${second}`)
      await sleep(10)
      const ours = warnings.filter((w) => w.code === 'RUNBEAM_WATCH_CALLBACK_ERROR')
      assert.ok(ours.length >= 2, inspect(warnings))
      assert.match(ours[0].message, /callback failure/)
    } finally {
      watcher.stop()
      process.off('warning', onWarning)
    }
  })

  it('without a poll interval nothing is polled', async () => {
    const { resolver } = gateway(0)
    const watcher = resolver.watch(() => {})
    assert.deepEqual(watcher.providers, [])
    watcher.stop()
  })

  it('refuses a callback that is not a function', () => {
    const { resolver } = gateway()
    throwsCode(() => resolver.watch(), 'RUNBEAM_INVALID_ARGUMENT')
    throwsCode(() => resolver.watch({ onEvent() {} }), 'RUNBEAM_INVALID_ARGUMENT')
  })

  it('a process whose only work is a watcher exits on its own', async () => {
    const script = `
      const { Client, MemoryTokenStore, MeshConfig, Resolver, TokenManager } = require(${JSON.stringify(join(__dirname, '..'))})
      const client = new Client(${JSON.stringify(cloud.url)})
      const tokenManager = new TokenManager({ instanceId: ${JSON.stringify(ANALYTICS_GW)}, store: new MemoryTokenStore(), client, credential: ${JSON.stringify(BOB_SANCTUM)} })
      const resolver = new Resolver({ config: MeshConfig.fromToml(${JSON.stringify(configText(cloud.url, 1))}), client, tokenManager })
      resolver.watch((event) => console.log(event.kind))
    `
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'inherit', 'inherit'] })
    assert.equal(await new Promise((done) => child.once('exit', done)), 0)
  })
})
