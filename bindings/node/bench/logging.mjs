// The cost of a logger on the hot path, ns per call: with no logger, with a logger at 'warn'
// (what a gateway runs with) and at 'debug', the same calls in the same run —
// `validator.validateCached` and `await validator.validate` of a cached user JWT, and
// `resolver.resolveCached` of a cached reference.
//
//   make node-release && RUNBEAM_DEVCLOUD=target/<triple>/debug/runbeam-devcloud \
//     node bindings/node/bench/logging.mjs            (then `make node-build` for the tests)
//
// A runbeam-devcloud subprocess mints the user JWT, serves the JWKS and answers the one
// upstream resolve; everything is warmed before the clock starts, so every measured call is a
// cache hit without I/O. The logger counts the records it receives (none is expected on these
// paths: the point is what an installed logger costs when it has nothing to say). Each repeat
// runs every (logger, case) pair in turn, the logger set before its three cases, so that load
// from other processes hits them alike; the table shows the median, the interquartile range
// and the best of the repeats.
//   node bench/logging.mjs [--calls N] [--await-calls N] [--repeats N]

import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

import { Client, MemoryTokenStore, MeshConfig, Resolver, TokenManager, Validator, setLogger, version } from '../index.mjs'
import { quantile } from './stats.mjs'

const require = createRequire(import.meta.url)
const { startDevcloud, ALICE_EMAIL, BOB_SANCTUM, ANALYTICS_GW, DICOMWEB } = require('../test/devcloud.cjs')

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '200000' },
    'await-calls': { type: 'string', default: '50000' },
    repeats: { type: 'string', default: '15' },
  },
})
const CALLS = Number(values.calls)
const AWAIT_CALLS = Number(values['await-calls'])
const REPEATS = Number(values.repeats)

const REPO = join(import.meta.dirname, '..', '..', '..')
// Built at run time, as a reference read from a request would be (not internalized).
const TEXT = ['runbeam', 'radiology-dept', 'ingress', 'name', 'dicomweb'].join('.')

const cloud = await startDevcloud()
let sink = 0
let records = 0
try {
  const toml = readFileSync(join(REPO, 'examples', 'config', 'ai-analytics.toml'), 'utf8')
    .replace('api = "https://api.runbeam.io"', `api = "${cloud.url}"\ncache_ttl_secs = 3600`)
  const client = new Client(cloud.url)
  const tokenManager = new TokenManager({ instanceId: ANALYTICS_GW, store: new MemoryTokenStore(), client, credential: BOB_SANCTUM })
  const resolver = new Resolver({ config: MeshConfig.fromToml(toml), client, tokenManager })
  resolver.validateStartup()
  await resolver.resolve(DICOMWEB)
  const validator = new Validator({ trustedIssuers: [`${cloud.url}/api`] })
  // A string built at run time, as a header value would be.
  const token = [...(await cloud.userJwt(ALICE_EMAIL))].join('')
  await validator.validate(token)
  await validator.validate(token) // remembered from its second verification on
  if (validator.validateCached(token) === null || resolver.resolveCached(TEXT) === null) throw new Error('not warm')

  const loggers = [
    ['no logger', () => setLogger(null)],
    ["logger at 'warn'", () => setLogger(() => records++, 'warn')],
    ["logger at 'debug'", () => setLogger(() => records++, 'debug')],
  ]
  // [name, calls per run, run]; async runs return a Promise.
  const cases = [
    ['validator.validateCached', CALLS, (n) => {
      for (let i = 0; i < n; i++) sink += validator.validateCached(token).exp
    }],
    ['await validator.validate', AWAIT_CALLS, async (n) => {
      for (let i = 0; i < n; i++) sink += (await validator.validate(token)).exp
    }],
    ['resolver.resolveCached', CALLS, (n) => {
      for (let i = 0; i < n; i++) sink += resolver.resolveCached(TEXT).resource.urls[0].length
    }],
  ]

  for (const [, install] of loggers) {
    install()
    for (const [, calls, run] of cases) await run(calls) // warm up: let V8 optimise every loop first
  }
  const samples = loggers.map(() => cases.map(() => []))
  for (let r = 0; r < REPEATS; r++) {
    for (const [l, [, install]] of loggers.entries()) {
      install()
      for (const [c, [, calls, run]] of cases.entries()) {
        const start = process.hrtime.bigint()
        await run(calls)
        samples[l][c].push(Number(process.hrtime.bigint() - start) / calls)
      }
    }
  }
  setLogger(null)
  await new Promise((done) => setTimeout(done, 50)) // let queued records arrive
  const v = validator.stats()
  const s = resolver.stats()

  console.log(`@runbeam/sdk ${version()}, Node ${process.version}, ${process.platform}-${process.arch}`)
  console.log(`hot path with and without a logger, ${REPEATS} repeats, ns/call (${CALLS} calls per run, ` +
    `${AWAIT_CALLS} for the awaited case); ${records} records delivered; ` +
    `validator: ${v.cacheHits} cache hits, ${v.verifications} verifications; resolver: ${s.hits} hits, ` +
    `${s.upstreamRequests} upstream request`)
  console.log('')
  console.log(`${'case'.padEnd(26)} ${'logger'.padEnd(18)} ${'median'.padStart(8)} ${'p25–p75'.padStart(15)} ${'best'.padStart(8)}`)
  cases.forEach(([name], c) => {
    loggers.forEach(([logger], l) => {
      const xs = samples[l][c]
      const iqr = `${quantile(xs, 0.25).toFixed(0)}–${quantile(xs, 0.75).toFixed(0)}`
      console.log(`${name.padEnd(26)} ${logger.padEnd(18)} ${quantile(xs, 0.5).toFixed(1).padStart(8)} ` +
        `${iqr.padStart(15)} ${Math.min(...xs).toFixed(1).padStart(8)}`)
    })
  })
} finally {
  await cloud.stop()
}
if (sink === 0) console.log('') // keeps `sink` observable
