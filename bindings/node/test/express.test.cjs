'use strict'
// @runbeam/sdk/express with the real Express (a devDependency), listening on 127.0.0.1 port 0,
// against runbeam-devcloud: the behaviour of test/edge-suite.cjs, plus what is Express's own
// (mounting, the types of the subpath).

const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')

const express = require('express')
const { authenticate, meshGuard, refuse } = require('@runbeam/sdk/express')
const { DICOMWEB } = require('./devcloud.cjs')
const { throwsCode } = require('./helpers.cjs')
const { edgeSuite, routes } = require('./edge-suite.cjs')

const PACS = 'runbeam.radiology-dept.ingress.name.pacs'

/** Serves `app` on 127.0.0.1, port 0: `{url, close()}`. `configure(url)` runs once it listens. */
function serve(app, configure = () => {}) {
  const server = http.createServer(app)
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${server.address().port}`
      configure(url)
      resolve({
        url,
        close: () =>
          new Promise((done) => {
            server.closeAllConnections()
            server.close(() => done())
          }),
      })
    })
  })
}

/** Relays what `routes.forward` got: the partner's answer, a refusal, or a 502. */
async function forward(res, resolver, reference, path) {
  const sent = await routes.forward(resolver, reference, path)
  if (sent.error) return refuse(res, sent.error)
  if (sent.unreachable) return res.status(502).json({ error: 'bad_gateway' })
  res.status(sent.status).type(sent.contentType).send(sent.body)
}

const adapter = {
  name: 'Express',
  egress({ validator, resolver, onError }) {
    const app = express()
    app.use(authenticate({ validator, publicPaths: ['/healthz'], onError }))
    app.get('/healthz', (req, res) => res.json({ status: 'ok' }))
    app.get('/me', (req, res) => res.json(routes.me(req.runbeam)))
    app.get('/boom', () => {
      throw new Error('a bug in the application')
    })
    app.get('/imaging/*rest', (req, res) => forward(res, resolver, DICOMWEB, req.originalUrl.slice('/imaging'.length)))
    app.get('/pacs/*rest', (req, res) => forward(res, resolver, PACS, req.originalUrl.slice('/pacs'.length)))
    // Express's default error handler would print the stack of /boom: the test says what it expects.
    app.use((error, req, res, next) => res.status(500).json({ error: 'application' }))
    return serve(app)
  },
  ingress({ resolver, publicUrl, onError }) {
    const app = express()
    return serve(app, (url) => {
      app.use(meshGuard({ resolver, mesh: 'imaging-integration', publicUrl: publicUrl(url), publicPaths: ['/healthz'], onError }))
      app.get('/healthz', (req, res) => res.json({ status: 'ok' }))
      app.get('/dicomweb/studies', (req, res) => res.json(routes.studies(req.runbeam)))
    })
  },
}

edgeSuite(adapter)

describe('@runbeam/sdk/express', () => {
  it('refuses options it cannot use, when the middleware is made', () => {
    const { Validator, Resolver } = require('@runbeam/sdk')
    const validator = new Validator({ trustedIssuers: ['https://api.runbeam.io/api'] })
    throwsCode(() => authenticate(), 'RUNBEAM_INVALID_ARGUMENT')
    throwsCode(() => authenticate({}), 'RUNBEAM_INVALID_ARGUMENT')
    throwsCode(() => authenticate({ validator: {} }), 'RUNBEAM_INVALID_ARGUMENT')
    throwsCode(() => authenticate({ validator, publicPaths: 'healthz' }), 'RUNBEAM_INVALID_ARGUMENT')
    throwsCode(() => authenticate({ validator, publicPaths: ['healthz'] }), 'RUNBEAM_INVALID_ARGUMENT')
    throwsCode(() => authenticate({ validator, skip: true }), 'RUNBEAM_INVALID_ARGUMENT')
    throwsCode(() => authenticate({ validator, onError: 'log' }), 'RUNBEAM_INVALID_ARGUMENT')
    assert.equal(typeof authenticate({ validator }), 'function')
    assert.equal(authenticate({ validator }).length, 3, 'connect-style (req, res, next)')
    throwsCode(() => meshGuard({ resolver: validator, mesh: 'm' }), 'RUNBEAM_INVALID_ARGUMENT')
    assert.ok(Resolver)
  })
})

describe('@runbeam/sdk/express: where a token is checked', () => {
  const native = require('../native.js')
  const { Validator } = require('@runbeam/sdk')
  const { startJwtCloud } = require('./jwt-cloud.cjs')

  /** Runs the middleware on a request with `authorization`; `{sync, done}`: whether it answered
   * within the calling turn's microtasks, and `{claims}` (next called) or `{refusal}`. */
  async function run(middleware, authorization) {
    let outcome = null
    const req = { url: '/me', headers: { authorization } }
    const headers = {}
    const res = {
      headersSent: false,
      statusCode: 200,
      setHeader(name, value) {
        headers[name.toLowerCase()] = value
      },
      end(body) {
        outcome = { refusal: { status: this.statusCode, headers, body } }
      },
    }
    middleware(req, res, (error) => {
      outcome = error ? { error } : { claims: req.runbeam.claims }
    })
    for (let i = 0; i < 8; i++) await null
    const sync = outcome !== null
    while (outcome === null) await new Promise((done) => setImmediate(done))
    return { sync, done: outcome }
  }

  it('checks a new token off the JavaScript thread, answers a remembered one at once, refuses alike', async () => {
    const { cloud, issuer, mint } = await startJwtCloud()
    try {
      const validator = new Validator({ trustedIssuers: [issuer] })
      await validator.refreshKeys()
      const middleware = authenticate({ validator })
      const token = await mint()
      const first = await run(middleware, `Bearer ${token}`)
      assert.equal(first.sync, false, 'a new token was checked on the JavaScript thread')
      assert.equal(first.done.claims.sub, validator.validateCached(token).sub)
      // Verified twice now: the core's cache answers, within the calling turn.
      const again = await run(middleware, `Bearer ${token}`)
      assert.equal(again.sync, true)
      assert.equal(again.done.claims.sub, first.done.claims.sub)
      // Refusals: the same status either way (no header, a bad token, an expired one).
      const expired = await mint({ ttl_secs: -120 })
      for (const authorization of [undefined, 'Basic x', 'Bearer not-a-token', `Bearer ${expired}`]) {
        const offloaded = await run(middleware, authorization)
        native._verifyOffload('inline')
        try {
          const inline = await run(authenticate({ validator }), authorization)
          assert.deepEqual(offloaded.done, inline.done, String(authorization))
          assert.equal(offloaded.done.refusal.status, 401)
        } finally {
          native._verifyOffload('auto')
        }
      }
      // The 'inline' mode (the synchronous path): a new token answered within the calling turn.
      native._verifyOffload('inline')
      try {
        const inline = await run(authenticate({ validator: new Validator({ trustedIssuers: [issuer] }) }), `Bearer ${token}`)
        assert.equal(inline.sync, false, 'keys not fetched yet: a fetch')
        const warm = new Validator({ trustedIssuers: [issuer] })
        await warm.refreshKeys()
        const now = await run(authenticate({ validator: warm }), `Bearer ${token}`)
        assert.equal(now.sync, true)
        assert.equal(now.done.claims.sub, first.done.claims.sub)
      } finally {
        native._verifyOffload('auto')
      }
    } finally {
      await cloud.stop()
    }
  })
})
