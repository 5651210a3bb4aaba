'use strict'
// Token storage (docs/spec.md §5): the file store on disk, redaction of tokens, and the token manager
// against a runbeam-devcloud subprocess.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { inspect } = require('node:util')

const {
  Client,
  FileTokenStore,
  MemoryTokenStore,
  MachineToken,
  UserToken,
  TokenManager,
  openTokenStore,
} = require('..')
const { startDevcloud, ALICE_SANCTUM, RADIOLOGY_GW } = require('./devcloud.cjs')
const { throwsCode } = require('./helpers.cjs')

const AUTHORIZE = 'POST /api/harmony/authorize'
const SECRET = 'mt_s3cr3t-never-shown-4f1c'

delete process.env.RUNBEAM_ENCRYPTION_KEY
delete process.env.RUNBEAM_MACHINE_TOKEN
delete process.env.RUNBEAM_TOKEN_STORE

function tmpRoot() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'runbeam-node-store-'))
}

const mode = (p) => fs.statSync(p).mode & 0o777

function fields(extra = {}) {
  return {
    machineToken: SECRET,
    expiresAt: new Date('2031-02-03T04:05:06Z'),
    gatewayId: 'gw-42',
    abilities: ['resolve', 'mesh'],
    issuedAt: '2026-01-01 00:00:00',
    ...extra,
  }
}

async function rejectsCode(promise, code) {
  const error = await promise.then(
    () => assert.fail(`expected ${code}`),
    (e) => e,
  )
  assert.ok(error instanceof Error, `not an Error: ${error}`)
  assert.equal(error.code, code, error.message)
  return error
}

function assertHidden(value, secret = SECRET) {
  const shown = [inspect(value, { depth: 10, showHidden: true, getters: true }), JSON.stringify(value), `${value}`]
  for (const text of shown) assert.ok(!text.includes(secret), `secret shown in: ${text}`)
}

describe('MachineToken and UserToken', () => {
  it('converts fields and answers the core questions', () => {
    const t = new MachineToken(fields())
    assert.equal(t.machineToken, SECRET)
    assert.equal(t.expose(), SECRET)
    assert.ok(t.expiresAt instanceof Date)
    assert.equal(t.expiresAt.toISOString(), '2031-02-03T04:05:06.000Z')
    assert.equal(t.issuedAt.toISOString(), '2026-01-01T00:00:00.000Z')
    assert.equal(t.gatewayId, 'gw-42')
    assert.deepEqual(t.abilities, ['resolve', 'mesh'])
    assert.equal(t.isExpired(), false)
    assert.ok(t.expiresInMs > 0)
    assert.equal(t.needsRenewal(), false)
    assert.equal(t.needsRenewal(t.expiresInMs + 3600000), true)
    const expired = new MachineToken(fields({ expiresAt: '2001-01-01T00:00:00Z', gatewayId: 7 }))
    assert.equal(expired.isExpired(), true)
    assert.equal(expired.expiresInMs, 0)
    assert.equal(expired.gatewayId, '7')
    assert.equal(expired.issuedAt.getUTCFullYear(), 2026)
    assert.equal(new MachineToken(fields({ issuedAt: undefined })).issuedAt, null)
  })

  it('rejects tokens of the wrong shape, without quoting the token', () => {
    for (const bad of [
      fields({ machineToken: '' }),
      fields({ machineToken: undefined }),
      fields({ expiresAt: 'tomorrow' }),
      fields({ gatewayId: undefined }),
      fields({ abilities: 'resolve' }),
    ]) {
      const e = throwsCode(() => new MachineToken(bad), 'RUNBEAM_INVALID_ARGUMENT')
      assertHidden(e)
    }
    throwsCode(() => new MachineToken('x'), 'RUNBEAM_INVALID_ARGUMENT')
    for (const bad of [-1, Number.NaN, Infinity, '60']) {
      throwsCode(() => new MachineToken(fields()).needsRenewal(bad), 'RUNBEAM_INVALID_ARGUMENT')
    }
  })

  it('never shows the token in inspect, JSON or string forms', () => {
    const t = new MachineToken(fields())
    assertHidden(t)
    assertHidden({ nested: [t] })
    assert.ok(!Object.keys(t).includes('machineToken'))
    const json = JSON.parse(JSON.stringify(t))
    assert.equal(json.machineToken, '***')
    assert.equal(json.gatewayId, 'gw-42')
    assert.equal(json.expiresAt, '2031-02-03T04:05:06Z')
    assert.match(inspect(t), /^MachineToken \{/)
    const u = new UserToken({ token: SECRET, user: { id: 1, email: 'a@example.com' } })
    assert.equal(u.token, SECRET)
    assert.equal(u.expose(), SECRET)
    assert.equal(u.expiresAt, null)
    assert.equal(u.isExpired(), false)
    assert.deepEqual(u.user, { id: 1, email: 'a@example.com' })
    assertHidden(u)
    assert.equal(JSON.parse(JSON.stringify(u)).token, '***')
  })
})

describe('FileTokenStore', () => {
  it('round-trips tokens with private modes', async () => {
    const root = tmpRoot()
    const store = new FileTokenStore({ root })
    assert.equal(store.backend, 'file')
    assert.equal(await store.loadMachineToken('gw-1'), null)
    await store.saveMachineToken('gw-1', new MachineToken(fields()))
    const tokenFile = path.join(root, 'gw-1', 'runbeam', 'auth.json')
    assert.equal(store.location('gw-1', 'auth'), tokenFile)
    assert.equal(mode(path.join(root, 'gw-1')), 0o700)
    assert.equal(mode(path.join(root, 'gw-1', 'runbeam')), 0o700)
    assert.equal(mode(tokenFile), 0o600)
    assert.equal(mode(path.join(root, 'gw-1', 'encryption.key')), 0o600)
    // Encrypted on disk.
    assert.ok(!fs.readFileSync(tokenFile).includes(SECRET))
    // A second store object on the same root reads it back.
    const loaded = await new FileTokenStore({ root }).loadMachineToken('gw-1')
    assert.ok(loaded instanceof MachineToken)
    assert.equal(loaded.expose(), SECRET)
    assert.equal(loaded.gatewayId, 'gw-42')
    assert.deepEqual(loaded.abilities, ['resolve', 'mesh'])
    assert.equal(loaded.expiresAt.toISOString(), '2031-02-03T04:05:06.000Z')
    // Plain fields are accepted too, and replace the token.
    await store.saveMachineToken('gw-1', fields({ machineToken: 'mt_other' }))
    assert.equal((await store.loadMachineToken('gw-1')).expose(), 'mt_other')
    // User tokens have their own slot.
    await store.saveUserToken('gw-1', { token: '1|user', expiresAt: '2030-01-01T00:00:00Z' })
    const user = await store.loadUserToken('gw-1')
    assert.equal(user.expose(), '1|user')
    assert.equal(user.expiresAt.toISOString(), '2030-01-01T00:00:00.000Z')
    assert.equal(mode(path.join(root, 'gw-1', 'runbeam', 'user_auth.json')), 0o600)
    assert.equal(await store.delete('gw-1', 'user_auth'), true)
    assert.equal(await store.delete('gw-1', 'user_auth'), false)
    assert.equal(await store.loadUserToken('gw-1'), null)
    assert.equal((await store.loadMachineToken('gw-1')).expose(), 'mt_other')
    fs.rmSync(root, { recursive: true, force: true })
  })

  it('uses a given key instead of key files, and refuses a bad one', async () => {
    const root = tmpRoot()
    const writer = new FileTokenStore({ root })
    await writer.saveMachineToken('gw-k', fields())
    const keyFile = path.join(root, 'gw-k', 'encryption.key')
    const key = fs.readFileSync(keyFile, 'utf8').trim()
    fs.renameSync(keyFile, `${keyFile}.moved`)
    const withKey = new FileTokenStore({ root, key })
    assert.equal((await withKey.loadMachineToken('gw-k')).expose(), SECRET)
    throwsCode(() => new FileTokenStore({ root, key: 'not-a-key' }), 'RUNBEAM_INVALID_ARGUMENT')
    throwsCode(() => new FileTokenStore('root'), 'RUNBEAM_INVALID_ARGUMENT')
    fs.rmSync(root, { recursive: true, force: true })
  })

  it('rejects ids that would escape the root', async () => {
    const root = tmpRoot()
    const store = new FileTokenStore({ root })
    for (const bad of ['..', '.', '../escape', 'a/b', '', 'x'.repeat(129), 'gw 1']) {
      const e = await rejectsCode(store.saveMachineToken(bad, fields()), 'RUNBEAM_INVALID_ARGUMENT')
      assert.match(e.message, /instance id/)
      await rejectsCode(store.loadMachineToken(bad), 'RUNBEAM_INVALID_ARGUMENT')
      throwsCode(() => store.location(bad, 'auth'), 'RUNBEAM_INVALID_ARGUMENT')
    }
    await rejectsCode(store.delete('gw-1', '../auth'), 'RUNBEAM_INVALID_ARGUMENT')
    await rejectsCode(store.loadMachineToken(42), 'RUNBEAM_INVALID_ARGUMENT')
    assert.deepEqual(fs.readdirSync(root), [], 'nothing was written')
    assert.ok(!fs.existsSync(path.join(path.dirname(root), 'escape')))
    fs.rmSync(root, { recursive: true, force: true })
  })

  it('reports a corrupted file as RUNBEAM_STORAGE_CORRUPT naming it, and keeps it', async () => {
    const root = tmpRoot()
    const store = new FileTokenStore({ root })
    await store.saveMachineToken('gw-c', fields())
    const tokenFile = store.location('gw-c', 'auth')
    const garbage = Buffer.from('this is not age ciphertext\n')
    fs.writeFileSync(tokenFile, garbage)
    const e = await rejectsCode(store.loadMachineToken('gw-c'), 'RUNBEAM_STORAGE_CORRUPT')
    assert.equal(e.kind, 'StorageCorrupt')
    assert.ok(e.message.includes(tokenFile), e.message)
    assert.deepEqual(fs.readFileSync(tokenFile), garbage, 'the bad file is kept as it was')
    // Valid ciphertext of something that is not a token (saved as a user token, read as a
    // machine token through the same file): also corrupt, and the token is not quoted.
    await store.saveUserToken('gw-c', { token: SECRET })
    fs.copyFileSync(store.location('gw-c', 'user_auth'), tokenFile)
    const shape = await rejectsCode(store.loadMachineToken('gw-c'), 'RUNBEAM_STORAGE_CORRUPT')
    assert.ok(shape.message.includes(tokenFile), shape.message)
    assertHidden(shape)
    fs.rmSync(root, { recursive: true, force: true })
  })
})

describe('MemoryTokenStore and openTokenStore', () => {
  it('keeps tokens in memory', async () => {
    const store = new MemoryTokenStore()
    assert.equal(store.backend, 'memory')
    assert.equal(store.location('gw', 'auth'), 'memory:gw/auth')
    await store.saveMachineToken('gw', fields())
    assert.equal((await store.loadMachineToken('gw')).expose(), SECRET)
    assert.equal(await new MemoryTokenStore().loadMachineToken('gw'), null)
    assertHidden(store)
  })

  it('opens the file store when asked, and refuses unknown choices', async () => {
    const root = tmpRoot()
    process.env.RUNBEAM_HOME = root
    try {
      const store = await openTokenStore({ choice: 'file' })
      assert.ok(store instanceof FileTokenStore)
      assert.equal(store.backend, 'file')
      assert.equal(store.location('gw', 'auth'), path.join(root, 'gw', 'runbeam', 'auth.json'))
      process.env.RUNBEAM_TOKEN_STORE = 'file'
      assert.equal((await openTokenStore()).backend, 'file')
      process.env.RUNBEAM_TOKEN_STORE = 'floppy'
      await rejectsCode(openTokenStore(), 'RUNBEAM_INVALID_ARGUMENT')
      delete process.env.RUNBEAM_TOKEN_STORE
      await rejectsCode(openTokenStore({ choice: 'floppy' }), 'RUNBEAM_INVALID_ARGUMENT')
      // Auto probes the keyring and falls back to the file store: either is a valid answer.
      assert.ok(['keyring', 'file'].includes((await openTokenStore()).backend))
    } finally {
      delete process.env.RUNBEAM_HOME
      delete process.env.RUNBEAM_TOKEN_STORE
      fs.rmSync(root, { recursive: true, force: true })
    }
  })
})

describe('TokenManager against runbeam-devcloud', () => {
  let cloud

  before(async () => {
    cloud = await startDevcloud()
  })

  after(async () => {
    await cloud?.stop()
  })

  it('checks its options', () => {
    const store = new MemoryTokenStore()
    throwsCode(() => new TokenManager(), 'RUNBEAM_INVALID_ARGUMENT')
    throwsCode(() => new TokenManager({ store, apiUrl: cloud.url }), 'RUNBEAM_INVALID_ARGUMENT')
    throwsCode(() => new TokenManager({ instanceId: '../gw', store, apiUrl: cloud.url }), 'RUNBEAM_INVALID_ARGUMENT')
    throwsCode(() => new TokenManager({ instanceId: 'gw', store: {}, apiUrl: cloud.url }), 'RUNBEAM_INVALID_ARGUMENT')
    throwsCode(() => new TokenManager({ instanceId: 'gw', store }), 'RUNBEAM_INVALID_ARGUMENT')
    throwsCode(() => new TokenManager({ instanceId: 'gw', store, client: {} }), 'RUNBEAM_INVALID_ARGUMENT')
    throwsCode(() => new TokenManager({ instanceId: 'gw', store, apiUrl: cloud.url, credential: 5 }), 'RUNBEAM_INVALID_ARGUMENT')
    throwsCode(
      () => new TokenManager({ instanceId: 'gw', store, apiUrl: cloud.url, renewalWindowMs: -1 }),
      'RUNBEAM_INVALID_ARGUMENT',
    )
    const m = new TokenManager({ instanceId: 'gw', store, apiUrl: cloud.url, credential: ALICE_SANCTUM })
    assertHidden(m, ALICE_SANCTUM)
  })

  it('authorizes once on first use, then loads the saved token', async () => {
    const root = tmpRoot()
    const store = new FileTokenStore({ root })
    const manager = new TokenManager({
      instanceId: RADIOLOGY_GW,
      store,
      client: new Client(cloud.url),
      credential: ALICE_SANCTUM,
    })
    assert.equal(await manager.current(), null)
    await cloud.resetCounts()
    const token = await manager.ensureToken()
    assert.ok(token instanceof MachineToken)
    assert.equal(await cloud.count(AUTHORIZE), 1)
    assert.equal(token.isExpired(), false)
    const again = await manager.ensureToken()
    assert.equal(again.expose(), token.expose())
    assert.equal(await cloud.count(AUTHORIZE), 1, 'the stored token is reused')
    assert.equal((await manager.current()).expose(), token.expose())
    assert.equal((await store.loadMachineToken(RADIOLOGY_GW)).expose(), token.expose())
    // It works against the API, and a manager without credential on the same store finds it.
    await new Client(cloud.url, { token: token.expose() }).baseUrl()
    const reader = new TokenManager({ instanceId: RADIOLOGY_GW, store, apiUrl: cloud.url })
    assert.equal((await reader.ensureToken()).expose(), token.expose())
    assert.equal(await cloud.count(AUTHORIZE), 1)
    fs.rmSync(root, { recursive: true, force: true })
  })

  it('rejects with RUNBEAM_NO_TOKEN without a credential', async () => {
    const manager = new TokenManager({ instanceId: 'gw-without', store: new MemoryTokenStore(), apiUrl: cloud.url })
    const e = await rejectsCode(manager.ensureToken(), 'RUNBEAM_NO_TOKEN')
    assert.equal(e.kind, 'NoToken')
    assert.match(e.message, /gw-without/)
    await rejectsCode(manager.revoke(), 'RUNBEAM_NO_TOKEN')
  })

  it('calls a function credential, sync or async, only when needed', async () => {
    for (const make of [(calls) => () => (calls.n++, ALICE_SANCTUM), (calls) => async () => (calls.n++, ALICE_SANCTUM)]) {
      const calls = { n: 0 }
      const manager = new TokenManager({
        instanceId: RADIOLOGY_GW,
        store: new MemoryTokenStore(),
        apiUrl: cloud.url,
        credential: make(calls),
      })
      await cloud.resetCounts()
      const token = await manager.ensureToken()
      assert.equal(calls.n, 1)
      assert.equal(await cloud.count(AUTHORIZE), 1)
      assert.equal((await manager.ensureToken()).expose(), token.expose())
      assert.equal(calls.n, 1, 'not called while the token is valid')
    }
  })

  it('turns a failing credential function into an error with its message', async () => {
    const cases = [
      [() => { throw new Error('vault is sealed (sync)') }, 'RUNBEAM_NO_TOKEN', /vault is sealed \(sync\)/],
      [async () => { throw new Error('vault is sealed (async)') }, 'RUNBEAM_NO_TOKEN', /vault is sealed \(async\)/],
      [() => 42, 'RUNBEAM_INVALID_ARGUMENT', /string or a Promise/],
      [() => '', 'RUNBEAM_NO_TOKEN', /empty/],
    ]
    for (const [credential, code, message] of cases) {
      const manager = new TokenManager({ instanceId: 'gw-failing', store: new MemoryTokenStore(), apiUrl: cloud.url, credential })
      await cloud.resetCounts()
      const e = await rejectsCode(manager.ensureToken(), code)
      assert.match(e.message, message)
      assert.equal(await cloud.count(AUTHORIZE), 0)
    }
  })

  it('revoke makes the old token fail with 401 and clears the store', async () => {
    const store = new MemoryTokenStore()
    const manager = new TokenManager({ instanceId: RADIOLOGY_GW, store, apiUrl: cloud.url, credential: ALICE_SANCTUM })
    const token = await manager.ensureToken()
    const gateway = new Client(cloud.url, { token: token.expose() })
    await gateway.baseUrl()
    await manager.revoke()
    assert.equal(await manager.current(), null)
    assert.equal(await store.loadMachineToken(RADIOLOGY_GW), null)
    const e = await rejectsCode(gateway.baseUrl(), 'RUNBEAM_UNAUTHORIZED')
    assert.equal(e.status, 401)
    assertHidden(e, token.expose())
  })
})

describe('TokenManager renewal against runbeam-devcloud', () => {
  let cloud

  before(async () => {
    cloud = await startDevcloud()
    await cloud.machineTokenLifetime(4)
  })

  after(async () => {
    await cloud?.stop()
  })

  it('renews inside the window exactly once for 20 concurrent callers', async () => {
    const announced = []
    let announce
    const firstAnnounce = new Promise((resolve) => (announce = resolve))
    const manager = new TokenManager({
      instanceId: RADIOLOGY_GW,
      store: new MemoryTokenStore(),
      client: new Client(cloud.url),
      credential: ALICE_SANCTUM,
      renewalWindowMs: 2000,
      onRenewalWindow: (token) => {
        announced.push(token)
        announce()
      },
    })
    const first = await manager.ensureToken()
    // Wait (no timing assertion) until the token is inside the window.
    while (!first.needsRenewal(2000)) await new Promise((r) => setTimeout(r, 100))
    await cloud.resetCounts()
    const tokens = await Promise.all(Array.from({ length: 20 }, () => manager.ensureToken()))
    assert.equal(await cloud.count(AUTHORIZE), 1, 'exactly one renewal')
    const renewed = tokens[0].expose()
    assert.notEqual(renewed, first.expose())
    for (const t of tokens) assert.equal(t.expose(), renewed)
    assert.equal((await manager.current()).expose(), renewed)
    await firstAnnounce
    assert.ok(announced[0] instanceof MachineToken)
    assert.equal(announced[0].expose(), first.expose())
    assertHidden(announced[0], first.expose())
  })
})
