'use strict'
// Internal (not an export of the package): what the middleware of express.js and fastify.js
// shares. It reads the options once, and per request takes one step of the SDK (the native
// calls of src/edge.rs, src/jwt.rs, src/resolver.rs) and answers a refused request with
// runbeam-core's refusal (`refusalFor`). It holds no rule of its own: which header is read, how a
// token is checked, what status, headers and body a failure gets are all the core's.
//
// A step is the native one-call step of `validator.authenticate` / `resolver.verifyMeshRequest`
// (src/offload.rs): a token the core's cache remembers is answered at once (the claims, no
// Promise), so the middleware calls on synchronously; a new token's signature check runs off the
// JavaScript thread (a Promise settled from a verify thread), as does a key fetch; an error
// known at once is a rejected Promise. Status codes, headers and bodies are the same either way
// (`refusalFor` of the same error).

const sdk = require('./index.js')

const { Resolver, Validator, joinPath, refusalFor } = sdk
const steps = sdk[Symbol.for('@runbeam/sdk:steps')]

/** An `Error` shaped like the SDK's own (`code`, `kind`, …): a misconfigured middleware. */
function invalidArgument(message) {
  return Object.assign(new Error(message), {
    code: 'RUNBEAM_INVALID_ARGUMENT',
    kind: 'InvalidArgument',
    status: null,
    retryAfterMs: null,
    fieldErrors: null,
    attempts: null,
  })
}

/** What `value` is, for messages (never its text: it may be a secret). */
function describe(value) {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  const type = typeof value
  return type === 'object' ? 'an object' : type === 'undefined' ? 'undefined' : `a ${type}`
}

/** The options object of `where`, refused unless it is one. */
function optionsOf(options, where) {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalidArgument(`${where} options must be an object, not ${describe(options)}`)
  }
  return options
}

/**
 * The requests let through without a token: `publicPaths` (exact paths, query ignored) and
 * `skip(request)`; null when there are none.
 */
function publicRequests(options, where) {
  const { publicPaths, skip } = options
  let paths = null
  if (publicPaths !== undefined && publicPaths !== null) {
    if (!Array.isArray(publicPaths) || !publicPaths.every((p) => typeof p === 'string' && p.startsWith('/'))) {
      throw invalidArgument(`${where}.publicPaths must be an array of paths starting with '/'`)
    }
    if (publicPaths.length > 0) paths = new Set(publicPaths)
  }
  if (skip !== undefined && skip !== null && typeof skip !== 'function') {
    throw invalidArgument(`${where}.skip must be a function, not ${describe(skip)}`)
  }
  if (paths === null && (skip === undefined || skip === null)) return null
  return (request, path) => (paths !== null && paths.has(pathOnly(path))) || (skip != null && skip(request) === true)
}

/** `url` without its query. */
function pathOnly(url) {
  const query = url.indexOf('?')
  return query === -1 ? url : url.slice(0, query)
}

/** The `onError` hook of the options, or null. */
function hookOf(options, where) {
  const { onError } = options
  if (onError === undefined || onError === null) return null
  if (typeof onError !== 'function') throw invalidArgument(`${where}.onError must be a function, not ${describe(onError)}`)
  return onError
}

/**
 * `authenticate(options)` of each framework: `{step(authorization), isPublic, onError}`, the
 * step giving the claims of the user's JWT, or a Promise of them, or throwing the SDK's error.
 */
function userCheck(options, where) {
  options = optionsOf(options, where)
  const { validator } = options
  if (!(validator instanceof Validator)) {
    throw invalidArgument(`${where}.validator must be a Validator, not ${describe(validator)}`)
  }
  return {
    step: (authorization) => steps.authenticate.call(validator, authorization),
    isPublic: publicRequests(options, where),
    onError: hookOf(options, where),
  }
}

/**
 * `meshGuard(options)` of each framework: `{step(authorization, path), isPublic, onError}`, the
 * step giving the claims of the partner's mesh token verified for `mesh` and the URL served
 * (`joinPath(publicUrl, path)`, when a public URL is configured), or a Promise of them, or
 * throwing the SDK's error.
 */
function meshCheck(options, where) {
  options = optionsOf(options, where)
  const { resolver, mesh, publicUrl } = options
  if (!(resolver instanceof Resolver)) {
    throw invalidArgument(`${where}.resolver must be a Resolver, not ${describe(resolver)}`)
  }
  if (typeof mesh !== 'string' || mesh === '') {
    throw invalidArgument(`${where}.mesh must be the name (or Cloud id) of a mesh, not ${describe(mesh)}`)
  }
  let base = null
  if (publicUrl !== undefined && publicUrl !== null) {
    if (typeof publicUrl !== 'string') throw invalidArgument(`${where}.publicUrl must be a string, not ${describe(publicUrl)}`)
    // The core checks the URL (an http(s) URL with a host, no query or fragment) now, not at
    // the first request.
    try {
      joinPath(publicUrl, '/')
    } catch (error) {
      throw invalidArgument(`${where}.publicUrl: ${error.message}`)
    }
    base = publicUrl
  }
  return {
    step:
      base === null
        ? (authorization) => steps.verifyMeshRequest.call(resolver, authorization, mesh)
        : (authorization, path) => steps.verifyMeshRequest.call(resolver, authorization, mesh, joinPath(base, path)),
    isPublic: publicRequests(options, where),
    onError: hookOf(options, where),
  }
}

/** The claims a middleware put on `request.runbeam` (made on first use). */
function stateOf(request) {
  let state = request.runbeam
  if (state === undefined || state === null) {
    state = { claims: null, meshClaims: null }
    request.runbeam = state
  }
  return state
}

/**
 * The handler running `check` (userCheck or meshCheck) on each request — an Express middleware
 * `(req, res, next)` or a Fastify `onRequest` hook `(request, reply, done)`, the same shape —
 * putting its claims on `request.runbeam[key]`, or answering with `send(response, refusal)`.
 * Named `name` (what stack traces and framework listings show).
 */
function handler(check, stage, key, name, send) {
  const { step, isPublic, onError } = check
  const refused = (request, response, next, error) => {
    const refusal = refusalFor(error, stage)
    if (onError !== null) {
      try {
        onError(error, request, refusal)
      } catch (hookError) {
        next(hookError)
        return
      }
    }
    send(response, refusal)
  }
  const accepted = (request, next, claims) => {
    stateOf(request)[key] = claims
    next()
  }
  const handle = {
    [name](request, response, next) {
      const url = request.originalUrl ?? request.url
      if (isPublic !== null && isPublic(request, url)) {
        next()
        return
      }
      let answer
      try {
        answer = step(request.headers.authorization, url)
      } catch (error) {
        refused(request, response, next, error)
        return
      }
      if (answer instanceof Promise) {
        answer.then(
          (claims) => accepted(request, next, claims),
          (error) => refused(request, response, next, error),
        )
      } else {
        accepted(request, next, answer)
      }
    },
  }
  return handle[name]
}

module.exports = { handler, invalidArgument, meshCheck, refusalFor, stateOf, userCheck }
