// Token storage from Node: save + load of one machine token, with a peer, same run.
//
//   make node-bench      (release addon; or: node bench/storage.mjs [--rounds N] [--ops N]
//                         [--disk DIR] [--tmpfs DIR])
//
// Rows (microseconds per save + load, median of the rounds; rows interleaved within each round
// so that machine noise hits them alike):
// - memory: MemoryTokenStore — the binding's call overhead (a promise per call, the work on the
//   libuv thread pool) and the token's (de)serialization.
// - file: FileTokenStore (age X25519 encryption, advisory lock, temp file + fsync + rename +
//   directory fsync, then a locked read and decryption), on a disk directory (--disk, default
//   os.tmpdir()) and on tmpfs (--tmpfs, default /dev/shm).
// - peer: the same durable replace and read back written with node:fs/promises, of the same
//   number of bytes as our age file, in the same directory: open(wx, 0o600), write, sync,
//   close, rename, sync of the directory, readFile. It encrypts nothing: it is the floor of any
//   crash-safe file store written in Node.

import fs from 'node:fs'
import fsp from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'

import { FileTokenStore, MachineToken, MemoryTokenStore, version } from '@runbeam/sdk'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '9' },
    ops: { type: 'string', default: '100' },
    disk: { type: 'string', default: os.tmpdir() },
    tmpfs: { type: 'string', default: '/dev/shm' },
  },
})
const ROUNDS = Number(values.rounds)
const OPS = Number(values.ops)
const INSTANCE = 'bench'

const token = new MachineToken({
  machineToken: 'mt_' + 'x'.repeat(64),
  expiresAt: '2099-01-01T00:00:00Z',
  gatewayId: '01JBENCHGATEWAY0000000000',
  abilities: ['harmony:read', 'harmony:write', 'mesh:token'],
  issuedAt: '2026-11-25T00:00:00Z',
})

function storeRoundTrip(store) {
  return async () => {
    await store.saveMachineToken(INSTANCE, token)
    const back = await store.loadMachineToken(INSTANCE)
    if (back === null || back.gatewayId !== token.gatewayId) throw new Error('round trip lost the token')
  }
}

function peerRoundTrip(dir, size) {
  fs.mkdirSync(dir, { recursive: true })
  const data = Buffer.alloc(size, 'x')
  const temp = path.join(dir, 'peer.tmp')
  const target = path.join(dir, 'peer')
  return async () => {
    const file = await fsp.open(temp, 'wx', 0o600)
    try {
      await file.write(data)
      await file.sync()
    } finally {
      await file.close()
    }
    await fsp.rename(temp, target)
    const d = await fsp.open(dir, 'r')
    try {
      await d.sync()
    } finally {
      await d.close()
    }
    const back = await fsp.readFile(target)
    if (back.length !== size) throw new Error('peer read back a different size')
  }
}

async function perOpUs(op, ops) {
  const start = process.hrtime.bigint()
  for (let i = 0; i < ops; i++) await op()
  return Number(process.hrtime.bigint() - start) / 1e3 / ops
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

const rows = new Map()
const cleanup = []
rows.set('memory', { op: storeRoundTrip(new MemoryTokenStore()), ops: OPS * 20 })
for (const [label, base] of [['disk', values.disk], ['tmpfs', values.tmpfs]]) {
  if (!fs.existsSync(base)) {
    console.log(`  ${label}: ${base} does not exist, skipped`)
    continue
  }
  const root = fs.mkdtempSync(path.join(base, 'runbeam-bench-node-storage-'))
  cleanup.push(root)
  const store = new FileTokenStore({ root: path.join(root, 'home') })
  const op = storeRoundTrip(store)
  await op() // creates the key; sizes the peer
  const size = fs.statSync(store.location(INSTANCE, 'auth')).size
  rows.set(`file, ${label}`, { op, ops: OPS })
  rows.set(`peer, ${label}`, { op: peerRoundTrip(path.join(root, 'peer'), size), ops: OPS })
}

const samples = new Map([...rows.keys()].map((k) => [k, []]))
try {
  for (const { op } of rows.values()) await op() // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, { op, ops }] of rows) samples.get(name).push(await perOpUs(op, ops))
  }
} finally {
  for (const root of cleanup) fs.rmSync(root, { recursive: true, force: true })
}

const med = new Map([...samples].map(([k, v]) => [k, median(v)]))
console.log(`storage/node (@runbeam/sdk ${version()}): save + load of one machine token, median of ${ROUNDS} rounds, µs`)
console.log(`  ${'row'.padEnd(14)} ${'µs'.padStart(10)}  ops/round`)
for (const [name, { ops }] of rows) {
  let extra = ''
  if (name.startsWith('file, ')) extra = `   (ours / peer: ${(med.get(name) / med.get(name.replace('file', 'peer'))).toFixed(2)}x)`
  console.log(`  ${name.padEnd(14)} ${med.get(name).toFixed(1).padStart(10)}  ${ops}${extra}`)
}
console.log(`  in: disk ${values.disk}, tmpfs ${values.tmpfs}`)
