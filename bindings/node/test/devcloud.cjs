'use strict'
// Starts a runbeam-devcloud subprocess for the Client tests (path in $RUNBEAM_DEVCLOUD, set by
// `make node-test`) and drives its /_dev endpoints.

const { spawn } = require('node:child_process')
const { readFileSync } = require('node:fs')
const { join } = require('node:path')
const readline = require('node:readline')

const REPO = join(__dirname, '..', '..', '..')
const TARGET = process.env.CARGO_BUILD_TARGET || 'x86_64-unknown-linux-gnu'
const BINARY = process.env.RUNBEAM_DEVCLOUD || join(REPO, 'target', TARGET, 'debug', 'runbeam-devcloud')

// Seed facts of examples/devcloud/seed.toml.
const ALICE_SANCTUM = '1|rad-dev-7f3c9a2e5b14d6a8c0e1f2a3b4c5d6e7'
const ALICE_EMAIL = 'alice@radiology.example.com'
const BOB_SANCTUM = '2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f'
const RADIOLOGY_GW = 'radiology-gw-1'
const RADIOLOGY_GW_ID = '01JDWA7Z3DJ8FSSZ5AWSH8VHTP'
const ANALYTICS_GW = 'analytics-gw-1'
const MESH = 'imaging-integration'
const DICOM_URL = 'https://dicom.radiology.example.com'
const DICOMWEB = 'runbeam.radiology-dept.ingress.name.dicomweb'

const RETIRED = 'runbeam.radiology-dept.ingress.name.retired-api'
const ANALYTICS_TOML = readFileSync(join(REPO, 'examples', 'config', 'ai-analytics.toml'), 'utf8')

/** ai-analytics.toml (a `MeshConfig`) pointed at the devcloud at `url` with a cache TTL, also
 * listing `RETIRED`, a reference the Cloud does not know. */
function analyticsConfig(url, ttlSecs) {
  const { MeshConfig } = require('..')
  const text = ANALYTICS_TOML.replace('api = "https://api.runbeam.io"', `api = "${url}"\ncache_ttl_secs = ${ttlSecs}`)
    .replace(`"${DICOMWEB}",`, `"${DICOMWEB}",\n  "${RETIRED}",`)
  return MeshConfig.fromToml(text)
}

/** Starts the devcloud; resolves with `{url, fault, faults, clearFaults, count, resetCounts,
 * userJwt, machineTokenLifetime, publishChange, stop}`. */
function startDevcloud() {
  return new Promise((resolve, reject) => {
    const child = spawn(BINARY, ['--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] })
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`runbeam-devcloud exited with ${code} before printing its URL`)))
    const lines = readline.createInterface({ input: child.stdout })
    lines.once('line', (url) => {
      child.removeAllListeners('exit')
      child.stdout.resume()
      const dev = async (method, path, body) => {
        const res = await fetch(`${url}/_dev/${path}`, {
          method,
          headers: { 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        })
        if (!res.ok) throw new Error(`${method} /_dev/${path}: ${res.status} ${await res.text()}`)
        return res.status === 204 ? undefined : res.json()
      }
      resolve({
        url: url.trim(),
        /** Adds a fault (`{path, method?, count?, status?, retry_after?, latency_ms?,
         * drop_connection?, malformed_body?}`, paths as served, e.g. `/api/harmony/base-url`). */
        fault: (fault) => dev('POST', 'faults', fault),
        /** The faults not used up yet. */
        faults: async () => (await dev('GET', 'faults')).faults,
        clearFaults: () => dev('DELETE', 'faults'),
        /** Requests served since the last reset, by `"<METHOD> <path>"` (0 when none). */
        count: async (key) => (await dev('GET', 'counters')).counts[key] ?? 0,
        resetCounts: () => dev('DELETE', 'counters'),
        /** A user JWT devcloud signs for the seeded user `email` (`POST /_dev/jwt`; `extra`:
         * `{ttl_secs?, claims?, header?}`). */
        userJwt: async (email, extra = {}) => (await dev('POST', 'jwt', { email, ...extra })).token,
        /** Lifetime of the machine tokens authorized from now on, seconds. */
        machineTokenLifetime: (secs) => dev('POST', 'machine-token-lifetime', { secs }),
        /** Publishes a change in a gateway's change feed (`POST /_dev/changes`: `{gateway_code
         * | gateway_id, type, action, config?, resource_id?, name?}`); resolves with its id. */
        publishChange: async (change) => (await dev('POST', 'changes', change)).data.id,
        stop: () =>
          new Promise((done) => {
            if (child.exitCode !== null) return done()
            child.once('exit', () => done())
            child.kill('SIGTERM')
          }),
      })
    })
  })
}

module.exports = {
  startDevcloud,
  analyticsConfig,
  ANALYTICS_TOML,
  RETIRED,
  ALICE_SANCTUM,
  ALICE_EMAIL,
  BOB_SANCTUM,
  RADIOLOGY_GW,
  RADIOLOGY_GW_ID,
  ANALYTICS_GW,
  MESH,
  DICOM_URL,
  DICOMWEB,
}
