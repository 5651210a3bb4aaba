'use strict'
// @runbeam/sdk/fastify with the real Fastify (a devDependency), listening on 127.0.0.1 port 0,
// against runbeam-devcloud: the behaviour of test/edge-suite.cjs, plus what is Fastify's own
// (the plugins' scope, marked as fastify-plugin marks one).

const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')

const Fastify = require('fastify')
const { authenticate, meshGuard, refuse } = require('@runbeam/sdk/fastify')
const { Validator } = require('@runbeam/sdk')
const { DICOMWEB } = require('./devcloud.cjs')
const { edgeSuite, routes } = require('./edge-suite.cjs')

const PACS = 'runbeam.radiology-dept.ingress.name.pacs'

/**
 * A Fastify app on a server already listening on 127.0.0.1, port 0 (so that its routes can be
 * built knowing its URL): `build(app, url)`, then `{url, close()}`.
 */
async function serve(build) {
  let handle = null
  const server = http.createServer((req, res) => handle(req, res))
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const url = `http://127.0.0.1:${server.address().port}`
  const app = Fastify({
    serverFactory(handler) {
      handle = handler
      return server
    },
  })
  await build(app, url)
  await app.ready()
  return {
    url,
    app,
    close: async () => {
      await app.close()
      // Fastify closes only a server it started listening itself.
      server.closeAllConnections()
      await new Promise((done) => (server.listening ? server.close(() => done()) : done()))
    },
  }
}

/** Relays what `routes.forward` got: the partner's answer, a refusal, or a 502. */
async function forward(reply, resolver, reference, path) {
  const sent = await routes.forward(resolver, reference, path)
  if (sent.error) return refuse(reply, sent.error)
  if (sent.unreachable) return reply.code(502).send({ error: 'bad_gateway' })
  return reply.code(sent.status).type(sent.contentType).send(sent.body)
}

const adapter = {
  name: 'Fastify',
  egress({ validator, resolver, onError }) {
    return serve(async (app) => {
      await app.register(authenticate, { validator, publicPaths: ['/healthz'], onError })
      app.get('/healthz', async () => ({ status: 'ok' }))
      app.get('/me', async (request) => routes.me(request.runbeam))
      app.get('/boom', async () => {
        throw new Error('a bug in the application')
      })
      app.get('/imaging/*', (request, reply) => forward(reply, resolver, DICOMWEB, request.url.slice('/imaging'.length)))
      app.get('/pacs/*', (request, reply) => forward(reply, resolver, PACS, request.url.slice('/pacs'.length)))
    })
  },
  ingress({ resolver, publicUrl, onError }) {
    return serve(async (app, url) => {
      // The guard applies to the scope it is registered in (fastify-plugin's mark), and not to
      // its siblings: /healthz stays open.
      await app.register(async (ingress) => {
        await ingress.register(meshGuard, { resolver, mesh: 'imaging-integration', publicUrl: publicUrl(url), onError })
        ingress.get('/dicomweb/studies', async (request) => routes.studies(request.runbeam))
        ingress.get('/dicomweb/*', async (request, reply) => reply.code(404).send({ error: 'not_found' }))
        ingress.get('/admin', async () => ({ admin: true }))
      })
      app.get('/healthz', async () => ({ status: 'ok' }))
    })
  },
}

edgeSuite(adapter)

describe('@runbeam/sdk/fastify', () => {
  const validator = new Validator({ trustedIssuers: ['https://api.runbeam.io/api'] })

  it('marks its plugins as fastify-plugin does, and decorates the request', async () => {
    for (const plugin of [authenticate, meshGuard]) {
      assert.equal(plugin[Symbol.for('skip-override')], true)
      assert.match(plugin[Symbol.for('fastify.display-name')], /^@runbeam\/sdk\/fastify /)
      assert.equal(plugin[Symbol.for('plugin-meta')].fastify, '5.x')
    }
    const app = Fastify()
    await app.register(authenticate, { validator, publicPaths: ['/open'] })
    app.get('/open', async (request) => ({ runbeam: request.runbeam }))
    const answer = await app.inject({ url: '/open' })
    assert.equal(answer.statusCode, 200)
    assert.deepEqual(answer.json(), { runbeam: null }, 'decorated, null until the plugin sets it')
    assert.ok(app.hasRequestDecorator('runbeam'))
    const refused = await app.inject({ url: '/closed' })
    assert.equal(refused.statusCode, 401, 'the hook runs before routing: no 404 leaks which routes exist')
    assert.equal(refused.headers['www-authenticate'], 'Bearer error="invalid_token"')
    await app.close()
  })

  it('refuses options it cannot use, when the plugin is registered', async () => {
    for (const options of [{}, { validator: {} }, { validator, publicPaths: ['x'] }, { validator, onError: 1 }]) {
      const app = Fastify()
      const error = await app.register(authenticate, options).ready().then(
        () => assert.fail(`registered with ${JSON.stringify(options)}`),
        (e) => e,
      )
      assert.equal(error.code, 'RUNBEAM_INVALID_ARGUMENT', String(error))
      await app.close()
    }
    const app = Fastify()
    const error = await app.register(meshGuard, { resolver: validator, mesh: 'm' }).ready().catch((e) => e)
    assert.equal(error.code, 'RUNBEAM_INVALID_ARGUMENT')
    await app.close()
  })
})
