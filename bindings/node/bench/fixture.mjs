// Tokens shared by the benchmarks in this folder (not a benchmark itself).

import { createPublicKey } from 'node:crypto'

/**
 * `count` distinct RS256 tokens minted by the runbeam-devcloud `cloud` (test/devcloud.cjs), with
 * what the peers' verifiers need: the issuer, the JWKS, and its first key as a KeyObject and PEM.
 */
export async function distinctTokens(cloud, count) {
  const issuer = `${cloud.url}/api`
  const res = await fetch(`${cloud.url}/_dev/jwt`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'alice@radiology.example.com', count, ttl_secs: 86400 }),
  })
  if (!res.ok) throw new Error(`POST /_dev/jwt: ${res.status} ${await res.text()}`)
  const { tokens } = await res.json()
  const jwks = await (await fetch(`${issuer}/.well-known/jwks.json`)).json()
  const publicKey = createPublicKey({ key: jwks.keys[0], format: 'jwk' })
  const pem = publicKey.export({ type: 'spki', format: 'pem' })
  return { issuer, tokens, jwks, publicKey, pem }
}
