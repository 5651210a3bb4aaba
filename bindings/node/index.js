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

// `Client.listAll`: every resource of a collection, page after page, as an async iterable
// (conversion over the native `list`; declared in index.d.ts from dts-header.d.ts).
const Client = native.Client
// The native methods check their arguments before starting the call and throw; a method that
// returns a Promise should reject instead, so the throw becomes a rejection here.
// Every method but `withToken` (and the `apiRoot` getter) returns a Promise.
for (const name of Object.getOwnPropertyNames(Client.prototype)) {
  const call = Object.getOwnPropertyDescriptor(Client.prototype, name).value
  if (typeof call !== 'function' || name === 'constructor' || name === 'withToken') continue
  Object.defineProperty(Client.prototype, name, {
    configurable: true,
    writable: true,
    value: {
      [name](...args) {
        try {
          return call.apply(this, args)
        } catch (error) {
          return Promise.reject(error)
        }
      },
    }[name],
  })
}
Object.defineProperty(Client.prototype, 'listAll', {
  configurable: true,
  writable: true,
  value: async function* listAll(collection, options = {}) {
    const perPage = options?.perPage ?? 100
    for (let page = 1; ; page++) {
      const got = await this.list(collection, { page, perPage })
      yield* got.data
      if (got.data.length === 0 || got.currentPage >= got.lastPage) return
    }
  },
})

module.exports = {
  Reference,
  Client,
  MeshConfig: native.MeshConfig,
  errorCodes: native.errorCodes,
  version: native.version,
}
