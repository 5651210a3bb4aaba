// JWT validation, µs per token: Validator (validateCached, and the validate Promise against the
// same cached-then-fetch step composed in JavaScript, as index.js did before) against what a
// Node gateway would use instead, in the same run: jose `jwtVerify` with `createLocalJWKSet`, and
// fast-jwt `createVerifier` with the public key (PEM), without and with its cache.
//
//   make node-release && cd bindings/node && node --expose-gc bench/jwt.mjs   (or: make node-bench)
//
// Tokens: 10,000 distinct RS256 user JWTs minted by a runbeam-devcloud subprocess
// (POST /_dev/jwt count=10000). "distinct": a fresh verifier per round (ours with its keys
// fetched by refreshKeys before the clock starts), each token verified once per round.
// "repeated": one token verified over and over by one verifier. Each variant reads `sub` of the
// result, so a lazily built result is not an unfair advantage. Figures are medians of ROUNDS
// rounds after one warm-up round, the cases taking turns within each round. Set
// RUNBEAM_DEVCLOUD to the devcloud binary (default: the debug build in target/).

import { createRequire } from 'node:module'

import { createVerifier } from 'fast-jwt'
import { createLocalJWKSet, jwtVerify } from 'jose'

import { Validator } from '../index.mjs'
import { distinctTokens } from './fixture.mjs'
import { median } from './stats.mjs'

const require = createRequire(import.meta.url)
const { startDevcloud } = require('../test/devcloud.cjs')

const DISTINCT = Number(process.env.JWT_BENCH_TOKENS ?? 10_000)
const REPEATS = Number(process.env.JWT_BENCH_REPEATS ?? 100_000)
const ROUNDS = Number(process.env.JWT_BENCH_ROUNDS ?? 7)

/** Wall-clock and CPU (user + system, this process) µs per token of one run of `round`, which
 * returns how many tokens it verified and when its clock started. CPU time is what to read on
 * a loaded machine: it does not count the time other processes hold the cores. */
async function once(round) {
  const { n, start, cpu } = await round()
  const wall = Number(process.hrtime.bigint() - start) / 1e3 / n
  const used = process.cpuUsage(cpu)
  return { wall, cpu: (used.user + used.system) / n }
}

/** The clocks a round starts just before its loop, after a full GC when node runs with
 * --expose-gc (so that no case pays for the garbage of the one before). */
const clocks = () => {
  globalThis.gc?.()
  return { cpu: process.cpuUsage(), start: process.hrtime.bigint() }
}

/** Median µs per token of each case, `{wall, cpu}`. The cases take turns within each round, so
 * a burst of load on the machine hits them alike. */
async function measure(cases) {
  const times = Object.fromEntries(Object.keys(cases).map((name) => [name, { wall: [], cpu: [] }]))
  for (const round of Object.values(cases)) await once(round) // warm-up
  for (let i = 0; i < ROUNDS; i++) {
    for (const [name, round] of Object.entries(cases)) {
      const t = await once(round)
      times[name].wall.push(t.wall)
      times[name].cpu.push(t.cpu)
    }
  }
  return Object.fromEntries(
    Object.entries(times).map(([name, t]) => [name, { wall: median(t.wall), cpu: median(t.cpu) }]),
  )
}

const cloud = await startDevcloud()
let sink = 0
try {
  const { issuer, tokens, jwks, pem } = await distinctTokens(cloud, DISTINCT)
  const one = tokens[0]
  const joseOptions = { issuer, algorithms: ['RS256'] }
  const fastOptions = { key: pem, algorithms: ['RS256'], allowedIss: issuer }

  const ours = async (options) => {
    const v = new Validator({ trustedIssuers: [issuer], ...options })
    await v.refreshKeys()
    return v
  }
  // Sanity: every verifier accepts the tokens and agrees on `sub`.
  const sub = (await ours()).validateCached(one).sub
  if ((await jwtVerify(one, createLocalJWKSet(jwks), joseOptions)).payload.sub !== sub) throw new Error('jose disagrees')
  if (createVerifier(fastOptions)(one).sub !== sub) throw new Error('fast-jwt disagrees')

  // The cached-then-fetch step composed in JavaScript (what index.js did before `validate` took it
  // from runbeam-core in Rust): the cache-only call, then a resolved Promise, or the fetch.
  const composed = (v, t) => {
    try {
      const claims = v.validateCached(t)
      return claims === null ? v.validate(t) : Promise.resolve(claims)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  const distinct = {
    'runbeam validateCached': async () => {
      const v = await ours()
      const { start, cpu } = clocks()
      for (const t of tokens) sink += v.validateCached(t).sub.length
      return { n: tokens.length, start, cpu }
    },
    'runbeam validate (Promise)': async () => {
      const v = await ours()
      const { start, cpu } = clocks()
      for (const t of tokens) sink += (await v.validate(t)).sub.length
      return { n: tokens.length, start, cpu }
    },
    'validate composed in JS': async () => {
      const v = await ours()
      const { start, cpu } = clocks()
      for (const t of tokens) sink += (await composed(v, t)).sub.length
      return { n: tokens.length, start, cpu }
    },
    'fast-jwt (no cache)': async () => {
      const verify = createVerifier(fastOptions)
      const { start, cpu } = clocks()
      for (const t of tokens) sink += verify(t).sub.length
      return { n: tokens.length, start, cpu }
    },
    'fast-jwt (cache)': async () => {
      const verify = createVerifier({ ...fastOptions, cache: DISTINCT })
      const { start, cpu } = clocks()
      for (const t of tokens) sink += verify(t).sub.length
      return { n: tokens.length, start, cpu }
    },
    'jose jwtVerify': async () => {
      const keys = createLocalJWKSet(jwks)
      const { start, cpu } = clocks()
      for (const t of tokens) sink += (await jwtVerify(t, keys, joseOptions)).payload.sub.length
      return { n: tokens.length, start, cpu }
    },
  }

  const repeated = {
    'runbeam validateCached': async () => {
      const v = await ours()
      v.validateCached(one)
      const { start, cpu } = clocks()
      for (let i = 0; i < REPEATS; i++) sink += v.validateCached(one).sub.length
      return { n: REPEATS, start, cpu }
    },
    'runbeam validate (Promise)': async () => {
      const v = await ours()
      v.validateCached(one)
      const { start, cpu } = clocks()
      for (let i = 0; i < REPEATS; i++) sink += (await v.validate(one)).sub.length
      return { n: REPEATS, start, cpu }
    },
    'validate composed in JS': async () => {
      const v = await ours()
      v.validateCached(one)
      const { start, cpu } = clocks()
      for (let i = 0; i < REPEATS; i++) sink += (await composed(v, one)).sub.length
      return { n: REPEATS, start, cpu }
    },
    'fast-jwt (no cache)': async () => {
      const verify = createVerifier(fastOptions)
      const { start, cpu } = clocks()
      for (let i = 0; i < REPEATS / 20; i++) sink += verify(one).sub.length
      return { n: REPEATS / 20, start, cpu }
    },
    'fast-jwt (cache)': async () => {
      const verify = createVerifier({ ...fastOptions, cache: true })
      verify(one)
      const { start, cpu } = clocks()
      for (let i = 0; i < REPEATS; i++) sink += verify(one).sub.length
      return { n: REPEATS, start, cpu }
    },
    'jose jwtVerify': async () => {
      const keys = createLocalJWKSet(jwks)
      const { start, cpu } = clocks()
      for (let i = 0; i < REPEATS / 50; i++) sink += (await jwtVerify(one, keys, joseOptions)).payload.sub.length
      return { n: REPEATS / 50, start, cpu }
    },
  }

  const results = {}
  results.distinct = await measure(distinct)
  results.repeated = await measure(repeated)

  const fmt = (x) => (x >= 10 ? x.toFixed(1) : x.toFixed(2))
  const d = results.distinct
  const r = results.repeated
  const sync = 'runbeam validateCached'
  const promise = 'runbeam validate (Promise)'
  console.log(`JWT validation, RS256, µs/token, median of ${ROUNDS} rounds (${DISTINCT} distinct tokens, ${REPEATS} repeats)`)
  console.log(`${'verifier'.padEnd(28)} ${'distinct wall'.padStart(13)} ${'cpu'.padStart(7)} ${'repeated wall'.padStart(13)} ${'cpu'.padStart(7)}`)
  for (const name of Object.keys(distinct)) {
    console.log(
      `${name.padEnd(28)} ${fmt(d[name].wall).padStart(13)} ${fmt(d[name].cpu).padStart(7)} ${fmt(r[name].wall).padStart(13)} ${fmt(r[name].cpu).padStart(7)}`,
    )
  }
  console.log('')
  for (const clock of ['wall', 'cpu']) {
    const x = (a, b) => a[clock] / b[clock]
    const line = (text, v, target) => `${clock}: ${text} = ${v.toFixed(1)}x${target === undefined ? '' : ` (target ${target[0]}: ${target[1](v) ? 'met' : 'MISSED'})`}`
    console.log(line('distinct, fast-jwt (no cache) / validateCached', x(d['fast-jwt (no cache)'], d[sync]), ['>= 1.5x', (v) => v >= 1.5]))
    console.log(line('distinct, jose / validateCached', x(d['jose jwtVerify'], d[sync]), ['>= 6x', (v) => v >= 6]))
    console.log(line('distinct, fast-jwt (no cache) / validate Promise', x(d['fast-jwt (no cache)'], d[promise])))
    console.log(line('distinct, jose / validate Promise', x(d['jose jwtVerify'], d[promise])))
    console.log(line('repeated, fast-jwt (cache) / validateCached', x(r['fast-jwt (cache)'], r[sync]), ['> 1x', (v) => v > 1]))
    console.log(line('repeated, fast-jwt (cache) / validate Promise', x(r['fast-jwt (cache)'], r[promise])))
    console.log(line('repeated, validate composed in JS / validate Promise (Rust)', x(r['validate composed in JS'], r[promise])))
    console.log(line('distinct, validate composed in JS / validate Promise (Rust)', x(d['validate composed in JS'], d[promise])))
    console.log(line('validateCached, distinct / repeated', x(d[sync], r[sync]), ['>= 20x', (v) => v >= 20]))
  }
} finally {
  await cloud.stop()
}
if (sink === 0) console.log('(nothing verified)')
