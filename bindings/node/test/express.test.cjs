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
