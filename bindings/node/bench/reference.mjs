// Reference parsing from Node: Reference.parse (and reading its parts) vs a naive JS parser.
//
// The naive parser is what a gateway author would write instead: split on '.', build a small
// object of the five parts, lowercase the type. It validates nothing, so it is a floor.
// All cases run in the same process, interleaved within each repeat so that load from other
// processes affects them alike; the table shows the median and the best of the repeats.
//
// Two inputs: the string literal, and the same text built at run time. V8 caches the result of
// `split` for internalized strings such as literals, which flatters the naive parser; a
// reference read from a request or a file is usually not internalized.
//
// Run against a release build: `make node-bench` (napi build --release, then this script).
//   node bench/reference.mjs [--calls N] [--repeats N]

import { parseArgs } from 'node:util'

import { Reference, version } from '@runbeam/sdk'
import { median } from './stats.mjs'

const TEXT = 'runbeam.acme-healthcare.ingress.name.fhir-api'
const BUILT = ['runbeam', 'acme-healthcare', 'ingress', 'name', 'fhir-api'].join('.')

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '200000' },
    repeats: { type: 'string', default: '15' },
  },
})
const CALLS = Number(values.calls)
const REPEATS = Number(values.repeats)

function naiveParse(text) {
  const parts = text.split('.')
  return { provider: parts[0], team: parts[1], type: parts[2].toLowerCase(), lookup: parts[3], value: parts[4] }
}

let sink = 0
const readParts = (r) => r.provider.length + r.team.length + r.type.length + r.lookup.length + r.value.length

// Each case runs `n` calls in its own loop (a function per case keeps V8's feedback separate).
// [name, input label, baseline row index, run]
const cases = [
  ['naive split parser (JS)', 'literal', 0, (n) => {
    for (let i = 0; i < n; i++) sink += readParts(naiveParse(TEXT))
  }],
  ['Reference.parse + 5 parts', 'literal', 0, (n) => {
    for (let i = 0; i < n; i++) sink += readParts(Reference.parse(TEXT))
  }],
  ['Reference.parse only', 'literal', 0, (n) => {
    for (let i = 0; i < n; i++) sink += Reference.parse(TEXT).isLocal ? 0 : 1
  }],
  ['naive split parser (JS)', 'run-time', 3, (n) => {
    for (let i = 0; i < n; i++) sink += readParts(naiveParse(BUILT))
  }],
  ['Reference.parse + 5 parts', 'run-time', 3, (n) => {
    for (let i = 0; i < n; i++) sink += readParts(Reference.parse(BUILT))
  }],
]

// Both parsers agree on both inputs (a comparison of the strings themselves could internalize).
for (const text of [TEXT, BUILT]) {
  const check = Reference.parse(text)
  const naive = naiveParse(text)
  for (const key of ['provider', 'team', 'type', 'lookup', 'value']) {
    if (check[key] !== naive[key]) throw new Error(`parsers disagree on ${key}`)
  }
}

for (const [, , , run] of cases) run(CALLS) // warm up: let V8 optimise every loop first

const samples = cases.map(() => [])
for (let r = 0; r < REPEATS; r++) {
  cases.forEach(([, , , run], i) => {
    const start = process.hrtime.bigint()
    run(CALLS)
    samples[i].push(Number(process.hrtime.bigint() - start) / CALLS)
  })
}

const medians = samples.map(median)

console.log(`@runbeam/sdk ${version()}, Node ${process.version}, ${process.platform}-${process.arch}`)
console.log(`input '${TEXT}' (as a literal, and built at run time), ${REPEATS} repeats x ${CALLS} calls, ns/call`)
console.log('')
console.log(`${'case'.padEnd(27)} ${'input'.padEnd(9)} ${'median'.padStart(7)} ${'best'.padStart(7)}  vs naive`)
cases.forEach(([name, input, baseline], i) => {
  const best = Math.min(...samples[i])
  const ratio = (medians[i] / medians[baseline]).toFixed(2)
  console.log(
    `${name.padEnd(27)} ${input.padEnd(9)} ${medians[i].toFixed(1).padStart(7)} ${best.toFixed(1).padStart(7)}  ${ratio}x`,
  )
})
if (sink === 0) console.log('') // keeps `sink` observable
