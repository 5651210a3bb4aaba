'use strict'
// Client.listAll walks pages with runbeam-core's rule, against a tiny local HTTP server whose
// pages carry only `links.next` (no `meta.last_page`); and the core's max_attempts range.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')

const { Client } = require('..')

describe('Client.listAll and maxAttempts (core rules)', () => {
  let server
  let url
  const requests = []

  before(async () => {
    server = http.createServer((req, res) => {
      requests.push(req.url)
      const query = new URL(req.url, 'http://x').searchParams
      const page = Number(query.get('page'))
      const perPage = Number(query.get('per_page'))
      const last = 3
      const data = page <= last ? Array.from({ length: perPage }, (_, i) => ({ id: (page - 1) * perPage + i + 1 })) : []
      const body = JSON.stringify({
        data,
        // The next link points at another host: the walk asks the API root by page number.
        links: { next: page < last ? `http://elsewhere.example/api/gateways?page=${page + 1}` : null },
        meta: { current_page: page, per_page: perPage },
      })
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${server.address().port}`
  })

  after(() => new Promise((resolve) => server.close(resolve)))

  it('follows links.next when the server sends no last_page', async () => {
    requests.length = 0
    const client = new Client(url, { token: '1|x' })
    const ids = []
    for await (const gateway of client.listAll('gateways', { perPage: 2 })) ids.push(gateway.id)
    assert.deepEqual(ids, ['1', '2', '3', '4', '5', '6'])
    assert.deepEqual(requests, [1, 2, 3].map((n) => `/api/gateways?page=${n}&per_page=2`))
  })

  it('uses 100 items per page by default', async () => {
    requests.length = 0
    let count = 0
    for await (const _ of new Client(url, { token: '1|x' }).listAll('gateways')) count++
    assert.equal(count, 300)
    assert.equal(requests[0], '/api/gateways?page=1&per_page=100')
  })

  it('refuses a perPage the core refuses, before any request', async () => {
    requests.length = 0
    const client = new Client(url, { token: '1|x' })
    for (const perPage of [0, 1001, 1.5, 'ten']) {
      await assert.rejects(client.listAll('gateways', { perPage }).next(), { code: 'RUNBEAM_INVALID_ARGUMENT' })
    }
    await assert.rejects(client.listAll('widgets').next(), { code: 'RUNBEAM_INVALID_ARGUMENT', message: /widgets/ })
    assert.deepEqual(requests, [])
    // The walk's helpers are not part of the API.
    assert.equal(Client.prototype.__listPages, undefined)
    assert.equal(Client.prototype.__nextPage, undefined)
  })

  it('refuses maxAttempts outside 1-100 with the core message', () => {
    for (const maxAttempts of [0, 101, 2 ** 40]) {
      assert.throws(() => new Client(url, { maxAttempts }), {
        code: 'RUNBEAM_INVALID_ARGUMENT',
        message: /max_attempts must be between 1 .* and 100/,
      })
    }
    assert.throws(() => new Client(url, { maxAttempts: 2.5 }), { code: 'RUNBEAM_INVALID_ARGUMENT' })
    assert.ok(new Client(url, { maxAttempts: 100 }))
    assert.ok(new Client(url, { maxAttempts: 1 }))
  })
})
