'use strict'
// Arguments are converted by napi before a method runs (src/arg.rs): a value of the wrong type,
// for a positional argument or a field of an option object, is RUNBEAM_INVALID_ARGUMENT (never
// one of napi's own errors) whose message says what was expected and what was given, and which
// field or item. Methods returning a Promise reject instead of throwing. Nothing here reaches a
// server: every call is refused before any request.

const assert = require('node:assert/strict')
const { describe, it } = require('node:test')

const {
  Client,
  FileTokenStore,
  MachineToken,
  MemoryTokenStore,
  MeshConfig,
  Resolver,
  TokenManager,
  UserToken,
  Validator,
  openTokenStore,
  parseBearer,
} = require('@runbeam/sdk')
const { throwsCode } = require('./helpers.cjs')

const URL = 'http://127.0.0.1:9'
const CONFIG_TOML = '[provider.runbeam]\napi = "http://127.0.0.1:9"\n'
const SECRET = 'c2VjcmV0LXZhbHVlLW5ldmVyLXNob3du'

/** Asserts that `fn` throws RUNBEAM_INVALID_ARGUMENT with a message matching `message`. */
function refused(fn, message) {
  const e = throwsCode(fn, 'RUNBEAM_INVALID_ARGUMENT', 'InvalidArgument')
  assert.match(e.message, message)
  return e
}

/** Asserts that `fn` returns a Promise (never throws) rejecting with RUNBEAM_INVALID_ARGUMENT. */
async function rejected(fn, message) {
  let outcome
  assert.doesNotThrow(() => {
    outcome = fn()
  })
  assert.ok(outcome instanceof Promise, `not a Promise: ${outcome}`)
  const e = await outcome.then(
    () => assert.fail('resolved'),
    (error) => error,
  )
  assert.ok(e instanceof Error, String(e))
  assert.equal(e.code, 'RUNBEAM_INVALID_ARGUMENT', e.message)
  assert.equal(e.kind, 'InvalidArgument')
  assert.match(e.message, message)
  return e
}

function store() {
  return new MemoryTokenStore()
}

function tokenFields(extra = {}) {
  return { machineToken: SECRET, expiresAt: new Date('2030-01-01T00:00:00Z'), gatewayId: 'gw', ...extra }
}

describe('positional arguments', () => {
  it('MeshConfig: the expected type, and which item of an array', () => {
    refused(() => MeshConfig.fromToml(5), /^expected a string, not a number$/)
    refused(() => MeshConfig.fromFiles(['a.toml', ['b.toml']]), /^item \[1\] must be a string, not an array$/)
    const config = MeshConfig.fromToml(CONFIG_TOML)
    refused(() => config.withProviderApi('runbeam', 8080), /^expected a string, not a number$/)
    refused(() => config.inMeshContext(true), /^expected a Reference or a string, not a boolean$/)
  })

  it('Client: the constructor and sync methods throw, Promise methods reject', async () => {
    refused(() => new Client(5), /^expected a string, not a number$/)
    refused(() => new Client(URL, 'fast'), /^expected an object \(ClientOptions\), not a string$/)
    const client = new Client(URL, { token: 'x' })
    refused(() => client.withToken({}), /^expected a string, not an object$/)
    await rejected(() => client.authorize('gw', 'meta'), /^expected an object \(AuthorizeOptions\), not a string$/)
    await rejected(() => client.authorize('gw', ['meta']), /^expected an object \(AuthorizeOptions\), not an array$/)
    await rejected(() => client.resolve(undefined), /^expected a Reference or a string, not undefined$/)
    await rejected(() => client.meshToken('mesh', null), /^expected a string, not null$/)
    await rejected(() => client.get(42, 'id'), /^expected one of gateways, services, .*, not a number$/)
    await rejected(() => client.get('widgets', 'id'), /^expected one of gateways, .*, not 'widgets'$/)
    await rejected(() => client.create('services', ['not', 'an', 'object']), /^expected an object, not an array$/)
    await rejected(() => client.changeFailed('id', 'e', () => 1), /^expected a JSON value, not a function$/)
    await rejected(() => client.acknowledgeChanges(['a', 7]), /^item \[1\] must be a string, not a number$/)
  })

  it('Validator and parseBearer', async () => {
    refused(() => new Validator(), /^expected an object \(ValidatorOptions\), not undefined$/)
    const validator = new Validator({ trustedIssuers: ['https://api.example.com/api'] })
    refused(() => validator.validateCached(42), /^expected a string, not a number$/)
    refused(() => validator.verifyMeshTokenCached('t', 5), /^expected a string, not a number$/)
    await rejected(() => validator.validate(null), /^expected a string, not null$/)
    await rejected(() => validator.verifyMeshToken('t', 'mesh', 7), /^expected a string, not a number$/)
    refused(() => parseBearer(Buffer.from('Bearer x')), /^expected a string, not an object$/)
  })

  it('token stores and tokens', async () => {
    const memory = store()
    refused(() => memory.location('gw', 1), /^expected a string, not a number$/)
    await rejected(() => memory.loadMachineToken(42), /^expected a string, not a number$/)
    await rejected(
      () => memory.saveMachineToken('gw', 'token'),
      /^expected a MachineToken or an object \(MachineTokenFields\), not a string$/,
    )
    await rejected(() => memory.saveUserToken('gw', new MachineToken(tokenFields())), /^UserTokenFields\.token must be a string, not undefined$/)
    await rejected(() => memory.delete('gw'), /^expected a string, not undefined$/)
    await rejected(() => openTokenStore('file'), /^expected an object \(OpenTokenStoreOptions\), not a string$/)
    refused(() => new MachineToken(tokenFields()).needsRenewal('soon'), /^expected a number of milliseconds of at least 0, not a string$/)
    refused(() => new MachineToken(tokenFields()).needsRenewal(-1), /^expected a number of milliseconds of at least 0, not -1$/)
  })

  it('Resolver', async () => {
    const config = MeshConfig.fromToml(CONFIG_TOML)
    const client = new Client(URL)
    const tokenManager = new TokenManager({ instanceId: 'gw', store: store(), client })
    const resolver = new Resolver({ config, client, tokenManager })
    refused(() => resolver.reload(CONFIG_TOML), /^expected a MeshConfig, not a string$/)
    refused(() => resolver.resolveCached(5), /^expected a Reference or a string, not a number$/)
    refused(() => resolver.invalidate({}), /^expected a Reference or a string, not an object$/)
    await rejected(() => resolver.resolve([]), /^expected a Reference or a string, not an array$/)
    await rejected(() => resolver.meshToken('mesh', 5), /^expected a string, not a number$/)
  })
})

describe('fields of option objects', () => {
  it('ClientOptions, PageOptions, ListAllOptions, UpdateConfigOptions', async () => {
    refused(() => new Client(URL, { token: 7 }), /^ClientOptions\.token must be a string, not a number$/)
    refused(() => new Client(URL, { deadlineMs: '5s' }), /^ClientOptions\.deadlineMs must be a number of milliseconds of at least 0, not a string$/)
    refused(() => new Client(URL, { connectTimeoutMs: -1 }), /^ClientOptions\.connectTimeoutMs must be a number of milliseconds of at least 0, not -1$/)
    refused(() => new Client(URL, { maxAttempts: 2.5 }), /^ClientOptions\.maxAttempts must be a whole number of at least 0, not 2\.5$/)
    refused(() => new Client(URL, { allowInsecureHttp: 'yes' }), /^ClientOptions\.allowInsecureHttp must be a boolean, not a string$/)
    const client = new Client(URL, { token: 'x' })
    await rejected(() => client.list('services', { perPage: 'ten' }), /^PageOptions\.perPage must be a whole number of at least 0, not a string$/)
    await rejected(() => client.list('services', 3), /^expected an object \(PageOptions\), not a number$/)
    await rejected(() => client.updateConfig('pipeline', '', { id: 5 }), /^UpdateConfigOptions\.id must be a string, not a number$/)
    await assert.rejects(client.listAll('services', { perPage: -1 }).next(), {
      code: 'RUNBEAM_INVALID_ARGUMENT',
      message: /^ListAllOptions\.perPage must be a whole number of at least 0, not -1$/,
    })
    await rejected(() => client.authorize('gw', { metadata: 'm' }), /^AuthorizeOptions\.metadata must be an array of strings, not a string$/)
    refused(() => new Client(URL, { maxBodyBytes: -1 }), /^ClientOptions\.maxBodyBytes must be a whole number of at least 0, not -1$/)
  })

  it('signal: an AbortSignal in every Promise-returning method, named in its options', async () => {
    const client = new Client(URL, { token: 'x' })
    const validator = new Validator({ trustedIssuers: ['https://api.example.com/api'] })
    const manager = new TokenManager({ instanceId: 'gw', store: store(), client })
    const notSignals = [
      [{}, 'an object'],
      ['abort', 'a string'],
      [new AbortController(), 'an object'],
      [{ aborted: false }, 'an object'],
    ]
    for (const [signal, given] of notSignals) {
      const calls = [
        [() => client.baseUrl({ signal }), 'CallOptions'],
        [() => client.changeFailed('id', 'e', null, { signal }), 'CallOptions'],
        [() => client.authorize('gw', { signal }), 'AuthorizeOptions'],
        [() => client.list('services', { signal }), 'PageOptions'],
        [() => client.updateConfig('pipeline', '', { signal }), 'UpdateConfigOptions'],
        [() => validator.validate('t', { signal }), 'CallOptions'],
        [() => validator.refreshKeys({ signal }), 'CallOptions'],
        [() => manager.current({ signal }), 'CallOptions'],
        [() => store().loadMachineToken('gw', { signal }), 'CallOptions'],
        [() => openTokenStore({ signal }), 'OpenTokenStoreOptions'],
      ]
      for (const [call, options] of calls) {
        await rejected(call, new RegExp(`^${options}\\.signal must be an AbortSignal, not ${given}$`))
      }
    }
    await assert.rejects(client.listAll('services', { signal: 'x' }).next(), {
      code: 'RUNBEAM_INVALID_ARGUMENT',
      message: /^ListAllOptions\.signal must be an AbortSignal, not a string$/,
    })
  })

  it('ValidatorOptions: arrays name the item', () => {
    refused(() => new Validator({ trustedIssuers: 'https://x.example' }), /^ValidatorOptions\.trustedIssuers must be an array of strings, not a string$/)
    refused(() => new Validator({ trustedIssuers: ['https://x.example', 5] }), /^ValidatorOptions\.trustedIssuers\[1\] must be a string, not a number$/)
    refused(() => new Validator({ jwksUrl: 'https://x.example/jwks.json', leewayMs: Number.NaN }), /^ValidatorOptions\.leewayMs must be a number of milliseconds of at least 0, not NaN$/)
    refused(() => new Validator({ jwksUrl: 'https://x.example/jwks.json', cacheCapacity: -1 }), /^ValidatorOptions\.cacheCapacity must be a whole number of at least 0, not -1$/)
  })

  it('MachineTokenFields and UserTokenFields, also inside saveMachineToken', async () => {
    refused(() => new MachineToken({}), /^MachineTokenFields\.machineToken must be a string, not undefined$/)
    refused(() => new MachineToken(tokenFields({ expiresAt: 1893456000 })), /^MachineTokenFields\.expiresAt must be a Date or a string, not a number$/)
    refused(() => new MachineToken(tokenFields({ gatewayId: true })), /^MachineTokenFields\.gatewayId must be a string or a number, not a boolean$/)
    refused(() => new MachineToken(tokenFields({ abilities: ['resolve', null] })), /^MachineTokenFields\.abilities\[1\] must be a string, not null$/)
    refused(() => new MachineToken(tokenFields({ issuedAt: new Date('not a date') })), /^MachineTokenFields\.issuedAt must be a valid Date, not an invalid Date$/)
    refused(() => new UserToken({ token: 'x', user: 'alice' }), /^UserTokenFields\.user must be an object, not a string$/)
    await rejected(() => store().saveMachineToken('gw', { machineToken: SECRET }), /^MachineTokenFields\.expiresAt must be a Date or a string, not undefined$/)
  })

  it('FileTokenStoreOptions and OpenTokenStoreOptions', async () => {
    refused(() => new FileTokenStore({ root: 5 }), /^FileTokenStoreOptions\.root must be a string, not a number$/)
    await rejected(() => openTokenStore({ choice: 1 }), /^OpenTokenStoreOptions\.choice must be a string, not a number$/)
  })

  it('TokenManagerOptions: required fields, classes and functions', () => {
    const base = { instanceId: 'gw', store: store(), apiUrl: URL }
    refused(() => new TokenManager({ store: store(), apiUrl: URL }), /^TokenManagerOptions\.instanceId must be a string, not undefined$/)
    refused(
      () => new TokenManager({ instanceId: 'gw', apiUrl: URL }),
      /^TokenManagerOptions\.store must be a FileTokenStore, a KeyringTokenStore or a MemoryTokenStore, not undefined$/,
    )
    refused(() => new TokenManager({ ...base, client: {} }), /^TokenManagerOptions\.client must be a Client, not an object$/)
    refused(() => new TokenManager({ ...base, credential: 5 }), /^TokenManagerOptions\.credential must be a string or a function, not a number$/)
    refused(() => new TokenManager({ ...base, onRenewalWindow: 'log' }), /^TokenManagerOptions\.onRenewalWindow must be a function, not a string$/)
    refused(() => new TokenManager({ ...base, renewalWindowMs: '7d' }), /^TokenManagerOptions\.renewalWindowMs must be a number of milliseconds of at least 0, not a string$/)
  })

  it('ResolverOptions: a missing or wrong class names the field', () => {
    const config = MeshConfig.fromToml(CONFIG_TOML)
    const client = new Client(URL)
    const tokenManager = new TokenManager({ instanceId: 'gw', store: store(), client })
    refused(() => new Resolver({}), /^ResolverOptions\.config must be a MeshConfig, not undefined$/)
    refused(() => new Resolver({ config, client: URL, tokenManager }), /^ResolverOptions\.client must be a Client, not a string$/)
    refused(() => new Resolver({ config, client, tokenManager: {} }), /^ResolverOptions\.tokenManager must be a TokenManager, not an object$/)
    refused(() => new Resolver({ config, client, tokenManager, meshTokenCapacity: 1.5 }), /^ResolverOptions\.meshTokenCapacity must be a whole number of at least 0, not 1\.5$/)
    refused(() => new Resolver({ config, client, tokenManager, validator: {} }), /^ResolverOptions\.validator must be a Validator, not an object$/)
  })
})

describe('conversion errors', () => {
  it('are never napi errors, and never quote a string that was given', async () => {
    const calls = [
      () => new Client(URL, { deadlineMs: SECRET }),
      () => new Client(SECRET, { token: [SECRET] }),
      () => new TokenManager({ instanceId: 'gw', store: store(), apiUrl: URL, credential: { SECRET } }),
      () => new MachineToken({ machineToken: [SECRET], expiresAt: SECRET, gatewayId: 'gw' }),
      () => new Validator({ trustedIssuers: [SECRET, 1] }),
    ]
    for (const call of calls) {
      const e = throwsCode(call, 'RUNBEAM_INVALID_ARGUMENT', 'InvalidArgument')
      assert.ok(!e.message.includes(SECRET), e.message)
      assert.ok(!('cause' in e) || !String(e.cause).includes(SECRET))
    }
    const e = await rejected(() => store().saveMachineToken('gw', { machineToken: SECRET, expiresAt: 5, gatewayId: 'g' }), /expiresAt/)
    assert.ok(!e.message.includes(SECRET), e.message)
  })
})
