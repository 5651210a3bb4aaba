// Reference resolution from Node on a cache hit, ns per call: Resolver.resolveCached and
// `await resolver.resolve()` against what a gateway would otherwise do per request, in the same
// run: a `Map.get` returning a small object (its own cache, no TTL, no mesh rules), the same
// awaited as a resolved Promise, and `Reference.parse` of the same string.
//
//   make node-release && RUNBEAM_DEVCLOUD=target/<triple>/debug/runbeam-devcloud \
//     node bindings/node/bench/resolver.mjs            (or: bash scripts/bench.sh node)
//
// A runbeam-devcloud subprocess answers the one upstream resolve (the cache is warmed before the
// clock starts; the TTL is an hour, so every measured call is a hit). Each case reads
// `resource.urls[0]` (or the peer's `url`) of its result. Cases run in their own loops,
// interleaved within each repeat so that load from other processes hits them alike; the table
// shows the median and the best of the repeats.
//   node bench/resolver.mjs [--calls N] [--repeats N]

import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

import { Client, MemoryTokenStore, MeshConfig, Reference, Resolver, TokenManager, version } from '../index.mjs'
import { median } from './stats.mjs'

const require = createRequire(import.meta.url)
const { startDevcloud, BOB_SANCTUM, ANALYTICS_GW, DICOMWEB } = require('../test/devcloud.cjs')

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '200000' },
    repeats: { type: 'string', default: '15' },
    'await-calls': { type: 'string', default: '50000' },
  },
})
const CALLS = Number(values.calls)
const AWAIT_CALLS = Number(values['await-calls'])
const REPEATS = Number(values.repeats)

const REPO = join(import.meta.dirname, '..', '..', '..')
// Built at run time, as a reference read from a request or a file would be (not internalized).
const TEXT = ['runbeam', 'radiology-dept', 'ingress', 'name', 'dicomweb'].join('.')
const LOCAL = ['imaging', 'out'].join('-')

const cloud = await startDevcloud()
let sink = 0
try {
  const toml = readFileSync(join(REPO, 'examples', 'config', 'ai-analytics.toml'), 'utf8')
    .replace('api = "https://api.runbeam.io"', `api = "${cloud.url}"\ncache_ttl_secs = 3600`)
  const client = new Client(cloud.url)
  const tokenManager = new TokenManager({ instanceId: ANALYTICS_GW, store: new MemoryTokenStore(), client, credential: BOB_SANCTUM })
  const resolver = new Resolver({ config: MeshConfig.fromToml(toml), client, tokenManager })
  resolver.validateStartup()
  const answer = await resolver.resolve(DICOMWEB)
  if (resolver.resolveCached(TEXT) !== answer) throw new Error('not a cache hit')

  // The peer: the gateway's own Map of small objects, keyed by the reference text.
  const map = new Map([[DICOMWEB, { url: answer.resource.urls[0], protocol: 'http3', mode: 'mesh' }]])
  for (let i = 0; i < 100; i++) map.set(`runbeam.team-${i}.ingress.name.api`, { url: `https://${i}.example.com`, protocol: 'http', mode: 'mesh' })

  // [name, calls per run, run]; async runs return a Promise.
  const cases = [
    ['Map.get (JS peer)', CALLS, (n) => {
      for (let i = 0; i < n; i++) sink += map.get(TEXT).url.length
    }],
    ['Reference.parse (same string)', CALLS, (n) => {
      for (let i = 0; i < n; i++) sink += Reference.parse(TEXT).value.length
    }],
    ['resolver.resolveCached', CALLS, (n) => {
      for (let i = 0; i < n; i++) sink += resolver.resolveCached(TEXT).resource.urls[0].length
    }],
    ['resolveCached (local reference)', CALLS, (n) => {
      for (let i = 0; i < n; i++) sink += resolver.resolveCached(LOCAL).resource.name.length
    }],
    ['await Promise.resolve(Map.get)', AWAIT_CALLS, async (n) => {
      for (let i = 0; i < n; i++) sink += (await Promise.resolve(map.get(TEXT))).url.length
    }],
    ['await resolver.resolve', AWAIT_CALLS, async (n) => {
      for (let i = 0; i < n; i++) sink += (await resolver.resolve(TEXT)).resource.urls[0].length
    }],
  ]

  for (const [, calls, run] of cases) await run(calls) // warm up: let V8 optimise every loop first
  const samples = cases.map(() => [])
  for (let r = 0; r < REPEATS; r++) {
    for (const [i, [, calls, run]] of cases.entries()) {
      const start = process.hrtime.bigint()
      await run(calls)
      samples[i].push(Number(process.hrtime.bigint() - start) / calls)
    }
  }
  const stats = resolver.stats()
  if (stats.upstreamRequests !== 1) throw new Error(`expected one upstream request, saw ${stats.upstreamRequests}`)

  console.log(`@runbeam/sdk ${version()}, Node ${process.version}, ${process.platform}-${process.arch}`)
  console.log(`cache hits of '${DICOMWEB}' (text built at run time), ${REPEATS} repeats, ns/call`)
  console.log(`(${CALLS} calls per run for the synchronous cases, ${AWAIT_CALLS} for the awaited ones;` +
    ` ${stats.hits} resolver hits, ${stats.upstreamRequests} upstream request)`)
  console.log('')
  console.log(`${'case'.padEnd(33)} ${'median'.padStart(8)} ${'best'.padStart(8)}`)
  cases.forEach(([name], i) => {
    console.log(`${name.padEnd(33)} ${median(samples[i]).toFixed(1).padStart(8)} ${Math.min(...samples[i]).toFixed(1).padStart(8)}`)
  })
} finally {
  await cloud.stop()
}
if (sink === 0) console.log('') // keeps `sink` observable
