'use strict'
// Loads the native addon built from src/ (Rust, napi-rs). Only linux-x64 with glibc is packaged
// so far; on any other platform this throws a clear error instead of guessing (see README.md).

const { join } = require('node:path')

const ADDONS = {
  'linux-x64': 'runbeam.linux-x64-gnu.node',
}

const platform = `${process.platform}-${process.arch}`
const addon = ADDONS[platform]
if (addon === undefined) {
  throw new Error(
    `@runbeam/sdk: no native build for ${platform} yet (packaged: ${Object.keys(ADDONS).join(', ')} with glibc)`,
  )
}

try {
  module.exports = require(join(__dirname, addon))
} catch (cause) {
  throw new Error(
    `@runbeam/sdk: cannot load ${addon} (${cause.message}). ` +
      'Only linux-x64 with glibc is packaged; in a checkout, build it with `make node-build`.',
    { cause },
  )
}
