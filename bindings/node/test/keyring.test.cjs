'use strict'
// The OS keyring token store from Node (docs/spec.md §5.2) against a real Secret Service
// (gnome-keyring-daemon). Skipped unless RUNBEAM_TEST_SECRET_SERVICE=1, which
// scripts/with-keyring.sh sets: `make keyring-test` runs this file as
//   dbus-run-session -- bash scripts/with-keyring.sh node --test test/keyring.test.cjs
// (like the Python keyring test, selected there with `pytest -k keyring`).

const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { inspect } = require('node:util')

const { KeyringTokenStore, MachineToken, UserToken, openTokenStore } = require('..')

const SKIP =
  process.env.RUNBEAM_TEST_SECRET_SERVICE === '1'
    ? false
    : 'needs a Secret Service: dbus-run-session -- bash scripts/with-keyring.sh node --test test/keyring.test.cjs'
const SECRET = 'mt_keyring-node-never-shown-9b2e'
const USER_SECRET = '1|keyring-node-user-3c7d'

describe('KeyringTokenStore against a Secret Service', { skip: SKIP }, () => {
  it('saves, loads and deletes a machine token in the keyring it reports', async () => {
    delete process.env.RUNBEAM_TOKEN_STORE
    delete process.env.RUNBEAM_MACHINE_TOKEN
    const store = await openTokenStore({ choice: 'keyring' })
    assert.ok(store instanceof KeyringTokenStore, inspect(store))
    assert.equal(store.backend, 'keyring')
    const instance = `node-kr-${process.pid}`
    assert.equal(store.location(instance, 'auth'), `keyring runbeam/${instance}/auth`)
    assert.equal(await store.loadMachineToken(instance), null)

    const token = new MachineToken({
      machineToken: SECRET,
      expiresAt: new Date('2031-02-03T04:05:06Z'),
      gatewayId: 'gw-node-kr',
      abilities: ['resolve'],
    })
    let deleted
    try {
      await store.saveMachineToken(instance, token)
      const loaded = await store.loadMachineToken(instance)
      assert.equal(loaded.machineToken, SECRET)
      assert.equal(loaded.gatewayId, 'gw-node-kr')
      assert.deepEqual(loaded.abilities, ['resolve'])
      assert.equal(loaded.expiresAt.toISOString(), '2031-02-03T04:05:06.000Z')
      assert.ok(!inspect(loaded, { depth: 5, showHidden: true }).includes(SECRET))

      // Replaced in place; a user token is a separate slot of the same instance.
      await store.saveMachineToken(instance, { ...fieldsOf(token), machineToken: `${SECRET}-2` })
      await store.saveUserToken(instance, new UserToken({ token: USER_SECRET }))
      assert.equal((await store.loadMachineToken(instance)).machineToken, `${SECRET}-2`)
      assert.equal((await store.loadUserToken(instance)).token, USER_SECRET)

      // Another store object sees the same entry; auto selects the working keyring.
      const auto = await openTokenStore({ choice: 'auto' })
      assert.equal(auto.backend, 'keyring')
      assert.equal((await auto.loadMachineToken(instance)).machineToken, `${SECRET}-2`)
    } finally {
      await store.delete(instance, 'user_auth')
      deleted = await store.delete(instance, 'auth')
    }
    assert.equal(deleted, true)
    assert.equal(await store.delete(instance, 'auth'), false)
    assert.equal(await store.loadMachineToken(instance), null)
    assert.equal(await store.loadUserToken(instance), null)
  })

  it("keeps two instances' slots apart: each loads its own token, deleting one leaves the other", async () => {
    delete process.env.RUNBEAM_TOKEN_STORE
    delete process.env.RUNBEAM_MACHINE_TOKEN
    const store = await openTokenStore({ choice: 'keyring' })
    const [first, second] = [`node-kr-a-${process.pid}`, `node-kr-b-${process.pid}`]
    assert.notEqual(store.location(first, 'auth'), store.location(second, 'auth'))
    const token = (instance) =>
      new MachineToken({
        machineToken: `${SECRET}-${instance}`,
        expiresAt: new Date('2031-02-03T04:05:06Z'),
        gatewayId: `gw-${instance}`,
      })
    try {
      await store.saveMachineToken(first, token(first))
      await store.saveMachineToken(second, token(second))
      await store.saveUserToken(first, new UserToken({ token: `${USER_SECRET}-${first}` }))
      for (const instance of [first, second]) {
        const loaded = await store.loadMachineToken(instance)
        assert.equal(loaded.machineToken, `${SECRET}-${instance}`)
        assert.equal(loaded.gatewayId, `gw-${instance}`)
      }
      assert.equal((await store.loadUserToken(first)).token, `${USER_SECRET}-${first}`)
      assert.equal(await store.loadUserToken(second), null, "the other instance's user token is not shared")

      // Deleting one instance's slots leaves the other's.
      assert.equal(await store.delete(first, 'auth'), true)
      assert.equal(await store.delete(first, 'user_auth'), true)
      assert.equal(await store.loadMachineToken(first), null)
      assert.equal(await store.loadUserToken(first), null)
      assert.equal((await store.loadMachineToken(second)).machineToken, `${SECRET}-${second}`)
    } finally {
      for (const instance of [first, second]) {
        await store.delete(instance, 'auth')
        await store.delete(instance, 'user_auth')
      }
    }
    assert.equal(await store.loadMachineToken(second), null)
  })
})

function fieldsOf(token) {
  return {
    machineToken: token.machineToken,
    expiresAt: token.expiresAt,
    gatewayId: token.gatewayId,
    abilities: token.abilities,
  }
}
