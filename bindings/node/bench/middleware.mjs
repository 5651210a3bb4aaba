// The cost of the middleware per request over the bare framework, on the cached path (the user
// JWT, the JWKS and the mesh provider's keys cached: no I/O in the SDK), µs per request:
//
// - Fastify, `app.inject` (in process, no socket): a bare app, the same app with an empty
//   `onRequest` hook (what any hook costs in Fastify), with the `authenticate` plugin, and with
//   the `meshGuard` plugin (a public URL, so the URL served is built with joinPath and checked
//   against the token's dest_url);
// - Express over loopback HTTP (client in the same process, keep-alive, `--concurrency`
//   requests in flight): bare, an empty middleware, `authenticate`, `meshGuard`. (Express has
//   no inject of its own, and Fastify's, light-my-request, breaks Express's response objects
//   for the rest of the process.)
//
//   make node-release && RUNBEAM_DEVCLOUD=target/<triple>/debug/runbeam-devcloud \
//     node bindings/node/bench/middleware.mjs      (`make node-bench` runs it; then `make node-build`)
//   node bench/middleware.mjs [--inject N] [--http N] [--concurrency N] [--repeats N]
//
// Every app answers the same route with the same small JSON body and gets the same
// `Authorization` header (the bare app ignores it). A runbeam-devcloud subprocess mints the
// tokens and serves the keys; everything is warmed before the clock starts. Each repeat runs the
// apps of a framework in turn (interleaved, starting with another app each time), so load from
// other processes hits them alike; the
// table gives the median, the interquartile range and the best of the repeats, and the
// overhead as the median of the per-repeat differences to the bare app (with its IQR).

import { readFileSync } from 'node:fs'
import http from 'node:http'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

import { Client, MemoryTokenStore, MeshConfig, Resolver, TokenManager, Validator, version } from '../index.mjs'
import * as expressEdge from '../express.mjs'
import * as fastifyEdge from '../fastify.mjs'
import { quantile } from './stats.mjs'

const require = createRequire(import.meta.url)
const express = require('express')
const Fastify = require('fastify')
const { startDevcloud, analyticsConfig, BOB_SANCTUM, ANALYTICS_GW, RADIOLOGY_GW, MESH, DICOM_URL } = require('../test/devcloud.cjs')

const { values } = parseArgs({
  options: {
    inject: { type: 'string', default: '5000' },
    http: { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '8' },
    repeats: { type: 'string', default: '41' },
  },
})
const INJECT = Number(values.inject)
const HTTP = Number(values.http)
const CONCURRENCY = Number(values.concurrency)
const REPEATS = Number(values.repeats)

const REPO = join(import.meta.dirname, '..', '..', '..')
const BODY = { studies: 3 }

/** A Fastify app answering GET /studies, with `plugin` (and its options) registered, ready. */
async function fastifyApp(plugin, options) {
  const app = Fastify()
  if (plugin) await app.register(plugin, options)
  app.get('/studies', async () => BODY)
  await app.ready()
  return app
}

/** A Fastify `onRequest` hook doing nothing, registered as the SDK's plugins are. */
function noopPlugin(fastify, options, done) {
  fastify.addHook('onRequest', (request, reply, next) => next())
  done()
}
noopPlugin[Symbol.for('skip-override')] = true

/** An Express app answering GET /studies, with `middleware`. */
function expressHandler(middleware) {
  const app = express()
  app.disable('x-powered-by')
  app.disable('etag')
  if (middleware) app.use(middleware)
  app.get('/studies', (req, res) => res.json(BODY))
  return app
}

/** An Express app answering GET /studies, with `middleware`, listening on loopback. */
async function expressApp(middleware) {
  const app = expressHandler(middleware)
  // Idle between its runs while the other apps are timed: keep its connections (the client's
  // agent would otherwise reuse a socket the server is closing).
  const server = http.createServer({ keepAliveTimeout: 600_000 }, app)
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return server
}

/** `n` sequential injected requests; µs per request. */
async function injectRun(app, authorization, n) {
  const start = process.hrtime.bigint()
  for (let i = 0; i < n; i++) {
    const res = await app.inject({ method: 'GET', url: '/studies', headers: { authorization } })
    if (res.statusCode !== 200) throw new Error(`inject: ${res.statusCode} ${res.body}`)
    // Let the event loop turn, as a server's does: what inject leaves to setImmediate would
    // otherwise pile up (~10 KB a request) and the GC would time that instead.
    if (i % 100 === 99) await new Promise(setImmediate)
  }
  return Number(process.hrtime.bigint() - start) / 1000 / n
}

/** `n` requests over loopback, `CONCURRENCY` in flight; µs per request. */
async function httpRun(server, agent, authorization, n) {
  const { port } = server.address()
  let left = n
  const one = () =>
    new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/studies', agent, headers: { authorization } }, (res) => {
        if (res.statusCode !== 200) reject(new Error(`http: ${res.statusCode}`))
        res.resume()
        res.on('end', resolve)
      })
      req.on('error', reject)
    })
  const worker = async () => {
    while (left > 0) {
      left--
      await one()
    }
  }
  const start = process.hrtime.bigint()
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  return Number(process.hrtime.bigint() - start) / 1000 / n
}

const cloud = await startDevcloud()
const closers = []
try {
  // Bob's user JWT, validated by the gateway's validator (keys fetched once).
  const validator = new Validator({ trustedIssuers: [`${cloud.url}/api`] })
  const userHeader = `Bearer ${await cloud.userJwt('bob@analytics.example.com')}`
  await validator.authenticate(userHeader)
  // A mesh token of ai-analytics for radiology-dept's DICOMweb URL, verified by radiology-dept.
  const client = new Client(cloud.url)
  const sender = new Resolver({
    config: analyticsConfig(cloud.url, 3600),
    client,
    tokenManager: new TokenManager({ instanceId: ANALYTICS_GW, store: new MemoryTokenStore(), client, credential: BOB_SANCTUM }),
  })
  const meshHeader = `Bearer ${(await sender.meshToken(MESH, DICOM_URL)).token}`
  const receiver = new Resolver({
    config: MeshConfig.fromToml(readFileSync(join(REPO, 'examples', 'config', 'radiology-dept.toml'), 'utf8'))
      .withProviderApi('runbeam', cloud.url),
    client,
    tokenManager: new TokenManager({ instanceId: RADIOLOGY_GW, store: new MemoryTokenStore(), client }),
  })
  await receiver.verifyMeshRequest(meshHeader, MESH, `${DICOM_URL}/studies`)
  const guard = { resolver: receiver, mesh: MESH, publicUrl: DICOM_URL }

  const frameworks = [
    {
      name: 'Fastify inject',
      requests: INJECT,
      apps: [
        ['bare', await fastifyApp(null), userHeader],
        ['empty hook', await fastifyApp(noopPlugin, {}), userHeader],
        ['authenticate', await fastifyApp(fastifyEdge.authenticate, { validator }), userHeader],
        ['meshGuard', await fastifyApp(fastifyEdge.meshGuard, guard), meshHeader],
      ],
      run: (app, header, n) => injectRun(app, header, n),
    },
    {
      name: `Express HTTP x${CONCURRENCY}`,
      requests: HTTP,
      apps: [
        ['bare', await expressApp(null), userHeader],
        ['empty middleware', await expressApp((req, res, next) => next()), userHeader],
        ['authenticate', await expressApp(expressEdge.authenticate({ validator })), userHeader],
        ['meshGuard', await expressApp(expressEdge.meshGuard(guard)), meshHeader],
      ],
      agent: new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY }),
      run(server, header, n) {
        return httpRun(server, this.agent, header, n)
      },
    },
  ]
  for (const f of frameworks) {
    for (const [, app] of f.apps) {
      if (typeof app.inject === 'function') closers.push(() => app.close())
      else if (app instanceof http.Server) closers.push(() => new Promise((r) => { app.closeAllConnections(); app.close(r) }))
    }
  }

  for (const f of frameworks) {
    for (const [, app, header] of f.apps) await f.run(app, header, Math.max(1000, f.requests / 4)) // warm up
  }
  const before = { validator: validator.stats(), receiver: receiver.stats().meshValidation }
  const samples = frameworks.map((f) => f.apps.map(() => []))
  for (let r = 0; r < REPEATS; r++) {
    for (const [i, f] of frameworks.entries()) {
      // Each repeat starts with another app, so that none always runs first.
      for (let k = 0; k < f.apps.length; k++) {
        const j = (r + k) % f.apps.length
        const [, app, header] = f.apps[j]
        samples[i][j].push(await f.run(app, header, f.requests))
      }
    }
  }
  const after = { validator: validator.stats(), receiver: receiver.stats().meshValidation }

  console.log(`@runbeam/sdk ${version()}, Node ${process.version}, ${process.platform}-${process.arch}; ` +
    `express ${require('express/package.json').version}, fastify ${require('fastify/package.json').version}`)
  console.log(`middleware overhead on the cached path, ${REPEATS} repeats, µs/request (${INJECT} injected, ` +
    `${HTTP} HTTP requests per run); signatures checked while timed: ` +
    `${after.validator.verifications - before.validator.verifications} user, ` +
    `${after.receiver.verifications - before.receiver.verifications} mesh`)
  console.log('')
  console.log(`${'framework'.padEnd(18)} ${'app'.padEnd(17)} ${'median'.padStart(7)} ${'p25–p75'.padStart(13)} ` +
    `${'best'.padStart(7)} ${'overhead'.padStart(9)} ${'p25–p75'.padStart(13)}`)
  frameworks.forEach((f, i) => {
    f.apps.forEach(([name], j) => {
      const xs = samples[i][j]
      const iqr = (ys) => `${quantile(ys, 0.25).toFixed(2)}–${quantile(ys, 0.75).toFixed(2)}`
      let overhead = ''
      if (j > 0) {
        const diffs = xs.map((x, r) => x - samples[i][0][r])
        overhead = `${quantile(diffs, 0.5).toFixed(2).padStart(9)} ${iqr(diffs).padStart(13)}`
      }
      console.log(`${f.name.padEnd(18)} ${name.padEnd(17)} ${quantile(xs, 0.5).toFixed(2).padStart(7)} ` +
        `${iqr(xs).padStart(13)} ${Math.min(...xs).toFixed(2).padStart(7)} ${overhead}`)
    })
  })
  frameworks[1].agent.destroy()
} finally {
  for (const close of closers) await close()
  await cloud.stop()
}
