'use strict'
// One cold start or one memory measurement of the Node binding (and of jose), run by
// benches/startup/run.py as `node [--expose-gc] startup.js MODE ARGS...` in a fresh process, with
// NODE_PATH pointing at a node_modules that holds @runbeam/sdk (the release addon) and jose.
//
// Cold start (prints one JSON line of CLOCK_REALTIME nanoseconds):
//   jwt URL TOKEN          require('@runbeam/sdk') | new Validator | refreshKeys() (JWKS fetch +
//                          key parse) | validate(TOKEN)
//   jose URL TOKEN         require('jose') | createRemoteJWKSet | (none: jose fetches inside the
//                          first jwtVerify) | jwtVerify
//   resolve URL CONFIG REF require('@runbeam/sdk') | MeshConfig, Client, TokenManager, Resolver |
//                          ensureToken() (authorize) | resolve(REF)
// Memory (prints VmRSS before/after in bytes; run with --expose-gc):
//   mem-jwt URL TOKENS_FILE          10,000 distinct tokens, each validated twice (kept by the
//                                    verified-token cache, capacity 20,000)
//   mem-jose URL TOKENS_FILE         a Map token -> jose-verified payload of the same tokens
//   mem-resolve URL CONFIG REFS_FILE every reference resolved once (cached by the resolver)
const now = () => Math.round((performance.timeOrigin + performance.now()) * 1e6)
const START = now()
const fs = require('node:fs')

const BOB_SANCTUM = '2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f'

function rss() {
  const line = fs.readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))
  return Number(line.split(/\s+/)[1]) * 1024
}

// VmRSS after two collections with a turn of the event loop between them (finalizers, weak
// refs), and the V8 heap in use then: RSS also keeps the pages V8 grew its heap by while the
// loop allocated (claims objects, promises), which the heap figure tells apart.
async function settled() {
  global.gc()
  await new Promise((resolve) => setImmediate(resolve))
  global.gc()
  return { rss: rss(), heap: process.memoryUsage().heapUsed }
}

const emit = (figures) => console.log(JSON.stringify(figures))
const readLines = (path) => fs.readFileSync(path, 'utf8').split('\n').filter((l) => l.trim())

function newResolver(sdk, url, configPath) {
  const config = sdk.MeshConfig.fromToml(fs.readFileSync(configPath, 'utf8')).withProviderApi('runbeam', url)
  const client = new sdk.Client(url)
  const tokenManager = new sdk.TokenManager({
    instanceId: 'analytics-gw-1',
    store: new sdk.MemoryTokenStore(),
    client,
    credential: BOB_SANCTUM,
  })
  return { resolver: new sdk.Resolver({ config, client, tokenManager }), tokenManager }
}

async function main([mode, ...args]) {
  if (mode === 'jwt') {
    const [url, token] = args
    const sdk = require('@runbeam/sdk')
    const load = now()
    const v = new sdk.Validator({ trustedIssuers: [url + '/api'] })
    const construct = now()
    await v.refreshKeys()
    const fetch = now()
    const claims = await v.validate(token)
    const first = now()
    if (!claims.sub) throw new Error('no sub')
    emit({ start: START, load, construct, fetch, first })
  } else if (mode === 'jose') {
    const [url, token] = args
    const jose = require('jose')
    const load = now()
    const jwks = jose.createRemoteJWKSet(new URL(url + '/api/.well-known/jwks.json'))
    const construct = now()
    const { payload } = await jose.jwtVerify(token, jwks, { issuer: url + '/api', algorithms: ['RS256'] })
    const first = now()
    if (!payload.sub) throw new Error('no sub')
    emit({ start: START, load, construct, fetch: construct, first })
  } else if (mode === 'resolve') {
    const [url, configPath, reference] = args
    const sdk = require('@runbeam/sdk')
    const load = now()
    const { resolver, tokenManager } = newResolver(sdk, url, configPath)
    const construct = now()
    await tokenManager.ensureToken()
    const fetch = now()
    const answer = await resolver.resolve(reference)
    const first = now()
    if (!answer.resource.urls.length) throw new Error('no urls')
    emit({ start: START, load, construct, fetch, first })
  } else if (mode === 'mem-jwt') {
    const [url, file] = args
    const tokens = readLines(file)
    const sdk = require('@runbeam/sdk')
    const v = new sdk.Validator({ trustedIssuers: [url + '/api'], cacheCapacity: 20000 })
    await v.refreshKeys()
    await v.validate(tokens[0])
    await v.validate(tokens[0])
    const b = await settled()
    for (const t of tokens) {
      v.validateCached(t)
      v.validateCached(t)
    }
    const a = await settled()
    emit({ before: b.rss, after: a.rss, heap_before: b.heap, heap_after: a.heap, entries: v.cachedTokens })
  } else if (mode === 'mem-jose') {
    const [url, file] = args
    const tokens = readLines(file)
    const jose = require('jose')
    const jwks = jose.createRemoteJWKSet(new URL(url + '/api/.well-known/jwks.json'))
    const options = { issuer: url + '/api', algorithms: ['RS256'] }
    await jose.jwtVerify(tokens[0], jwks, options)
    const kept = new Map()
    const b = await settled()
    for (const t of tokens) kept.set(t, (await jose.jwtVerify(t, jwks, options)).payload)
    const a = await settled()
    emit({ before: b.rss, after: a.rss, heap_before: b.heap, heap_after: a.heap, entries: kept.size })
  } else if (mode === 'mem-resolve') {
    const [url, configPath, file] = args
    const references = readLines(file)
    const sdk = require('@runbeam/sdk')
    const { resolver } = newResolver(sdk, url, configPath)
    await resolver.resolve(references[0])
    const b = await settled()
    for (const r of references) await resolver.resolve(r)
    const a = await settled()
    emit({ before: b.rss, after: a.rss, heap_before: b.heap, heap_after: a.heap, entries: references.length, upstreamRequests: resolver.stats().upstreamRequests })
  } else {
    throw new Error(`unknown mode ${mode}`)
  }
}

main(process.argv.slice(2)).catch((e) => {
  console.error(e)
  process.exit(1)
})
