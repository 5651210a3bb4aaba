'use strict'
// Shared by the JWT tests (jwt.test.cjs, offload.test.cjs): a runbeam-devcloud subprocess that
// signs user JWTs on request (POST /_dev/jwt), and its issuer.

const assert = require('node:assert/strict')

const { startDevcloud, ALICE_EMAIL } = require('./devcloud.cjs')

/**
 * Starts a devcloud; resolves with `{cloud, issuer, mint, mintMany}`:
 * - `mint(extra)`: one token signed by devcloud for Alice, `extra` being request members of
 *   /_dev/jwt (claims, header, alg, ttl_secs, …);
 * - `mintMany(count, extra)`: `count` distinct tokens in one request.
 * `defaults` are request members every call sends (e.g. `{ ttl_secs: 3600 }`).
 */
async function startJwtCloud(defaults = {}) {
  const cloud = await startDevcloud()
  const post = async (extra) => {
    const res = await fetch(`${cloud.url}/_dev/jwt`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: ALICE_EMAIL, ...defaults, ...extra }),
    })
    assert.equal(res.status, 200, await res.clone().text())
    return res.json()
  }
  return {
    cloud,
    issuer: `${cloud.url}/api`,
    mint: async (extra = {}) => (await post(extra)).token,
    mintMany: async (count, extra = {}) => (await post({ ...extra, count })).tokens,
  }
}

module.exports = { startJwtCloud }
