'use strict'
// The typed resource models (src/resources.rs: Gateway, Service, Endpoint, Backend, Pipeline,
// MeshResource, Ingress, Egress) against runbeam-devcloud: every kind created, read, updated,
// listed, walked and deleted; the server's unknown fields kept; its 422. Node side of
// tests/e2e/tests/resources.rs.

const { describe, it, before, after } = require('node:test')
const http = require('node:http')
const assert = require('node:assert/strict')

const { Client } = require('..')
const { startDevcloud, ALICE_SANCTUM, ALICE_EMAIL } = require('./devcloud.cjs')

const COMMON = ['id', 'team_id', 'created_at', 'updated_at']
/** The fields of each kind's model (the TypeScript interfaces of index.d.ts). */
const FIELDS = {
  gateways: ['code', 'name', 'description', 'enabled'],
  services: ['name', 'url', 'description', 'enabled'],
  pipelines: ['name', 'gateway_id', 'description', 'enabled'],
  endpoints: ['name', 'pipeline_id', 'path', 'description', 'enabled'],
  backends: ['name', 'pipeline_id', 'url', 'description', 'enabled'],
  meshes: ['name', 'protocol', 'description', 'enabled'],
  ingresses: ['name', 'urls', 'protocol', 'mode', 'mesh_id', 'pipeline_id', 'gateway_id', 'endpoint_id', 'description', 'enabled'],
  egresses: ['name', 'protocol', 'mode', 'mesh_id', 'pipeline_id', 'gateway_id', 'backend_id', 'description', 'enabled'],
}
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/

/** Checks that `resource` is a plain object of `collection`'s model: an id, a team, RFC 3339
 * timestamps, and the fields of `draft` as sent. */
function checkModel(collection, resource, draft) {
  assert.equal(Object.getPrototypeOf(resource), Object.prototype, `${collection}: a plain object`)
  assert.equal(typeof resource.id, 'string', `${collection}: id`)
  assert.ok(resource.id.length > 0, `${collection}: id`)
  assert.equal(typeof resource.team_id, 'string', `${collection}: team_id`)
  assert.match(resource.created_at, RFC3339, `${collection}: created_at`)
  assert.match(resource.updated_at, RFC3339, `${collection}: updated_at`)
  for (const [field, value] of Object.entries(draft)) {
    assert.deepEqual(resource[field], value, `${collection}.${field}`)
  }
  for (const [field, value] of Object.entries(resource)) {
    // No `undefined` own property for a field the server did not send.
    assert.notEqual(value, undefined, `${collection}.${field}`)
  }
}

describe('typed resource models against runbeam-devcloud', () => {
  let cloud
  let alice
  let gateway
  let pipeline
  let mesh

  before(async () => {
    cloud = await startDevcloud()
    alice = new Client(cloud.url, { token: ALICE_SANCTUM })
    // Resources the others refer to, which stay.
    gateway = await alice.create('gateways', { code: 'node-typed-gw-base' })
    pipeline = await alice.create('pipelines', { name: 'node-typed-pipeline-base', gateway_id: gateway.id })
    mesh = await alice.create('meshes', { name: 'node-typed-mesh-base', protocol: 'http' })
  })

  after(async () => {
    await cloud?.stop()
  })

  /** Creates `draft` in `collection`, reads it back by id, in a page and in the walk, updates its
   * description, deletes it and checks it is gone. */
  async function crud(collection, draft) {
    const created = await alice.create(collection, draft)
    checkModel(collection, created, draft)
    for (const field of Object.keys(created)) {
      assert.ok(COMMON.includes(field) || FIELDS[collection].includes(field), `${collection}: unexpected field ${field}`)
    }

    assert.deepEqual(await alice.get(collection, created.id), created, `${collection}: get gives what create did`)

    const page = await alice.list(collection, { perPage: 100 })
    assert.deepEqual(page.data.find((r) => r.id === created.id), created, `${collection}: in a page`)
    assert.equal(page.currentPage, 1)
    assert.ok(page.total >= 1)
    const walked = []
    for await (const r of alice.listAll(collection, { perPage: 2 })) walked.push(r)
    assert.deepEqual(walked.find((r) => r.id === created.id), created, `${collection}: in the walk`)
    assert.equal(new Set(walked.map((r) => r.id)).size, walked.length, `${collection}: each once`)
    for (const r of walked) assert.equal(typeof r.id, 'string')

    const updated = await alice.update(collection, created.id, { description: `changed ${collection}` })
    checkModel(collection, updated, { ...draft, description: `changed ${collection}` })
    assert.equal(updated.id, created.id)
    assert.equal(updated.created_at, created.created_at)
    assert.deepEqual(await alice.get(collection, created.id), updated)

    await alice.delete(collection, created.id)
    await assert.rejects(alice.get(collection, created.id), { code: 'RUNBEAM_NOT_FOUND', status: 404 })
    return created
  }

  it('creates, reads, updates, lists and deletes gateways', async () => {
    await crud('gateways', { code: 'node-typed-gw', name: 'Typed gateway', enabled: true })
  })

  it('creates, reads, updates, lists and deletes services', async () => {
    await crud('services', { name: 'node-typed-service', url: 'https://typed.example.com', enabled: true })
  })

  it('creates, reads, updates, lists and deletes pipelines', async () => {
    const created = await crud('pipelines', { name: 'node-typed-pipeline', gateway_id: gateway.id })
    assert.equal(created.gateway_id, gateway.id)
  })

  it('creates, reads, updates, lists and deletes endpoints', async () => {
    await crud('endpoints', { name: 'node-typed-endpoint', pipeline_id: pipeline.id, path: '/studies' })
  })

  it('creates, reads, updates, lists and deletes backends', async () => {
    await crud('backends', { name: 'node-typed-backend', pipeline_id: pipeline.id, url: 'https://pacs.typed.example' })
  })

  it('creates, reads, updates, lists and deletes meshes', async () => {
    await crud('meshes', { name: 'node-typed-mesh', protocol: 'http3' })
  })

  it('creates, reads, updates, lists and deletes ingresses', async () => {
    await crud('ingresses', {
      name: 'node-typed-ingress',
      urls: ['https://typed.example.com/in'],
      protocol: 'http',
      mode: 'mesh',
      mesh_id: mesh.id,
      gateway_id: gateway.id,
    })
  })

  it('creates, reads, updates, lists and deletes egresses', async () => {
    await crud('egresses', { name: 'node-typed-egress', mode: 'mesh', mesh_id: mesh.id, pipeline_id: pipeline.id })
  })

  it('takes a collection held in a variable (the string form)', async () => {
    for (const collection of Object.keys(FIELDS)) {
      const page = await alice.list(collection)
      for (const r of page.data) assert.equal(typeof r.id, 'string', collection)
    }
  })

  it("gives the server's 422 with its field", async () => {
    const err = await alice.create('ingresses', { name: 'node-no-urls' }).catch((e) => e)
    assert.equal(err.code, 'RUNBEAM_VALIDATION')
    assert.equal(err.status, 422)
    assert.ok(Array.isArray(err.fieldErrors.urls), JSON.stringify(err.fieldErrors))
    assert.deepEqual(err.request, { method: 'POST', path: '/ingresses' })
  })

  it('authorizes with a user JWT, uses the machine token, and keeps a field the model does not know', async () => {
    const jwt = await cloud.userJwt(ALICE_EMAIL)
    assert.equal(jwt.split('.').length, 3, 'a JWT')
    const user = new Client(cloud.url, { token: jwt })
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINodeTypedModelKey'
    const granted = await user.authorize('node-typed-keyed-gw', { machinePublicKey: key })
    assert.equal(granted.gateway.code, 'node-typed-keyed-gw')
    assert.equal(granted.gateway.authorizedBy?.email, ALICE_EMAIL)

    // The machine token works for the gateway's calls.
    const machine = user.withToken(granted.expose())
    const base = await machine.baseUrl()
    assert.equal(typeof base.baseUrl, 'string')
    assert.ok(Array.isArray(await machine.changes()))
    // …and not for the user's collections.
    await assert.rejects(machine.list('gateways'), (e) => ['RUNBEAM_PERMISSION_DENIED', 'RUNBEAM_UNAUTHORIZED'].includes(e.code))

    // The user JWT reads the gateway: the unknown field is an own property, as sent.
    const read = await user.get('gateways', granted.gateway.id)
    assert.equal(read.code, 'node-typed-keyed-gw')
    assert.equal(read.machine_public_key, key)
    assert.ok(Object.keys(read).includes('machine_public_key'))
    assert.equal(JSON.parse(JSON.stringify(read)).machine_public_key, key)

    // It survives an update of a known field, and is in the page and the walk.
    const updated = await user.update('gateways', read.id, { description: 'kept' })
    assert.equal(updated.description, 'kept')
    assert.equal(updated.machine_public_key, key)
    assert.equal((await alice.get('gateways', read.id)).machine_public_key, key)
    // The whole object sent back (its unknown field too), as the Rust test does with the model.
    const again = await user.update('gateways', read.id, { ...updated, name: 'Keyed gateway' })
    assert.deepEqual(again, { ...updated, name: 'Keyed gateway', updated_at: again.updated_at })
    const page = await alice.list('gateways', { perPage: 100 })
    assert.equal(page.data.find((g) => g.id === read.id)?.machine_public_key, key)
    let walked
    for await (const g of alice.listAll('gateways')) if (g.id === read.id) walked = g
    assert.deepEqual(walked, await alice.get('gateways', read.id))
  })
})

describe('typed resource models: answers devcloud does not give', () => {
  /** A server answering every request with `body` (JSON, status 200). */
  async function answering(body) {
    const server = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    })
    await new Promise((done) => server.listen(0, '127.0.0.1', done))
    const client = new Client(`http://127.0.0.1:${server.address().port}`, { token: ALICE_SANCTUM, maxAttempts: 1 })
    return { client, close: () => new Promise((done) => server.close(done)) }
  }

  it('gives numeric ids as their text, and leaves out nulls', async () => {
    const { client, close } = await answering({
      data: { id: 12, team_id: 3, name: 'n', mesh_id: 5, backend_id: null, description: null, settings: { a: [1, 2] } },
    })
    try {
      const egress = await client.get('egresses', '12')
      assert.deepEqual(egress, { id: '12', team_id: '3', name: 'n', mesh_id: '5', settings: { a: [1, 2] } })
      const ingress = await client.get('ingresses', '12')
      assert.deepEqual(ingress.urls, [], 'urls left out is []')
    } finally {
      await close()
    }
  })

  it('rejects a known field of the wrong type with RUNBEAM_PROTOCOL', async () => {
    // A bare answer (not `{data: …}`: runbeam-core's `Enveloped<T>` reads a `{data: …}` whose
    // model does not decode as a bare model with an empty id and `data` unknown; a core issue).
    const { client, close } = await answering({ id: 's', enabled: 'yes' })
    try {
      await assert.rejects(client.get('services', 's'), { code: 'RUNBEAM_PROTOCOL' })
      await assert.rejects(client.get('gateways', 's'), { code: 'RUNBEAM_PROTOCOL' })
    } finally {
      await close()
    }
  })
})
