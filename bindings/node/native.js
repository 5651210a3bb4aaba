'use strict'
// Loads the native addon (Rust, napi-rs; built from src/) for the platform this process runs on.
//
// @runbeam/sdk ships no addon itself: each platform's addon is its own package,
// @runbeam/sdk-<platform> (npm/<platform>/ in the repository), an optionalDependency at the same
// version; npm installs only the one whose os/cpu/libc match. The platform is found as napi-rs
// loaders find it: process.platform and process.arch, and on Linux the C library (glibc: -gnu,
// musl: -musl), read from /usr/bin/ldd, else from the process report, else from `ldd --version`.
//
// Order: an addon next to this file first (a development checkout: `make node-build` puts
// runbeam.linux-x64-gnu.node here), then the platform package. On a platform without a build,
// or when its package is not installed, the error names the platform and the package.

const { existsSync, readFileSync } = require('node:fs')
const { dirname, join } = require('node:path')

/** The platforms a package is published for (package.json "napi.targets"; npm/<platform>/). */
const PLATFORMS = [
  'linux-x64-gnu',
  'linux-x64-musl',
  'linux-arm64-gnu',
  'linux-arm64-musl',
  'darwin-x64',
  'darwin-arm64',
  'win32-x64-msvc',
]

const NAME = '@runbeam/sdk'
const VERSION = require('./package.json').version

const isMuslFile = (file) => file.includes('libc.musl-') || file.includes('ld-musl-')

function isMuslFromFilesystem() {
  try {
    return readFileSync('/usr/bin/ldd', 'utf-8').includes('musl')
  } catch {
    return null
  }
}

function isMuslFromReport() {
  if (!process.report || typeof process.report.getReport !== 'function') return null
  process.report.excludeNetwork = true
  const report = process.report.getReport()
  if (!report) return null
  if (report.header && report.header.glibcVersionRuntime) return false
  return Array.isArray(report.sharedObjects) && report.sharedObjects.some(isMuslFile)
}

function isMuslFromChildProcess() {
  try {
    return require('node:child_process').execSync('ldd --version', { encoding: 'utf8' }).includes('musl')
  } catch {
    return false
  }
}

function isMusl() {
  const fromFilesystem = isMuslFromFilesystem()
  if (fromFilesystem !== null) return fromFilesystem
  const fromReport = isMuslFromReport()
  if (fromReport !== null) return fromReport
  return isMuslFromChildProcess()
}

/** The napi-rs platform name of this process, e.g. `linux-x64-gnu`, `darwin-arm64`, `win32-x64-msvc`. */
function currentPlatform() {
  const { platform, arch } = process
  if (platform === 'linux') return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`
  if (platform === 'win32') {
    const variables = (process.config && process.config.variables) || {}
    const gnu = variables.shlib_suffix === 'dll.a' || variables.node_target_type === 'shared_library'
    return `win32-${arch}-${gnu ? 'gnu' : 'msvc'}`
  }
  return `${platform}-${arch}`
}

/** Loads the addon; every failure is an Error naming the platform and where it looked. */
function load() {
  const platform = currentPlatform()
  const file = `runbeam.${platform}.node`
  const pkg = `${NAME}-${platform}`

  // 1. A development checkout: the addon built next to this file.
  const local = join(__dirname, file)
  if (existsSync(local)) {
    try {
      return require(local)
    } catch (cause) {
      throw new Error(`${NAME}: cannot load the addon ${local} (${cause.message})`, { cause })
    }
  }

  const checkout = existsSync(join(__dirname, 'Cargo.toml'))
  const hint = checkout
    ? ` This is a development checkout: build the addon with \`make node-build\` (it writes ${file} next to native.js).`
    : ''
  if (!PLATFORMS.includes(platform)) {
    throw new Error(
      `${NAME}: no native build for this platform, ${platform} (it would be the package ${pkg}, ` +
        `which is not published). Packages exist for: ${PLATFORMS.join(', ')}.${hint}`,
    )
  }

  // 2. The platform package, installed by npm as an optionalDependency.
  let manifest
  try {
    manifest = require.resolve(`${pkg}/package.json`)
  } catch (cause) {
    if (cause.code !== 'MODULE_NOT_FOUND') throw cause
    throw new Error(
      `${NAME}: the native addon for this platform, ${platform}, is in the package ${pkg}, which is ` +
        `not installed. npm installs it with ${NAME} (an optionalDependency) unless optional ` +
        `dependencies were omitted (--omit=optional, --no-optional), it could not be fetched (npm ` +
        `skips a failed optional package silently), or node_modules was copied from another ` +
        `platform: reinstall, or add ${pkg}@${VERSION} explicitly.${hint}`,
      { cause },
    )
  }
  const { version, main } = JSON.parse(readFileSync(manifest, 'utf8'))
  if (version !== VERSION) {
    throw new Error(
      `${NAME}: ${pkg} is version ${version}, but ${NAME} is ${VERSION}: both must be the same ` +
        `version (reinstall ${NAME}, or install ${pkg}@${VERSION})`,
    )
  }
  const addon = join(dirname(manifest), main || file)
  try {
    return require(addon)
  } catch (cause) {
    throw new Error(`${NAME}: cannot load the addon of ${pkg} for ${platform}, ${addon} (${cause.message})`, {
      cause,
    })
  }
}

module.exports = load()
