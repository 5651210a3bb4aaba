// `import` exposes the same Client as `require`.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import sdk, { Client } from '@runbeam/sdk'

const require = createRequire(import.meta.url)

test('Client is exported by import and require alike', () => {
  assert.equal(typeof Client, 'function')
  assert.equal(Client, sdk.Client)
  assert.equal(Client, require('..').Client)
  assert.equal(typeof Client.prototype.listAll, 'function')
})
