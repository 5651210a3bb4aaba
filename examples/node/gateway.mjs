// Example Node gateway with librunbeam, end to end against a Runbeam Cloud (runbeam-devcloud):
// the sending gateway of team ai-analytics resolves radiology-dept's DICOMweb ingress through
// the mesh and obtains a mesh token for it; the receiving gateway of radiology-dept verifies
// that token. The C and Python example gateways take the same steps (`make demo` runs all three).
//
//   make node-build
//   target/x86_64-unknown-linux-gnu/debug/runbeam-devcloud --listen 127.0.0.1:0 --seed examples/devcloud/seed.toml
//   node examples/node/gateway.mjs http://127.0.0.1:PORT      (from the repository root)
//
// Environment: RUNBEAM_HOME (token files; default: a temporary directory removed at exit),
// RUNBEAM_SANCTUM_TOKEN (the credential that authorizes the gateway; default: the seeded token
// of Bob, team ai-analytics). Tokens are never printed.
// Exit status: 0 when every step did what was expected, 1 on any unexpected error.
// (An installed gateway imports '@runbeam/sdk'; this example imports the package from the repo.)
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import {
  Client,
  FileTokenStore,
  MemoryTokenStore,
  MeshConfig,
  Resolver,
  TokenManager,
} from '../../bindings/node/index.mjs'

const TAG = '[Node]'
const GATEWAY = 'analytics-gw-1'
const RECEIVER = 'radiology-gw-1'
const MESH = 'imaging-integration'
const DICOMWEB = 'runbeam.radiology-dept.ingress.name.dicomweb'
const OUTSIDE = 'runbeam.acme.ingress.name.api'
const BOB_SANCTUM = '2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f'

const say = (line) => console.log(`${TAG} ${line}`)

/** A gateway configuration of examples/config/, pointed at the Cloud under test. */
function load(file, cloud) {
  const config = MeshConfig.fromFile(join('examples', 'config', file)).withProviderApi('runbeam', cloud)
  const problems = config.validate()
  if (problems.length > 0) {
    const message = `${file}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`
    throw Object.assign(new Error(message), { kind: 'Config' })
  }
  return config
}

async function run(cloud, home) {
  // 1. Both gateways' configurations, checked as at start-up.
  const sender = load('ai-analytics.toml', cloud)
  const partner = load('radiology-dept.toml', cloud)
  say(`1. ai-analytics.toml: ${sender.meshes().length} mesh(es), ${sender.remoteReferences().length} remote reference(s); ` +
    `radiology-dept.toml: ${partner.meshes().length} mesh(es), ${partner.remoteReferences().length} remote reference(s)`)

  // 2. The machine token, kept in the encrypted file store under RUNBEAM_HOME.
  const client = new Client(cloud)
  const store = new FileTokenStore({ root: home })
  const manager = new TokenManager({
    instanceId: GATEWAY,
    store,
    client,
    credential: process.env.RUNBEAM_SANCTUM_TOKEN || BOB_SANCTUM,
  })
  const machine = await manager.ensureToken()
  say(`2. machine token for ${GATEWAY} in the ${store.backend} store (${store.location(GATEWAY, 'auth')}), ` +
    `expires ${machine.expiresAt.toISOString()}`)

  // 3. Resolve the partner's ingress through the mesh; the second time from the cache.
  const resolver = new Resolver({ config: sender, client, tokenManager: manager })
  resolver.validateStartup()
  const dicom = await resolver.resolve(DICOMWEB)
  const { urls, protocol, mode } = dicom.resource
  say(`3. ${DICOMWEB} -> ${urls.join(', ')} (protocol ${protocol}, mode ${mode}, stale ${dicom.isStale})`)
  const again = resolver.resolveCached(DICOMWEB) ?? (await resolver.resolve(DICOMWEB))
  const stats = resolver.stats()
  say(`   again from the cache: ${again === dicom ? 'same answer' : 'new answer'}, hits ${stats.hits}, ` +
    `upstream requests ${stats.upstreamRequests}`)

  // 4. A mesh token for the request to the partner (the token itself is not printed).
  const destination = `${urls[0]}/studies`
  const issued = await resolver.meshToken(MESH, destination)
  say(`4. mesh token for ${destination}: expires ${issued.expiresAt.toISOString()}, ` +
    `sub ${issued.claims.sub}, aud ${issued.claims.aud}`)

  // 5. The receiving gateway verifies it (no machine token needed: an empty store, no credential).
  const receiver = new Resolver({
    config: partner,
    client,
    tokenManager: new TokenManager({ instanceId: RECEIVER, store: new MemoryTokenStore(), client }),
  })
  receiver.validateStartup()
  const claims = await receiver.verifyMeshToken(issued.token, MESH, destination)
  say(`5. ${RECEIVER} accepts the token: source_team ${claims.all.source_team}, dest_url ${claims.all.dest_url}`)

  // 6. A reference that no mesh lists is refused before any request.
  try {
    await resolver.resolve(OUTSIDE)
  } catch (e) {
    if (e.code !== 'RUNBEAM_NOT_IN_MESH') throw e
    say(`6. ${OUTSIDE} refused as expected: ${e.kind}: ${e.message}`)
    return
  }
  throw Object.assign(new Error(`${OUTSIDE} was resolved although no mesh lists it`), { kind: 'Unexpected' })
}

async function main(argv) {
  const [cloud] = argv
  if (!cloud) {
    console.error('usage: node examples/node/gateway.mjs <devcloud-url>')
    return 1
  }
  const temporary = process.env.RUNBEAM_HOME ? null : mkdtempSync(join(tmpdir(), 'runbeam-node-'))
  try {
    await run(cloud, process.env.RUNBEAM_HOME || temporary)
    say('done')
    return 0
  } catch (e) {
    say(`error: ${e.kind ?? e.name}: ${e.message}`)
    return 1
  } finally {
    if (temporary) rmSync(temporary, { recursive: true, force: true })
  }
}

process.exitCode = await main(process.argv.slice(2))
