'use strict'
// @runbeam/sdk/express: connect-style middleware `(req, res, next)` for Express (and connect,
// or a bare node:http server), with no dependency on any framework: it reads
// `req.headers.authorization`, writes with `res.statusCode`, `res.setHeader` and `res.end`.
//
// - `authenticate({ validator })`: the user's JWT of `Authorization: Bearer` validated
//   (`Validator.authenticate`); its claims on `req.runbeam.claims`.
// - `meshGuard({ resolver, mesh, publicUrl })`: a partner gateway's mesh token verified for
//   `mesh` and the URL served (`Resolver.verifyMeshRequest`); its claims on
//   `req.runbeam.meshClaims`.
// - `refuse(res, error, stage)`: the answer to an SDK error a route got (e.g. from
//   `resolver.outbound`).
//
// A request the SDK refuses gets runbeam-core's refusal (`refusalFor`: 401 with
// `WWW-Authenticate: Bearer error="invalid_token"` for a bad token, 503 with `Retry-After` when
// keys cannot be fetched, …; a fixed JSON body, never the error). The error goes to the
// `onError(error, req, refusal)` hook. Errors of the application (a throwing `skip` or
// `onError`, what later middleware does) go to Express as usual, through `next(error)`.

const { handler, meshCheck, refusalFor, userCheck } = require('./middleware.js')

/** Writes `refusal` on `res` (when nothing was written yet; else the connection is closed). */
function send(res, refusal) {
  if (res.headersSent) {
    res.destroy()
    return
  }
  res.statusCode = refusal.status
  const headers = refusal.headers
  for (const name in headers) res.setHeader(name, headers[name])
  res.setHeader('content-type', refusal.contentType)
  res.setHeader('content-length', Buffer.byteLength(refusal.body))
  res.end(refusal.body)
}

/**
 * Answers a request with the refusal of `error` (an error of the SDK) raised at `stage`
 * (`'userToken'`, `'meshToken'` or `'outbound'`, the default); returns the refusal.
 */
function refuse(res, error, stage = 'outbound') {
  const refusal = refusalFor(error, stage)
  send(res, refusal)
  return refusal
}

/**
 * Middleware validating the user's JWT of each request (`Authorization: Bearer`): the claims on
 * `req.runbeam.claims`, else the refusal (401 for a missing, malformed, expired or untrusted
 * token).
 *
 * Options: `validator` (a `Validator`), `publicPaths` (paths let through without a token,
 * exact, query ignored), `skip(req)` (true: let through), `onError(error, req, refusal)`.
 */
function authenticate(options) {
  return handler(userCheck(options, 'authenticate'), 'userToken', 'claims', 'runbeamAuthenticate', send)
}

/**
 * Middleware verifying the mesh token a partner gateway sent with each request to an ingress
 * route: the claims on `req.runbeam.meshClaims`, else the refusal (401 for a missing or bad
 * token, one for another mesh or another destination).
 *
 * Options: `resolver` (a `Resolver`), `mesh` (its name or Cloud id), `publicUrl` (the URL
 * registered for this ingress in Runbeam Cloud: the URL served is `joinPath(publicUrl,
 * req.originalUrl)`, never taken from the Host header; without it only the signature, issuer,
 * audience, `mesh_id` and expiry are checked), `publicPaths`, `skip(req)`,
 * `onError(error, req, refusal)`.
 */
function meshGuard(options) {
  return handler(meshCheck(options, 'meshGuard'), 'meshToken', 'meshClaims', 'runbeamMeshGuard', send)
}

module.exports = { authenticate, meshGuard, refuse }
