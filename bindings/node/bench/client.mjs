// Per-call overhead of the Node Client against runbeam-devcloud, versus a bare keep-alive
// `fetch` + JSON parse of the same request, in the same run.
//
//   make node-bench    (or: RUNBEAM_DEVCLOUD=path node bindings/node/bench/client.mjs)
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { Client } from '../index.mjs'

const ROUNDS = 11
const CALLS = 200
const REF = 'runbeam.radiology-dept.ingress.name.dicomweb'
const BOB = '2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f'
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
const triple = process.env.CARGO_BUILD_TARGET ?? 'x86_64-unknown-linux-gnu'
const binary = process.env.RUNBEAM_DEVCLOUD ?? path.join(root, 'target', triple, 'debug', 'runbeam-devcloud')

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function perCallUs(fn) {
  const start = process.hrtime.bigint()
  for (let i = 0; i < CALLS; i++) await fn()
  return Number(process.hrtime.bigint() - start) / CALLS / 1000
}

const server = spawn(binary, ['--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'ignore'] })
try {
  const [url] = await once(createInterface({ input: server.stdout }), 'line')
  const user = new Client(url, { token: BOB })
  const granted = await user.authorize('analytics-gw-1')
  const gateway = user.withToken(granted.expose())
  const target = `${url}/api/harmony/resources/resolve?ref=${encodeURIComponent(REF)}`
  const headers = { authorization: `Bearer ${granted.expose()}`, accept: 'application/json' }

  const cases = {
    'bare fetch + json()': async () => (await fetch(target, { headers })).json(),
    'Client.resolve': () => gateway.resolve(REF),
  }
  const rows = Object.fromEntries(Object.keys(cases).map((k) => [k, []]))
  for (const fn of Object.values(cases)) await fn() // warm connections
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, fn] of Object.entries(cases)) rows[name].push(await perCallUs(fn))
  }
  const base = median(rows['bare fetch + json()'])
  console.log(`resolve ${REF} against runbeam-devcloud (${ROUNDS} rounds x ${CALLS} calls, median)`)
  for (const [name, values] of Object.entries(rows)) {
    const m = median(values)
    console.log(`  ${name.padEnd(24)} ${m.toFixed(1).padStart(8)} us/call  ${(m / base).toFixed(2)}x`)
  }
} finally {
  server.kill('SIGTERM')
}
