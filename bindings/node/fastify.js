'use strict'
// @runbeam/sdk/fastify: Fastify plugins, with no dependency on Fastify itself (nor on
// fastify-plugin: each plugin carries the marks fastify-plugin would set, so that its hook and
// request decoration apply to the scope it is registered in, not to a child scope).
//
// - `authenticate` (options `{ validator, publicPaths, skip, onError }`): an `onRequest` hook
//   validating the user's JWT of `Authorization: Bearer` (`Validator.authenticate`); its claims
//   on `request.runbeam.claims`.
// - `meshGuard` (options `{ resolver, mesh, publicUrl, publicPaths, skip, onError }`): an
//   `onRequest` hook verifying a partner gateway's mesh token for `mesh` and the URL served
//   (`Resolver.verifyMeshRequest`); its claims on `request.runbeam.meshClaims`.
// - `refuse(reply, error, stage)`: the answer to an SDK error a route got (e.g. from
//   `resolver.outbound`).
//
// A request the SDK refuses gets runbeam-core's refusal (`refusalFor`), and the error goes to
// the `onError(error, request, refusal)` hook. Errors of the application (a throwing `skip` or
// `onError`) go to Fastify's error handling as usual.

const { handler, meshCheck, refusalFor, userCheck } = require('./middleware.js')

/**
 * Sends `refusal` with `reply`; returns the reply. The body goes as bytes: Fastify would add
 * `; charset=utf-8` to the content type of a JSON string, and the answer is the same in every
 * language.
 */
function send(reply, refusal) {
  return reply
    .code(refusal.status)
    .headers(refusal.headers)
    .header('content-type', refusal.contentType)
    .send(Buffer.from(refusal.body))
}

/**
 * Answers a request with the refusal of `error` (an error of the SDK) raised at `stage`
 * (`'userToken'`, `'meshToken'` or `'outbound'`, the default); returns the reply, so that an
 * async handler can `return refuse(reply, error)`.
 */
function refuse(reply, error, stage = 'outbound') {
  return send(reply, refusalFor(error, stage))
}

/** A plugin adding `onRequest` hook `makeHook(options)`, marked as fastify-plugin marks one. */
function plugin(name, makeHook) {
  const register = {
    [name](fastify, options, done) {
      let onRequest
      try {
        onRequest = makeHook(options)
      } catch (error) {
        done(error)
        return
      }
      if (!fastify.hasRequestDecorator('runbeam')) fastify.decorateRequest('runbeam', null)
      fastify.addHook('onRequest', onRequest)
      done()
    },
  }[name]
  register[Symbol.for('skip-override')] = true
  register[Symbol.for('fastify.display-name')] = `@runbeam/sdk/fastify ${name}`
  register[Symbol.for('plugin-meta')] = { name: `@runbeam/sdk/fastify ${name}`, fastify: '5.x' }
  return register
}

/**
 * Plugin validating the user's JWT of each request (`Authorization: Bearer`): the claims on
 * `request.runbeam.claims`, else the refusal (401 for a missing, malformed, expired or untrusted
 * token). Applies to the routes of the scope it is registered in.
 */
const authenticate = plugin('authenticate', (options) =>
  handler(userCheck(options, 'authenticate'), 'userToken', 'claims', 'runbeamAuthenticate', send),
)

/**
 * Plugin verifying the mesh token a partner gateway sent with each request to the ingress routes
 * of the scope it is registered in: the claims on `request.runbeam.meshClaims`, else the refusal.
 * The URL served is `joinPath(publicUrl, request.originalUrl)` (never the Host header); without
 * `publicUrl` only the signature, issuer, audience, `mesh_id` and expiry are checked.
 */
const meshGuard = plugin('meshGuard', (options) =>
  handler(meshCheck(options, 'meshGuard'), 'meshToken', 'meshClaims', 'runbeamMeshGuard', send),
)

module.exports = { authenticate, meshGuard, refuse }
