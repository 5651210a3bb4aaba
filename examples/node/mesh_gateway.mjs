// Example egress gateway of team ai-analytics in Node: an Express app that checks the user's JWT
// with librunbeam's connect middleware (@runbeam/sdk/express) and forwards /imaging/... across
// the mesh to team radiology-dept's DICOMweb ingress with a mesh token (the global fetch).
//
//   node examples/node/mesh_gateway.mjs CONFIG CLOUD_URL [--watch]      (from the repository root)
//
// CONFIG is a gateway configuration (examples/config/ai-analytics.toml): its provider `runbeam` is
// pointed at CLOUD_URL (a Runbeam Cloud such as runbeam-devcloud, http://127.0.0.1:PORT) and its
// `[proxy] id` is the gateway code. The machine token is obtained with the Sanctum token in
// RUNBEAM_SANCTUM_TOKEN (default: Bob's seeded one) and kept in the encrypted file store under
// RUNBEAM_HOME (a temporary directory, removed at exit, when unset). User JWTs are trusted from
// CLOUD_URL/api.
//
// Listens on 127.0.0.1 on a port the OS picks and prints `listening http://127.0.0.1:PORT` once
// ready; stops cleanly on SIGTERM or SIGINT. Routes:
//
//   GET /healthz        200 {"status":"ok"}, no token needed
//   GET /imaging/<rest> the user's JWT checked (401 + WWW-Authenticate otherwise), then GET
//                       <dicomweb URL>/<rest>?<query> with the mesh token; the answer's status,
//                       content type and body relayed (502 {"error":"bad_gateway"} when the
//                       partner cannot be reached; the SDK's refusal when the request cannot be
//                       made: 403 outside the mesh, 503 + Retry-After when the Cloud is down)
//   GET /pacs/<rest>    the same to runbeam.radiology-dept.ingress.name.pacs, which no mesh of
//                       ai-analytics lists: 403 {"error":"not_in_mesh"}
//
// One line per request on stdout (`[Node] GET /imaging/studies -> 200`, never a token); with
// --watch, the resolver follows the Cloud's configuration changes and prints one line per event
// (`[Node] watcher: applied <change id> <message>`).
//
// (An installed gateway imports '@runbeam/sdk' and '@runbeam/sdk/express'; this example imports
// the package from the repository, and Express from where the package is: in a clone, the
// binding's development dependencies.)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Client, FileTokenStore, MeshConfig, Resolver, TokenManager, Validator } from '../../bindings/node/index.mjs'
import { authenticate, refuse } from '../../bindings/node/express.mjs'

// Express is the application's dependency, not the SDK's: found from where the SDK is.
const express = createRequire(import.meta.resolve('../../bindings/node/index.mjs'))('express')

const TAG = '[Node]'
const BOB_SANCTUM = '2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f'
const PROVIDER = 'runbeam'
const DICOMWEB = 'runbeam.radiology-dept.ingress.name.dicomweb'
const PACS = 'runbeam.radiology-dept.ingress.name.pacs'
/** How long the partner may take to answer. */
const UPSTREAM_TIMEOUT_MS = 10_000

const say = (line) => console.log(`${TAG} ${line}`)

/**
 * The gateway code: the `id` of the `[proxy]` table of the TOML file at `path`. librunbeam reads
 * only the mesh part of a configuration; this reads the one line the example needs (a table
 * header `[proxy]`, then `id = "<code>"`).
 */
function gatewayCode(path) {
  let inProxy = false
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.trim()
    if (line.startsWith('[')) {
      inProxy = line === '[proxy]'
      continue
    }
    const id = inProxy ? /^id\s*=\s*"([A-Za-z0-9._-]{1,128})"\s*(#.*)?$/.exec(line) : null
    if (id) return id[1]
  }
  throw Object.assign(new Error(`${path} has no [proxy] id (the gateway code)`), { kind: 'Config' })
}

/** The SDK objects of the gateway. */
function gateway(configPath, cloud, home) {
  const config = MeshConfig.fromFile(configPath).withProviderApi(PROVIDER, cloud)
  const code = gatewayCode(configPath)
  const client = new Client(cloud)
  const tokenManager = new TokenManager({
    instanceId: code,
    store: new FileTokenStore({ root: home }),
    client,
    credential: process.env.RUNBEAM_SANCTUM_TOKEN || BOB_SANCTUM,
  })
  const resolver = new Resolver({ config, client, tokenManager })
  const validator = new Validator({ trustedIssuers: [`${cloud.replace(/\/+$/, '')}/api`] })
  return { resolver, tokenManager, validator }
}

/** The Express app: the middleware, /healthz, and the two forwarding routes. */
function app({ resolver, validator }) {
  const app = express()
  app.disable('x-powered-by')
  app.set('case sensitive routing', true)
  app.set('strict routing', true)
  // One line per request, with the status sent (never a header).
  app.use((req, res, next) => {
    res.on('finish', () => say(`${req.method} ${req.path} -> ${res.statusCode}`))
    next()
  })
  app.use(authenticate({ validator, publicPaths: ['/healthz'] }))
  app.get('/healthz', (req, res) => res.json({ status: 'ok' }))

  /** Sends the request across the mesh and relays the answer. */
  const forward = (prefix, reference) => async (req, res) => {
    // The path as the client sent it (not percent-decoded, with its query), without the route's
    // prefix: librunbeam appends it to the resource's URL and refuses one that would leave it.
    const target = req.originalUrl
    if (!target.startsWith(`${prefix}/`)) return refuse(res, { kind: 'InvalidArgument' })
    const path = target.slice(prefix.length)
    let out
    try {
      out = resolver.outboundCached(reference, path) ?? (await resolver.outbound(reference, path))
    } catch (error) {
      return refuse(res, error, 'outbound')
    }
    let answer
    try {
      answer = await fetch(out.url, {
        headers: out.headers,
        redirect: 'manual',
        signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS),
      })
    } catch {
      return res.status(502).json({ error: 'bad_gateway' })
    }
    const body = Buffer.from(await answer.arrayBuffer())
    const type = answer.headers.get('content-type')
    if (type !== null) res.set('content-type', type)
    res.status(answer.status).send(body)
  }
  app.get('/imaging/*rest', forward('/imaging', DICOMWEB))
  app.get('/pacs/*rest', forward('/pacs', PACS))
  app.use((req, res) => res.status(404).json({ error: 'not_found' }))
  return app
}

async function main(argv) {
  const watch = argv.includes('--watch')
  const args = argv.filter((a) => a !== '--watch')
  if (args.length !== 2 || argv.length - args.length > 1) {
    console.error('usage: node examples/node/mesh_gateway.mjs CONFIG CLOUD_URL [--watch]')
    return 2
  }
  const [configPath, cloud] = args
  const temporary = process.env.RUNBEAM_HOME ? null : mkdtempSync(join(tmpdir(), 'runbeam-mesh-gateway-'))
  let server = null
  let watcher = null
  try {
    const sdk = gateway(configPath, cloud, process.env.RUNBEAM_HOME || temporary)
    sdk.resolver.validateStartup()
    // The machine token now, so that a bad credential stops the gateway at start-up; the keys of
    // the user JWTs now, so that the first request does not wait for them.
    await sdk.tokenManager.ensureToken()
    await sdk.validator.refreshKeys()
    if (watch) {
      watcher = sdk.resolver.watch((event) => say(`watcher: ${event.kind} ${event.changeId ?? '-'} ${event.message}`))
    }
    server = app(sdk).listen(0, '127.0.0.1')
    await new Promise((resolve, reject) => {
      server.once('listening', resolve)
      server.once('error', reject)
    })
    console.log(`listening http://127.0.0.1:${server.address().port}`)
    await new Promise((resolve) => {
      process.once('SIGTERM', resolve)
      process.once('SIGINT', resolve)
    })
    return 0
  } catch (e) {
    say(`error: ${e.kind ?? e.name}: ${e.message}`)
    return 1
  } finally {
    watcher?.stop()
    if (server !== null) {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
    if (temporary) rmSync(temporary, { recursive: true, force: true })
  }
}

process.exitCode = await main(process.argv.slice(2))
