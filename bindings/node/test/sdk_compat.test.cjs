'use strict'
// Existing installs keep their identity (docs/storage-compat.md): tokens written by the published
// runbeam-sdk 0.11 (tests/fixtures/storage/sdk-0.11) load as they are, and tokens in
// librunbeam 0.1's slots (tests/fixtures/storage/librunbeam-0.1) load and move to the new ones.

const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { FileTokenStore, TokenManager } = require('..')

delete process.env.RUNBEAM_ENCRYPTION_KEY
delete process.env.RUNBEAM_MACHINE_TOKEN

const FIXTURES = path.join(__dirname, '..', '..', '..', 'tests', 'fixtures', 'storage')

// Copies a fixture with the modes runbeam-sdk 0.11 leaves (git keeps none): directories 0755,
// the key 0600, token files 0644.
function install(name) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'runbeam-node-compat-'))
  fs.chmodSync(root, 0o755)
  const copy = (from, to) => {
    for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
      const source = path.join(from, entry.name)
      const target = path.join(to, entry.name)
      if (entry.isDirectory()) {
        fs.mkdirSync(target, { mode: 0o755 })
        fs.chmodSync(target, 0o755)
        copy(source, target)
      } else {
        fs.copyFileSync(source, target)
        fs.chmodSync(target, entry.name === 'encryption.key' ? 0o600 : 0o644)
      }
    }
  }
  copy(path.join(FIXTURES, name), root)
  return root
}

describe('tokens of existing installs', () => {
  it('loads the machine and user tokens runbeam-sdk 0.11 wrote', async () => {
    const root = install('sdk-0.11')
    try {
      const store = new FileTokenStore({ root })
      const token = await store.loadMachineToken('sdk-gw')
      assert.ok(token, 'the SDK token is found')
      assert.equal(token.expose(), 'mt_sdk011_fixture_token_0123456789')
      assert.equal(token.gatewayId, 'gw-sdk011')
      assert.deepEqual(token.abilities, ['harmony:send', 'harmony:receive'])
      assert.deepEqual(token.expiresAt, new Date('2099-12-31T23:59:59Z'))
      assert.ok(token.issuedAt instanceof Date)
      const user = await store.loadUserToken('sdk-gw')
      assert.equal(user.expose(), 'sdk011.user.jwt')
      assert.deepEqual(user.expiresAt, new Date('2099-12-31T23:59:59Z'))
      // A token manager of that instance uses the existing identity: no authorization needed.
      const manager = new TokenManager({ instanceId: 'sdk-gw', store, apiUrl: 'http://127.0.0.1:1' })
      assert.equal((await manager.ensureToken()).expose(), 'mt_sdk011_fixture_token_0123456789')
    } finally {
      fs.rmSync(root, { recursive: true, force: true })
    }
  })

  it("moves tokens from librunbeam 0.1's slots to the SDK's", async () => {
    const root = install('librunbeam-0.1')
    try {
      const dir = path.join(root, 'compat-gw', 'runbeam')
      const store = new FileTokenStore({ root })
      const token = await store.loadMachineToken('compat-gw')
      assert.equal(token.gatewayId, 'gw-compat')
      assert.ok(!fs.existsSync(path.join(dir, 'machine_token.json')), 'moved, not copied')
      assert.ok(fs.existsSync(path.join(dir, 'auth.json')))
      assert.equal(store.location('compat-gw', 'auth'), path.join(dir, 'auth.json'))
      const user = await store.loadUserToken('compat-gw')
      assert.equal(user.expose(), '1|compat-user-token')
      assert.ok(fs.existsSync(path.join(dir, 'user_auth.json')))
    } finally {
      fs.rmSync(root, { recursive: true, force: true })
    }
  })
})
