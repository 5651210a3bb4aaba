'use strict'
// The change feed (changes, change, acknowledgeChanges, changeApplied, changeFailed) and
// updateConfig against a runbeam-devcloud subprocess (the Node side of change_feed and
// update_pushes_configuration in tests/e2e/tests/client_api.rs).

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { inspect } = require('node:util')

const { Client } = require('..')
const { startDevcloud, ALICE_SANCTUM, RADIOLOGY_GW, RADIOLOGY_GW_ID } = require('./devcloud.cjs')

describe('Client change feed and update against runbeam-devcloud', () => {
  let cloud
  /** Alice's user client (edits resources, which queues changes for their gateway). */
  let alice
  /** The radiology gateway (machine token). */
  let gateway
  /** Alice's seeded pipeline of the radiology gateway. */
  let pipeline

  /** Edits the pipeline: devcloud queues one change for the radiology gateway. */
  async function queueChange(description) {
    await alice.update('pipelines', pipeline.id, { description })
    const queued = (await gateway.changes()).filter((c) => c.resource_id === pipeline.id && c.status === 'pending')
    assert.ok(queued.length >= 1, 'editing the pipeline queued a change')
    return queued[queued.length - 1]
  }

  before(async () => {
    cloud = await startDevcloud()
    alice = new Client(cloud.url, { token: ALICE_SANCTUM })
    gateway = alice.withToken((await alice.authorize(RADIOLOGY_GW)).expose())
    for await (const p of alice.listAll('pipelines')) if (p.name === 'dicom-api') pipeline = p
    assert.ok(pipeline, 'the seeded pipeline dicom-api')
  })

  after(async () => {
    await cloud?.stop()
  })

  it('starts with an empty feed, and an unknown change id is RUNBEAM_NOT_FOUND', async () => {
    assert.deepEqual(await gateway.changes(), [])
    assert.deepEqual(await gateway.changes(RADIOLOGY_GW_ID), [])
    await assert.rejects(gateway.change('no-such-change'), (e) => {
      assert.equal(e.code, 'RUNBEAM_NOT_FOUND', inspect(e))
      assert.equal(e.status, 404)
      assert.deepEqual(e.request, { method: 'GET', path: '/harmony/change/no-such-change' })
      return true
    })
  })

  it("lists a queued change, by the gateway's own id too; another gateway's feed is refused", async () => {
    const change = await queueChange('changed by the node feed test')
    assert.equal(typeof change.id, 'string')
    assert.equal(change.status, 'pending')
    // The server's other fields are kept, with its names.
    assert.equal(change.gateway_id, RADIOLOGY_GW_ID)
    assert.equal(change.type, 'pipeline')
    assert.equal(change.action, 'updated')
    assert.ok(!Number.isNaN(Date.parse(change.created_at)))

    const byId = await gateway.changes(RADIOLOGY_GW_ID)
    assert.ok(byId.some((c) => c.id === change.id))
    await assert.rejects(gateway.changes('01JDWRE95B9EE0ZBGJ09TQM83X'), {
      code: 'RUNBEAM_PERMISSION_DENIED',
      status: 403,
    })

    const one = await gateway.change(change.id)
    assert.deepEqual(one, change)
  })

  it('acknowledges changes, then marks one applied (twice is RUNBEAM_CONFLICT)', async () => {
    const change = await queueChange('to be applied')
    const ack = await gateway.acknowledgeChanges([change.id])
    assert.equal(ack.success, true)
    assert.match(ack.message, /Acknowledged 1 change/)
    const acknowledged = await gateway.change(change.id)
    assert.equal(acknowledged.status, 'acknowledged')
    assert.ok(!Number.isNaN(Date.parse(acknowledged.acknowledged_at)))
    // Still in the feed until applied or failed.
    assert.ok((await gateway.changes()).some((c) => c.id === change.id))

    const applied = await gateway.changeApplied(change.id)
    assert.equal(applied.success, true)
    assert.equal((await gateway.change(change.id)).status, 'applied')
    assert.ok(!(await gateway.changes()).some((c) => c.id === change.id), 'an applied change leaves the feed')

    await assert.rejects(gateway.changeApplied(change.id), (e) => {
      assert.equal(e.code, 'RUNBEAM_CONFLICT', inspect(e))
      assert.equal(e.status, 409)
      assert.deepEqual(e.request, { method: 'POST', path: `/harmony/change/${change.id}/applied` })
      return true
    })
    await assert.rejects(gateway.changeFailed(change.id, 'too late'), { code: 'RUNBEAM_CONFLICT' })
  })

  it('marks a change failed with an error and details, kept by the server', async () => {
    const change = await queueChange('to fail')
    const details = { line: 3, column: 7, hint: ['fix', 'the', 'toml'] }
    const ack = await gateway.changeFailed(change.id, 'invalid TOML', details)
    assert.equal(ack.success, true)
    const failed = await gateway.change(change.id)
    assert.equal(failed.status, 'failed')
    assert.equal(failed.error, 'invalid TOML')
    assert.deepEqual(failed.details, details)

    // Without details.
    const other = await queueChange('to fail without details')
    await gateway.changeFailed(other.id, 'no route')
    const plain = await gateway.change(other.id)
    assert.equal(plain.error, 'no route')
    assert.equal(plain.details, null)
  })

  it('rejects unknown ids in acknowledgeChanges with RUNBEAM_VALIDATION naming each', async () => {
    await assert.rejects(gateway.acknowledgeChanges(['nope-1', 'nope-2']), (e) => {
      assert.equal(e.code, 'RUNBEAM_VALIDATION', inspect(e))
      assert.deepEqual(Object.keys(e.fieldErrors).sort(), ['change_ids.0', 'change_ids.1'])
      return true
    })
    const none = await gateway.acknowledgeChanges([])
    assert.equal(none.success, true)
  })

  it('updateConfig(type, config, {id}) creates, then updates, a configuration', async () => {
    const created = await gateway.updateConfig('pipeline', '[pipeline]\nname = "p"\n')
    assert.equal(created.success, true)
    assert.equal(created.data.action, 'created')
    assert.equal(created.data.type, 'pipeline')
    assert.equal(typeof created.data.id, 'string')
    assert.equal(typeof created.message, 'string')

    const updated = await gateway.updateConfig('pipeline', '[pipeline]\nname = "q"\n', { id: created.data.id })
    assert.deepEqual(updated.data, { id: created.data.id, type: 'pipeline', action: 'updated' })

    // A given id not pushed before creates it under that id.
    const named = await gateway.updateConfig('mesh', 'name = "m"', { id: 'node-mesh-1' })
    assert.deepEqual(named.data, { id: 'node-mesh-1', type: 'mesh', action: 'created' })
    for (const type of ['gateway', 'transform']) {
      assert.equal((await gateway.updateConfig(type, 'name = "x"')).data.type, type)
    }
  })

  it('updateConfig rejects invalid TOML with RUNBEAM_VALIDATION (fieldErrors.config)', async () => {
    await assert.rejects(gateway.updateConfig('mesh', 'not = = toml'), (e) => {
      assert.equal(e.code, 'RUNBEAM_VALIDATION', inspect(e))
      assert.equal(e.status, 422)
      assert.deepEqual(e.request, { method: 'POST', path: '/harmony/update' })
      assert.ok(Array.isArray(e.fieldErrors.config), inspect(e))
      return true
    })
  })

  it('update(collection, id, resource) updates a collection resource', async () => {
    const updated = await alice.update('pipelines', pipeline.id, { description: 'collection update' })
    assert.equal(updated.id, pipeline.id)
    assert.equal(updated.description, 'collection update')
  })

  it('rejects bad arguments of the change, update and create calls with RUNBEAM_INVALID_ARGUMENT', async () => {
    const bad = [
      () => gateway.changes(42),
      () => gateway.change(),
      () => gateway.change(7),
      () => gateway.acknowledgeChanges('x'),
      () => gateway.acknowledgeChanges(['x', 2]),
      () => gateway.changeApplied(null),
      () => gateway.changeFailed('id'),
      () => gateway.changeFailed('id', 5),
      () => gateway.changeFailed('id', 'e', () => 1),
      () => gateway.updateConfig('widget', ''),
      () => gateway.updateConfig('pipeline'),
      () => gateway.updateConfig('pipeline', 5),
      () => gateway.updateConfig({ type: 'pipeline', config: '' }),
      () => gateway.updateConfig('pipeline', '', { id: 5 }),
      () => gateway.updateConfig('pipeline', '', 'id'),
      // The config push is no longer an overload of update.
      () => gateway.update({ type: 'pipeline', config: '' }),
      () => gateway.update(5),
      () => gateway.update('pipelines'),
      () => gateway.update('pipelines', pipeline.id),
      () => gateway.update('widgets', 'id', {}),
      () => gateway.update('pipelines', pipeline.id, () => 1),
      () => alice.create('services'),
      () => alice.create('services', Symbol('s')),
    ]
    for (const call of bad) {
      const outcome = call()
      // A rejection, never a synchronous throw, from a Promise method.
      assert.ok(outcome instanceof Promise, String(call))
      await assert.rejects(outcome, (e) => {
        assert.equal(e.code, 'RUNBEAM_INVALID_ARGUMENT', `${call}: ${inspect(e)}`)
        return true
      })
    }
    // The kinds listed in the error are the ones runbeam-core accepts.
    await assert.rejects(gateway.updateConfig('widget', ''), {
      message: /gateway.*pipeline.*transform.*mesh/,
    })
  })
})
