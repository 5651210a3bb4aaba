// Throughput of distinct-token JWT validation on both cores: one at a time against many in
// flight, and how free the event loop stays meanwhile, with jose, fast-jwt and jsonwebtoken in
// the same run.
//
//   make node-release && cd bindings/node && node --expose-gc bench/throughput.mjs   (or: make node-bench)
//
// Tokens: 10,000 distinct RS256 user JWTs minted by a runbeam-devcloud subprocess
// (POST /_dev/jwt count=10000); every round uses a fresh verifier (ours with its keys fetched
// by refreshKeys before the clock starts) and verifies each token once, so every token costs a
// signature check (cache on: the verified-token cache is filled but never hit; cache off:
// cacheCapacity 0).
//
// Cases, each µs per token (wall and this process's CPU), ops/s and the speed-up:
// - one at a time: `validateCached` (synchronous), `await validate(t)` in a loop;
// - 64 in flight, two ways: `await Promise.all(64 validate Promises)` batch after batch (every
//   batch waits for its slowest token: the verifier drains, then refills), and steadily — 64
//   loops each awaiting one `validate` after another, so that a new call starts as each one
//   settles, as a gateway's 64 concurrent requests do;
// - runbeam's shipped offload (src/offload.rs, src/lane.rs: signature checks on the verify
//   threads, one per core, answers back through one completion lane per JavaScript thread) and
//   `inline` (every check on the JavaScript thread: the behaviour before, switched by the
//   internal `_verifyOffload`);
// - the no-op hop: `_offloadNoop()` Promises, completed from a verify thread through the same
//   lane with no verification, 64 in flight and one at a time: what the hop itself costs the
//   JavaScript thread and the process per Promise, which no change to verification can remove;
// - jose `jwtVerify` (WebCrypto on libuv's pool) one at a time and 64 in flight; fast-jwt
//   (cache off and on) and jsonwebtoken, synchronous, one at a time.
// While the 64-in-flight cases run, perf_hooks.monitorEventLoopDelay (1 ms resolution) records
// the event loop's delay: p50 / p99 / max in ms over all rounds.
//
// Figures are medians over ROUNDS rounds after one warm-up round, with the min–max over the
// rounds; the cases take turns within each round, so a burst of load hits them alike. The
// machine's load average is printed before and after: on a shared machine read the ratios.
// Set RUNBEAM_DEVCLOUD to the devcloud binary (default: the debug build in target/).

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { availableParallelism, loadavg } from 'node:os'
import { monitorEventLoopDelay } from 'node:perf_hooks'

import { createVerifier } from 'fast-jwt'
import { createLocalJWKSet, jwtVerify } from 'jose'
import jsonwebtoken from 'jsonwebtoken'

import { Validator } from '../index.mjs'
import { distinctTokens } from './fixture.mjs'
import { median } from './stats.mjs'

const require = createRequire(import.meta.url)
const { startDevcloud } = require('../test/devcloud.cjs')
const native = require('../native.js')

const DISTINCT = Number(process.env.THROUGHPUT_TOKENS ?? 10_000)
const ROUNDS = Number(process.env.THROUGHPUT_ROUNDS ?? 7)
const IN_FLIGHT = Number(process.env.THROUGHPUT_IN_FLIGHT ?? 64)

let sink = 0

/**
 * CPU time of the JavaScript thread alone, ns (Linux: the first field of its schedstat), or
 * null elsewhere. What an offloaded check leaves on the event loop.
 */
function jsThreadNs() {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0])
  } catch {
    return null
  }
}

/** The clocks a round starts just before its loop, after a full GC when node runs with --expose-gc. */
const clocks = () => {
  globalThis.gc?.()
  return { cpu: process.cpuUsage(), js: jsThreadNs(), start: process.hrtime.bigint() }
}

/** `verify(t)` (a Promise or a value) for each token, one at a time. */
async function oneAtATime(tokens, verify) {
  const clock = clocks()
  for (const t of tokens) sink += (await verify(t))?.sub?.length ?? 1
  return clock
}

/** `verify(t)` for each token, `IN_FLIGHT` Promises at a time (batches through Promise.all). */
async function inFlight(tokens, verify) {
  const clock = clocks()
  for (let i = 0; i < tokens.length; i += IN_FLIGHT) {
    const batch = await Promise.all(tokens.slice(i, i + IN_FLIGHT).map(verify))
    for (const claims of batch) sink += claims?.sub?.length ?? 1
  }
  return clock
}

/** `verify(t)` for each token, `IN_FLIGHT` at all times: that many loops, each awaiting one after another. */
async function steady(tokens, verify) {
  const clock = clocks()
  let next = 0
  const loop = async () => {
    while (next < tokens.length) {
      const claims = await verify(tokens[next++])
      sink += claims?.sub?.length ?? 1
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, loop))
  return clock
}

/** `verify(t)` synchronously for each token. */
function sync(tokens, verify) {
  const clock = clocks()
  for (const t of tokens) sink += verify(t).sub.length
  return clock
}

const cloud = await startDevcloud()
try {
  const { issuer, tokens, jwks, publicKey, pem } = await distinctTokens(cloud, DISTINCT)
  const joseOptions = { issuer, algorithms: ['RS256'] }
  const fastOptions = { key: pem, algorithms: ['RS256'], allowedIss: issuer }
  const jwtOptions = { algorithms: ['RS256'], issuer }

  const ours = async (cacheCapacity) => {
    const v = new Validator({ trustedIssuers: [issuer], cacheCapacity })
    await v.refreshKeys()
    return v
  }
  // Sanity: every verifier accepts the tokens and agrees on `sub`.
  const one = tokens[0]
  const sub = (await ours(0)).validateCached(one).sub
  if ((await jwtVerify(one, createLocalJWKSet(jwks), joseOptions)).payload.sub !== sub) throw new Error('jose disagrees')
  if (createVerifier(fastOptions)(one).sub !== sub) throw new Error('fast-jwt disagrees')
  if (jsonwebtoken.verify(one, publicKey, jwtOptions).sub !== sub) throw new Error('jsonwebtoken disagrees')

  /** A runbeam case: `run(tokens, verify)` with a fresh validator, in offload `mode`. */
  const runbeam = (capacity, mode, run, call) => async () => {
    native._verifyOffload(mode)
    const v = await ours(capacity)
    try {
      return await run(tokens, (t) => call(v, t))
    } finally {
      native._verifyOffload('auto')
    }
  }
  const validate = (v, t) => v.validate(t)
  const joseCase = (run) => async () => {
    const keys = createLocalJWKSet(jwks)
    return run(tokens, async (t) => (await jwtVerify(t, keys, joseOptions)).payload)
  }

  // name → { run, group, baseline?, loop? (measure the event loop's delay) }
  const cases = {}
  for (const [label, capacity] of [['cache off', 0], ['cache on', 10_000]]) {
    const g = `runbeam, ${label}`
    cases[`${g}: validateCached (sync)`] = { group: g, run: runbeam(capacity, 'auto', sync, (v, t) => v.validateCached(t)) }
    cases[`${g}: await validate, 1 at a time`] = { group: g, run: runbeam(capacity, 'auto', oneAtATime, validate) }
    cases[`${g}: validate x${IN_FLIGHT} in flight`] = { group: g, loop: true, run: runbeam(capacity, 'auto', inFlight, validate) }
    cases[`${g}: validate x${IN_FLIGHT} in flight, steady`] = { group: g, loop: true, run: runbeam(capacity, 'auto', steady, validate) }
    cases[`${g}: await validate, 1 at a time, 'inline' (before)`] = { group: g, run: runbeam(capacity, 'inline', oneAtATime, validate) }
    cases[`${g}: validate x${IN_FLIGHT}, 'inline' (before)`] = { group: g, loop: true, run: runbeam(capacity, 'inline', inFlight, validate) }
  }
  const noop = () => native._offloadNoop()
  cases[`no-op hop x${IN_FLIGHT} in flight (no verification)`] = {
    group: 'no-op',
    loop: true,
    run: async () => inFlight(tokens, noop),
  }
  cases[`no-op hop x${IN_FLIGHT} in flight, steady (no verification)`] = {
    group: 'no-op',
    loop: true,
    run: async () => steady(tokens, noop),
  }
  cases['no-op hop, 1 at a time (no verification)'] = { group: 'no-op', run: async () => oneAtATime(tokens, noop) }
  cases['jose: await jwtVerify, 1 at a time'] = { group: 'jose', run: joseCase(oneAtATime) }
  cases[`jose: jwtVerify x${IN_FLIGHT} in flight`] = { group: 'jose', loop: true, run: joseCase(inFlight) }
  cases[`jose: jwtVerify x${IN_FLIGHT} in flight, steady`] = { group: 'jose', loop: true, run: joseCase(steady) }
  cases['fast-jwt (no cache): sync'] = { group: 'fast-jwt', run: async () => sync(tokens, createVerifier(fastOptions)) }
  cases['fast-jwt (cache): sync'] = {
    group: 'fast-jwt',
    run: async () => sync(tokens, createVerifier({ ...fastOptions, cache: DISTINCT })),
  }
  cases['jsonwebtoken: verify, sync'] = {
    group: 'jsonwebtoken',
    run: async () => sync(tokens, (t) => jsonwebtoken.verify(t, publicKey, jwtOptions)),
  }

  const times = Object.fromEntries(Object.keys(cases).map((name) => [name, { wall: [], cpu: [], js: [] }]))
  const delays = {}
  const measureOnce = async (name) => {
    const { run, loop } = cases[name]
    const histogram = loop ? monitorEventLoopDelay({ resolution: 1 }) : null
    histogram?.enable()
    const { start, cpu, js } = await run()
    const wall = Number(process.hrtime.bigint() - start) / 1e3 / tokens.length
    const used = process.cpuUsage(cpu)
    const jsNow = jsThreadNs()
    const jsCpu = js === null || jsNow === null ? NaN : (jsNow - js) / 1e3 / tokens.length
    // A loop blocked for the whole run has its one late sample taken when it turns again.
    if (histogram) await new Promise((done) => setTimeout(done, 3))
    histogram?.disable()
    return { wall, cpu: (used.user + used.system) / tokens.length, js: jsCpu, histogram }
  }
  const load = () => loadavg().map((x) => x.toFixed(2)).join(' ')
  console.log(`load average before: ${load()} (${availableParallelism()} cores)`)
  for (const name of Object.keys(cases)) await measureOnce(name) // warm-up
  const roundLoads = []
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of Object.keys(cases)) {
      const t = await measureOnce(name)
      times[name].wall.push(t.wall)
      times[name].cpu.push(t.cpu)
      times[name].js.push(t.js)
      if (t.histogram) {
        const d = (delays[name] ??= { p50: [], p99: [], max: [] })
        d.p50.push(t.histogram.percentile(50) / 1e6)
        d.p99.push(t.histogram.percentile(99) / 1e6)
        d.max.push(t.histogram.max / 1e6)
      }
    }
    roundLoads.push(loadavg()[0].toFixed(2))
  }
  console.log(`load average after:  ${load()}; 1-minute load at each round's end: ${roundLoads.join(', ')}`)

  const fmt = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2))
  const stats = Object.fromEntries(
    Object.entries(times).map(([name, t]) => [
      name,
      {
        wall: median(t.wall),
        min: Math.min(...t.wall),
        max: Math.max(...t.wall),
        cpu: median(t.cpu),
        js: median(t.js),
      },
    ]),
  )
  // Speed-up: the one-at-a-time rate of the same library (and cache setting) over this rate.
  const baselineOf = (name) => {
    const { group } = cases[name]
    if (group.startsWith('runbeam')) return `${group}: validateCached (sync)`
    if (group === 'jose') return 'jose: await jwtVerify, 1 at a time'
    return null
  }
  console.log(
    `\nDistinct RS256 tokens (${tokens.length}), µs/token: median of ${ROUNDS} rounds [min–max], ` +
      `CPU of this process per token, ops/s, speed-up over the same verifier one at a time ` +
      `(runbeam: validateCached); CPU of the JavaScript thread alone per token; the bound on 2 idle ` +
      `cores, max(JS-thread CPU, process CPU / 2), and its speed-up over the same verifier's one at a time CPU; ` +
      `event-loop delay while ${IN_FLIGHT} are in flight (ms, p50 / p99 / max, medians over rounds)\n`,
  )
  console.log(
    `| case | µs/token [min–max] | CPU µs/token | JS-thread CPU µs/token | ops/s | speed-up | ` +
      `2 idle cores: µs/token (speed-up) | loop delay p50 / p99 / max (ms) |`,
  )
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |')
  for (const [name, s] of Object.entries(stats)) {
    const base = baselineOf(name)
    const speedup = base ? `${(stats[base].wall / s.wall).toFixed(2)}×` : ''
    const d = delays[name]
    const loop = d ? `${fmt(median(d.p50))} / ${fmt(median(d.p99))} / ${fmt(median(d.max))}` : ''
    const bound = Math.max(s.js, s.cpu / 2)
    const boundUp = base ? ` (${(stats[base].cpu / bound).toFixed(2)}×)` : ''
    console.log(
      `| ${name} | ${fmt(s.wall)} [${fmt(s.min)}–${fmt(s.max)}] | ${fmt(s.cpu)} | ${fmt(s.js)} | ` +
        `${Math.round(1e6 / s.wall).toLocaleString('en-US')} | ${speedup} | ${fmt(bound)}${boundUp} | ${loop} |`,
    )
  }
  const j1 = stats['jose: await jwtVerify, 1 at a time'].wall
  const ours64 = stats[`runbeam, cache off: validate x${IN_FLIGHT} in flight`].wall
  console.log(
    `\nrunbeam validate x${IN_FLIGHT} (cache off) against jose x${IN_FLIGHT}: ` +
      `${(stats[`jose: jwtVerify x${IN_FLIGHT} in flight`].wall / ours64).toFixed(2)}× faster; ` +
      `against jose one at a time: ${(j1 / ours64).toFixed(2)}×; against fast-jwt (no cache): ` +
      `${(stats['fast-jwt (no cache): sync'].wall / ours64).toFixed(2)}×; against jsonwebtoken: ` +
      `${(stats['jsonwebtoken: verify, sync'].wall / ours64).toFixed(2)}×`,
  )
  const hop = stats[`no-op hop x${IN_FLIGHT} in flight (no verification)`]
  const steady64 = stats[`runbeam, cache off: validate x${IN_FLIGHT} in flight, steady`].wall
  console.log(
    `the hop alone (no-op, ${IN_FLIGHT} in flight): ${fmt(hop.js)} µs of the JavaScript thread and ` +
      `${fmt(hop.cpu)} µs of process CPU per Promise; runbeam validate x${IN_FLIGHT} (cache off) against ` +
      `validateCached one at a time: ${(stats['runbeam, cache off: validateCached (sync)'].wall / ours64).toFixed(2)}× ` +
      `in batches, ${(stats['runbeam, cache off: validateCached (sync)'].wall / steady64).toFixed(2)}× steady`,
  )
  if (sink === 0) console.log('(sink)')
} finally {
  await cloud.stop()
}
