'use strict'
// Meshes of the `local` provider (docs/spec.md §2.1, §3.3, §6): two gateways, each with its own
// configuration and Resolver — the sender holds the private key (or the secret) and the egress
// and issues mesh tokens, the receiver holds the public key (or the secret) and the ingress and
// verifies them. No Cloud is involved: the resolvers' clients point at a closed port and their
// token managers have no credential. Mirrors tests/e2e/tests/local_mesh.rs.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { generateKeyPairSync } = require('node:crypto')
const { mkdtempSync, rmSync, writeFileSync } = require('node:fs')
const { tmpdir } = require('node:os')
const { join } = require('node:path')

const { Client, IssuedMeshToken, MemoryTokenStore, MeshConfig, Resolver, TokenManager } = require('..')
const { rejectsCode, throwsCode } = require('./helpers.cjs')

const RESULTS_URL = 'https://results.lab.example.com'
const INBOX = `${RESULTS_URL}/inbox`
const HS_SECRET = 'lab-mesh-secret-of-at-least-32-bytes-0123456789'

/** A gateway that cannot reach any Cloud, over the configuration `toml`. */
function offline(instanceId, toml) {
  const nowhere = new Client('http://127.0.0.1:9')
  const tokenManager = new TokenManager({ instanceId, store: new MemoryTokenStore(), client: nowhere })
  const resolver = new Resolver({ config: MeshConfig.fromToml(toml), client: nowhere, tokenManager })
  resolver.validateStartup()
  return resolver
}

const sender = (keys) =>
  offline(
    'analytics-gw-1',
    `
[pipelines.research.mesh.egress.to-results]
mode = "mesh"

[mesh.lab]
type = "http"
provider = "local"
id = "lab-mesh"
egress = ["to-results"]
${keys}
`,
  )

const receiver = (keys) =>
  offline(
    'results-gw-1',
    `
[pipelines.results.mesh.ingress.results]
urls = ["${RESULTS_URL}"]
mode = "mesh"

[mesh.lab]
type = "http"
provider = "local"
id = "lab-mesh"
ingress = ["results"]
${keys}
`,
  )

/** A token with its signature's first character changed. */
function tampered(jwt) {
  const dot = jwt.lastIndexOf('.')
  return `${jwt.slice(0, dot + 1)}${jwt[dot + 1] === 'A' ? 'B' : 'A'}${jwt.slice(dot + 2)}`
}

const header = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url'))

describe('local-provider meshes: two gateways, no Cloud', () => {
  let dir
  /** Writes `text` to `name` in the temp dir with `mode`; the path as a TOML string. */
  const keyFile = (name, text, mode) => {
    const path = join(dir, name)
    writeFileSync(path, text, { mode, flag: 'wx' })
    return JSON.stringify(path)
  }
  const rsa = () =>
    generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    })

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'runbeam-node-local-mesh-'))
  })

  after(() => {
    rmSync(dir, { recursive: true, force: true })
  })

  it('RS256: the sender issues with its private key, the receiver verifies with the public key', async () => {
    const { privateKey, publicKey } = rsa()
    const from = sender(`jwt_private_key_path = ${keyFile('lab.key', privateKey, 0o600)}`)
    const to = receiver(`jwt_public_key_path = ${keyFile('lab.pub', publicKey, 0o644)}`)

    const issued = await from.meshToken('lab', RESULTS_URL)
    assert.ok(issued instanceof IssuedMeshToken)
    assert.equal(issued.meshId, 'lab-mesh')
    assert.equal(header(issued.token).alg, 'RS256')
    assert.equal(issued.claims.iss, 'local:lab-mesh')
    assert.equal(issued.claims.aud, 'mesh:lab-mesh')
    assert.equal(issued.claims.sub, 'gateway:analytics-gw-1')
    assert.equal(issued.claims.all.dest_url, RESULTS_URL)
    assert.equal(issued.claims.exp - issued.claims.iat, 300)
    // Cached: the same token again, no second signature.
    assert.equal((await from.meshToken('lab', RESULTS_URL)).token, issued.token)
    assert.equal(from.stats().meshTokenRequests, 1)

    // The receiving side answers without I/O for a local mesh.
    const claims = to.verifyMeshTokenCached(issued.token, 'lab', INBOX)
    assert.equal(claims.sub, 'gateway:analytics-gw-1')
    assert.equal(claims.all.mesh_id, 'lab-mesh')
    assert.equal((await to.verifyMeshToken(issued.token, 'lab-mesh', INBOX)).jti, claims.jti)

    // A gateway with the public key only verifies and cannot issue.
    await rejectsCode(to.meshToken('lab', RESULTS_URL), 'RUNBEAM_CONFIG')
  })

  it('HS256: the same secret on both gateways', async () => {
    const from = sender(`jwt_secret = "${HS_SECRET}"`)
    const to = receiver(`jwt_secret = "${HS_SECRET}"`)
    const issued = await from.meshToken('lab', RESULTS_URL)
    assert.equal(header(issued.token).alg, 'HS256')
    const claims = await to.verifyMeshToken(issued.token, 'lab', INBOX)
    assert.equal(claims.iss, 'local:lab-mesh')
    assert.equal(claims.aud, 'mesh:lab-mesh')
  })

  it('the receiver refuses a wrong destination, a tampered token, another key and another algorithm', async () => {
    const { privateKey, publicKey } = rsa()
    const from = sender(`jwt_private_key_path = ${keyFile('refusal.key', privateKey, 0o600)}`)
    const to = receiver(`jwt_public_key_path = ${keyFile('refusal.pub', publicKey, 0o644)}`)
    const token = (await from.meshToken('lab', RESULTS_URL)).token

    throwsCode(() => to.verifyMeshTokenCached(token, 'lab', 'https://elsewhere.example.com/inbox'), 'RUNBEAM_JWT_INVALID')
    await rejectsCode(to.verifyMeshToken(tampered(token), 'lab', INBOX), 'RUNBEAM_JWT_INVALID')
    await rejectsCode(to.verifyMeshToken(token, 'no-such-mesh', INBOX), 'RUNBEAM_NOT_IN_MESH')

    // Another key pair of the same mesh: not ours.
    const other = rsa()
    const impostor = sender(`jwt_private_key_path = ${keyFile('impostor.key', other.privateKey, 0o600)}`)
    const forged = (await impostor.meshToken('lab', RESULTS_URL)).token
    await rejectsCode(to.verifyMeshToken(forged, 'lab', INBOX), 'RUNBEAM_JWT_INVALID')

    // An HS256 token for a mesh verified with an RSA key: the algorithm is the configuration's.
    const hmac = (await sender(`jwt_secret = "${HS_SECRET}"`).meshToken('lab', RESULTS_URL)).token
    await rejectsCode(to.verifyMeshToken(hmac, 'lab', INBOX), 'RUNBEAM_JWT_INVALID')
    // And the other way round: an HS256 receiver refuses the RS256 token.
    await rejectsCode(receiver(`jwt_secret = "${HS_SECRET}"`).verifyMeshToken(token, 'lab', INBOX), 'RUNBEAM_JWT_INVALID')
  })

  it('a private key readable by others, or a short secret, is refused with the TOML path', () => {
    const { privateKey } = rsa()
    const open = keyFile('open.key', privateKey, 0o644)
    const e = throwsCode(() => sender(`jwt_private_key_path = ${open}`), 'RUNBEAM_CONFIG')
    assert.match(e.message, /mesh\.lab\.jwt_private_key_path/)
    assert.ok(!e.message.includes('PRIVATE KEY'), 'no key material in the message')
    const short = throwsCode(() => sender('jwt_secret = "too-short"'), 'RUNBEAM_CONFIG')
    assert.equal(short.problems[0].path, 'mesh.lab.jwt_secret')
    assert.ok(!short.message.includes('too-short'), 'the secret is not quoted')
  })
})
