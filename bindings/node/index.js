'use strict'
// @runbeam/sdk: the Node binding of librunbeam. Everything is done by the native module
// (runbeam-core through napi-rs, see src/), except the `Reference` class below, which is written
// in JavaScript because a native object per reference would cost ten times a naive `split`
// parser (see src/reference.rs). It holds no rule: one native call parses with runbeam-core and
// says where each part is; this class only slices the parts out.

const native = require('./native.js')

const parseReference = native.__parseReference
const referencesEqual = native.__referencesEqual

/** The canonical form of a Reference, undefined for anything else (set in the class body). */
let canonicalOf

/**
 * A parsed, validated resource reference, e.g. `runbeam.acme-healthcare.ingress.name.fhir-api`.
 * Declared in index.d.ts (from dts-header.d.ts).
 */
class Reference {
  #canonical
  #provider
  #team
  #type
  #lookup
  #value
  #isLocal

  constructor(text) {
    const canonical = parseReference(text) ?? text
    // `parts` was filled by the call above: (start, end) of the canonical text, or
    // (-1, i) for constants[i], or (-2, 0) for null.
    this.#canonical = canonical
    this.#provider = part(canonical, parts[0], parts[1])
    this.#team = part(canonical, parts[2], parts[3])
    this.#type = part(canonical, parts[4], parts[5])
    this.#lookup = part(canonical, parts[6], parts[7])
    this.#value = part(canonical, parts[8], parts[9])
    this.#isLocal = parts[10] === 1
  }

  static parse(text) {
    return new Reference(text)
  }

  get provider() {
    return this.#provider
  }

  get team() {
    return this.#team
  }

  get type() {
    return this.#type
  }

  get lookup() {
    return this.#lookup
  }

  get value() {
    return this.#value
  }

  get isLocal() {
    return this.#isLocal
  }

  equals(other) {
    const theirs = canonicalOf(other)
    return theirs !== undefined && referencesEqual(this.#canonical, theirs)
  }

  toString() {
    return this.#canonical
  }

  toJSON() {
    return this.#canonical
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return #canonical in this ? `Reference(${this.#canonical})` : 'Reference {}'
  }

  static {
    canonicalOf = (value) =>
      typeof value === 'object' && value !== null && #canonical in value ? value.#canonical : undefined
  }
}

function part(canonical, a, b) {
  return a >= 0 ? canonical.slice(a, b) : a === -1 ? constants[b] : null
}

const support = native.__referenceInit(Reference, canonicalOf)
const parts = new Int32Array(support.scratch)
const constants = support.constants

// `Client.listAll`: every resource of a collection, page after page, as an async iterable. The
// walk is runbeam-core's (`__listPages`: which page comes next, when to stop, its page bound);
// this only yields the items of each page (declared in index.d.ts from dts-header.d.ts).
const Client = native.Client
const listPages = Client.prototype.__listPages
const nextPage = Client.prototype.__nextPage
delete Client.prototype.__listPages
delete Client.prototype.__nextPage
Object.defineProperty(Client.prototype, 'listAll', {
  configurable: true,
  writable: true,
  value: async function* listAll(collection, options) {
    const walk = listPages.call(this, collection, options)
    // `options.signal` aborts the page being fetched (nextPage reads only `signal`).
    const page = () => nextPage.call(this, walk, options)
    for (let items = await page(); items !== null; items = await page()) {
      yield* items
    }
  },
})

// JWT validation (src/jwt.rs). `Claims` is written here so that the native side builds one
// with a single constructor call (cheaper than setting each property through napi); it holds no
// rule: every value comes from runbeam-core. Objects are frozen because a validator hands the
// same object out again for a repeated token.
const apiBaseUrlOf = native.__apiBaseUrl
class Claims {
  #json
  #all

  constructor(json, iss, sub, aud, exp, iat, nbf, jti, userId, userEmail, userName, teamId, teamName) {
    this.#json = json
    this.iss = iss
    this.sub = sub
    this.aud = Array.isArray(aud) ? Object.freeze(aud) : aud
    this.exp = exp
    this.iat = iat
    this.nbf = nbf
    this.jti = jti
    this.user = userId === null ? null : Object.freeze({ id: userId, email: userEmail, name: userName })
    this.team = teamId === null ? null : Object.freeze({ id: teamId, name: teamName })
    Object.freeze(this)
  }

  /**
   * The Runbeam Cloud API URL this user JWT was issued by: the origin of `iss`, runbeam-core's
   * rule (`Claims::api_base_url`), for `new Client(...)`.
   */
  apiBaseUrl() {
    return apiBaseUrlOf(this.iss)
  }

  /** Every claim of the payload, custom ones too (parsed on first use, then deeply frozen). */
  get all() {
    if (this.#all === undefined) this.#all = deepFreeze(JSON.parse(this.#json))
    return this.#all
  }

  toJSON() {
    return this.all
  }
}

function deepFreeze(value) {
  if (typeof value === 'object' && value !== null) {
    for (const key of Object.keys(value)) deepFreeze(value[key])
    Object.freeze(value)
  }
  return value
}

native.__jwtInit(Claims)

// The AbortSignal of Promise-returning calls (src/abort.rs): the calls in flight with one signal
// share one 'abort' listener on it, added with the first and removed when the last settles, so a
// signal shared by many calls in flight stays under Node's listener limit (a warning past 10).
const abortWatchers = new WeakMap()
native.__abortInit({
  add(signal, listener) {
    let watch = abortWatchers.get(signal)
    if (watch === undefined) {
      const listeners = new Set()
      const fire = () => {
        abortWatchers.delete(signal)
        for (const stop of listeners) stop()
      }
      watch = { listeners, fire }
      abortWatchers.set(signal, watch)
      signal.addEventListener('abort', fire, { once: true })
    }
    watch.listeners.add(listener)
  },
  remove(signal, listener) {
    const watch = abortWatchers.get(signal)
    if (watch === undefined || !watch.listeners.delete(listener) || watch.listeners.size > 0) return
    abortWatchers.delete(signal)
    signal.removeEventListener('abort', watch.fire)
  },
})

// The cached-then-fetch methods. The step is runbeam-core's, taken in one native call, which
// returns the answer itself when it is known without I/O, else a Promise (the request, or the
// rejection of an error known at once). A ready answer is wrapped here: `Promise.resolve` in
// JavaScript costs less than a Promise created through napi (BENCHMARKS.md, "Node JWT
// validation": 0.98 against 1.17 µs of CPU per cached validation).
const Validator = native.Validator
const Resolver = native.Resolver
const settle = (answer) => (answer instanceof Promise ? answer : Promise.resolve(answer))
const method = (value) => ({ configurable: true, writable: true, value })
/** The native `__name` method of `Class`, removed from its prototype. */
function take(Class, name) {
  const call = Class.prototype[name]
  delete Class.prototype[name]
  return call
}
const validateAnswer = take(Validator, '__validate')
const verifyAnswer = take(Validator, '__verifyMeshToken')
const authenticateAnswer = take(Validator, '__authenticate')
const resolveAnswer = take(Resolver, '__resolve')
const verifyMeshAnswer = take(Resolver, '__verifyMeshToken')
const verifyMeshRequestAnswer = take(Resolver, '__verifyMeshRequest')
const outboundAnswer = take(Resolver, '__outbound')
Object.defineProperties(Validator.prototype, {
  validate: method(function validate(token, options) {
    return settle(validateAnswer.call(this, token, options))
  }),
  verifyMeshToken: method(function verifyMeshToken(token, meshId, destinationUrl, options) {
    return settle(verifyAnswer.call(this, token, meshId, destinationUrl, options))
  }),
  authenticate: method(function authenticate(authorization, options) {
    return settle(authenticateAnswer.call(this, authorization, options))
  }),
})
Object.defineProperties(Resolver.prototype, {
  resolve: method(function resolve(reference, options) {
    return settle(resolveAnswer.call(this, reference, options))
  }),
  verifyMeshToken: method(function verifyMeshToken(token, mesh, destinationUrl, options) {
    return settle(verifyMeshAnswer.call(this, token, mesh, destinationUrl, options))
  }),
  verifyMeshRequest: method(function verifyMeshRequest(authorization, mesh, servedUrl, options) {
    return settle(verifyMeshRequestAnswer.call(this, authorization, mesh, servedUrl, options))
  }),
  outbound: method(function outbound(reference, path, options) {
    return settle(outboundAnswer.call(this, reference, path, options))
  }),
})

// Token storage (src/storage.rs). Tokens keep their secret in the native object (read with
// `.machineToken` / `.token` / `.expose()`; the getters are not enumerable, so `for…in` skips
// them); inspect shows a redacted form. The same holds for the `authorize` and `meshToken`
// results of Client.
const INSPECT = Symbol.for('nodejs.util.inspect.custom')
for (const Store of [native.FileTokenStore, native.KeyringTokenStore, native.MemoryTokenStore]) {
  Object.defineProperty(Store.prototype, INSPECT, {
    configurable: true,
    value: function inspect() {
      return `${this.constructor.name} { backend: '${this.backend}' }`
    },
  })
}
Object.defineProperty(native.TokenManager.prototype, INSPECT, {
  configurable: true,
  value: () => 'TokenManager {}',
})
for (const Token of [native.MachineToken, native.UserToken, native.AuthorizeResult, native.MeshTokenResult]) {
  Object.defineProperty(Token.prototype, INSPECT, {
    configurable: true,
    value: function inspect(depth, options, inspect) {
      return `${Token.name} ${inspect(this.toJSON(), options)}`
    },
  })
}

// Reference resolution and mesh tokens (src/resolver.rs): a redacted, informative inspect form.
Object.defineProperty(Resolver.prototype, INSPECT, {
  configurable: true,
  value: function inspect(depth, options, inspect) {
    return `Resolver ${inspect({ cachedReferences: this.cachedReferences, stats: this.stats() }, options)}`
  },
})
// An issued mesh token builds its Claims object once (the getter is native); inspect is redacted.
const IssuedMeshToken = native.IssuedMeshToken
const issuedClaims = Object.getOwnPropertyDescriptor(IssuedMeshToken.prototype, 'claims').get
const claimsOfToken = new WeakMap()
Object.defineProperties(IssuedMeshToken.prototype, {
  claims: {
    configurable: true,
    get: function claims() {
      let claims = claimsOfToken.get(this)
      if (claims === undefined) {
        claims = issuedClaims.call(this)
        claimsOfToken.set(this, claims)
      }
      return claims
    },
  },
  [INSPECT]: {
    configurable: true,
    value: function inspect(depth, options, inspect) {
      return `IssuedMeshToken ${inspect(this.toJSON(), options)}`
    },
  },
})

// Requests across the mesh (src/edge.rs): an Outbound holds the mesh token in its
// `authorization` and `headers` getters (native, non-enumerable); inspect is redacted.
const Outbound = native.Outbound
Object.defineProperty(Outbound.prototype, INSPECT, {
  configurable: true,
  value: function inspect(depth, options, inspect) {
    return `Outbound ${inspect(this.toJSON(), options)}`
  },
})

// Host logging (src/logging.rs). The native side queues each record of librunbeam (its level
// filter, its redaction) on a threadsafe function calling `deliver` below, a wrapper of the
// user's callback: napi-rs would turn an exception thrown by the callback into an uncaught
// exception, so it is caught here. Each logger has its own wrapper and state, so that records
// queued before `setLogger(null)` or a replacement are not delivered to it afterwards.
const nativeSetLogger = native.__setLogger
let activeLogger = null
function setLogger(callback, level) {
  if (typeof callback !== 'function') {
    // null / undefined: off. Anything else: the native side throws RUNBEAM_INVALID_ARGUMENT.
    nativeSetLogger(callback, level)
    if (activeLogger !== null) activeLogger.on = false
    activeLogger = null
    return
  }
  const logger = { on: true, warned: false }
  nativeSetLogger(callback, level, function deliver(record) {
    if (!logger.on) return
    try {
      callback(record)
    } catch (error) {
      if (logger.warned) return
      logger.warned = true
      try {
        process.emitWarning(
          `the logger given to setLogger threw (this record is lost, later ones are delivered; reported once): ${error}`,
          { type: 'RunbeamWarning', code: 'RUNBEAM_LOGGER_ERROR' },
        )
      } catch {
        // A throwing 'warning' listener or a broken error's toString: nothing more to do.
      }
    }
  })
  if (activeLogger !== null) activeLogger.on = false
  activeLogger = logger
}

// Live configuration (src/watch.rs). The native watcher queues each event on a threadsafe
// function calling `deliver` below, a wrapper of the user's callback: events queued before
// `stop()` are dropped, and an exception the callback throws is caught (napi-rs would turn it
// into an uncaught exception) and reported as a process warning; the watcher goes on. A watcher
// is kept reachable from its resolver until `stop()`, so that dropping the returned object does
// not stop it at the next garbage collection.
const Watcher = native.Watcher
const nativeWatch = take(Resolver, '__watch')
const nativeStop = Watcher.prototype.stop
const watcherState = new WeakMap()
const watchersOf = new WeakMap()
Object.defineProperties(Resolver.prototype, {
  watch: method(function watch(callback) {
    const state = { on: true, resolver: this }
    const watcher = nativeWatch.call(this, callback, function deliver(event) {
      if (!state.on) return
      try {
        callback(event)
      } catch (error) {
        try {
          process.emitWarning(`the callback given to resolver.watch threw (the watcher goes on): ${error}`, {
            type: 'RunbeamWarning',
            code: 'RUNBEAM_WATCH_CALLBACK_ERROR',
          })
        } catch {
          // A throwing 'warning' listener or a broken error's toString: nothing more to do.
        }
      }
    })
    watcherState.set(watcher, state)
    let live = watchersOf.get(this)
    if (live === undefined) watchersOf.set(this, (live = new Set()))
    live.add(watcher)
    return watcher
  }),
})
Object.defineProperties(Watcher.prototype, {
  stop: method(function stop() {
    const state = watcherState.get(this)
    if (state !== undefined) {
      state.on = false
      watchersOf.get(state.resolver)?.delete(this)
    }
    return nativeStop.call(this)
  }),
  [INSPECT]: {
    configurable: true,
    value: function inspect(depth, options, inspect) {
      return `Watcher ${inspect({ providers: this.providers, isStopped: this.isStopped }, options)}`
    },
  },
})

module.exports = {
  Reference,
  Client,
  MeshConfig: native.MeshConfig,
  Validator,
  parseBearer: native.parseBearer,
  errorCodes: native.errorCodes,
  version: native.version,
  openTokenStore: native.openTokenStore,
  FileTokenStore: native.FileTokenStore,
  KeyringTokenStore: native.KeyringTokenStore,
  MemoryTokenStore: native.MemoryTokenStore,
  MachineToken: native.MachineToken,
  UserToken: native.UserToken,
  TokenManager: native.TokenManager,
  Resolver,
  IssuedMeshToken,
  AuthorizeResult: native.AuthorizeResult,
  MeshTokenResult: native.MeshTokenResult,
  Watcher,
  Outbound,
  refusalFor: native.refusalFor,
  joinPath: native.joinPath,
  setLogger,
  setLogLevel: native.setLogLevel,
  logLevel: native.logLevel,
  prometheusText: native.prometheusText,
  PROMETHEUS_CONTENT_TYPE: native.PROMETHEUS_CONTENT_TYPE,
}

// For middleware.js (internal, not part of the API): the one-call native steps, answering a
// remembered token at once and a new token's signature check off the JavaScript thread.
Object.defineProperty(module.exports, Symbol.for('@runbeam/sdk:steps'), {
  value: Object.freeze({ authenticate: authenticateAnswer, verifyMeshRequest: verifyMeshRequestAnswer }),
})
