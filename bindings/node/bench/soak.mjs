// Soak: 1,000,000 mixed calls in one process, to show that neither errors nor the hot paths
// leak. Roughly equal shares, interleaved call by call:
//   - cached validations of a valid token (`validateCached` of a token already validated);
//   - invalid tokens, in turn: malformed, an `alg` with a multi-byte character ("a€b"), a
//     wrong signature (each must throw RUNBEAM_JWT_INVALID);
//   - resolver cache hits (`resolveCached` after one `resolve` against runbeam-devcloud);
//   - reference parses, valid and invalid in turn (RUNBEAM_INVALID_REFERENCE for the latter).
// Prints RSS after the warm-up (10,000 calls), after 100,000 calls and at the end, the growth
// after the warm-up, the count of unexpected results (exit 1 unless 0) and the total time.
//
//   make node-release && cd bindings/node && \
//     RUNBEAM_DEVCLOUD=../../target/x86_64-unknown-linux-gnu/debug/runbeam-devcloud \
//     node --expose-gc bench/soak.mjs [--calls N]
//   (then `make node-build` restores the debug addon)
//
// With --expose-gc a full GC runs before each RSS reading, so the figures compare live memory
// rather than the collector's timing.

import { createRequire } from 'node:module'
import { parseArgs } from 'node:util'

import { Reference, Validator, version } from '../index.mjs'

const require = createRequire(import.meta.url)
const { startDevcloud, analyticsConfig, BOB_SANCTUM, ANALYTICS_GW, DICOMWEB } = require('../test/devcloud.cjs')
const { Client, MemoryTokenStore, Resolver, TokenManager } = require('..')

const { values } = parseArgs({ options: { calls: { type: 'string', default: '1000000' } } })
const CALLS = Number(values.calls)
const WARMUP = 10_000
const CHECKPOINT = 100_000

const rss = () => {
  globalThis.gc?.()
  return process.memoryUsage().rss
}
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`

const cloud = await startDevcloud()
let unexpected = 0
const firstUnexpected = []
try {
  const mint = async (extra = {}) => {
    const res = await fetch(`${cloud.url}/_dev/jwt`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'alice@radiology.example.com', ...extra }),
    })
    if (!res.ok) throw new Error(`/_dev/jwt: ${res.status} ${await res.text()}`)
    return (await res.json()).token
  }
  const validator = new Validator({ trustedIssuers: [`${cloud.url}/api`] })
  await validator.refreshKeys()
  const valid = await mint()
  const validated = await validator.validate(valid)
  const [h, p, s] = valid.split('.')
  const flipped = s[10] === 'A' ? 'B' : 'A'
  const invalidTokens = [
    'not-a-jwt.at-all',
    await mint({ header: { alg: 'a€b' } }),
    `${h}.${p}.${s.slice(0, 10)}${flipped}${s.slice(11)}`,
  ]

  const client = new Client(cloud.url)
  const tokenManager = new TokenManager({ instanceId: ANALYTICS_GW, store: new MemoryTokenStore(), client, credential: BOB_SANCTUM })
  const resolver = new Resolver({ config: analyticsConfig(cloud.url, 3600), client, tokenManager })
  const answer = await resolver.resolve(DICOMWEB)

  // Valid at even indexes, invalid at odd ones.
  const references = [DICOMWEB, 'runbeam..ingress.name.x', 'runbeam.acme-corp.ingress.id.abc123', 'runbeam.a.b.c.d.e.f']

  const fail = (what) => {
    unexpected++
    if (firstUnexpected.length < 5) firstUnexpected.push(what)
  }
  const throws = (call, code, what) => {
    try {
      call()
      fail(`${what}: no error`)
    } catch (e) {
      if (e?.code !== code) fail(`${what}: ${e?.code} ${e?.message}`)
    }
  }

  const step = (i) => {
    const k = i >> 2
    switch (i & 3) {
      case 0:
        if (validator.validateCached(valid)?.jti !== validated.jti) fail('validateCached: not the claims of the token')
        break
      case 1:
        throws(() => validator.validateCached(invalidTokens[k % 3]), 'RUNBEAM_JWT_INVALID', `invalid token ${k % 3}`)
        break
      case 2:
        if (resolver.resolveCached(DICOMWEB) !== answer) fail('resolveCached: not the cached answer')
        break
      default: {
        const text = references[k & 3]
        if (k & 1) throws(() => Reference.parse(text), 'RUNBEAM_INVALID_REFERENCE', `parse ${text}`)
        else if (Reference.parse(text).toString() !== text) fail(`parse ${text}`)
      }
    }
  }

  const start = process.hrtime.bigint()
  let i = 0
  for (; i < WARMUP; i++) step(i)
  const afterWarmup = rss()
  for (; i < CHECKPOINT; i++) step(i)
  const afterCheckpoint = rss()
  for (; i < CALLS; i++) step(i)
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  const end = rss()

  console.log(`librunbeam ${version()}, Node ${process.version}, ${CALLS.toLocaleString('en')} mixed calls`)
  console.log(`RSS after warm-up (${WARMUP.toLocaleString('en')} calls):    ${mib(afterWarmup)}`)
  console.log(`RSS after ${CHECKPOINT.toLocaleString('en')} calls:              ${mib(afterCheckpoint)}`)
  console.log(`RSS at the end:                       ${mib(end)}`)
  const growth = (from) => `${(((end - from) / from) * 100).toFixed(1)} %`
  console.log(`growth after warm-up:                 ${growth(afterWarmup)}`)
  console.log(`growth after ${CHECKPOINT.toLocaleString('en')} calls:           ${growth(afterCheckpoint)}`)
  console.log(`unexpected results:                   ${unexpected}`)
  for (const what of firstUnexpected) console.log(`  ${what}`)
  console.log(`total time:                           ${seconds.toFixed(2)} s (${((seconds / CALLS) * 1e9).toFixed(0)} ns per call)`)
  if (globalThis.gc === undefined) console.log('(run with --expose-gc for RSS after a full GC)')
} finally {
  await cloud.stop()
}
process.exitCode = unexpected === 0 ? 0 : 1
