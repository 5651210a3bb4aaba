'use strict'
// The packages (napi-rs layout: @runbeam/sdk plus one @runbeam/sdk-<platform> per addon) and the
// loader, native.js: which file it loads on each platform, and what it says when it cannot.
// The loader runs in a child process on a copy of native.js whose process.platform, process.arch
// and /usr/bin/ldd are faked by a preload script.

const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const { join } = require('node:path')
const { after, test } = require('node:test')

const { REPO } = require('./helpers.cjs')

const PACKAGE = join(__dirname, '..')
const pkg = require('../package.json')
const { parseTriple } = require('@napi-rs/cli')

const PLATFORMS = pkg.napi.targets.map((triple) => parseTriple(triple).platformArchABI)
const SCRATCH = join(REPO, 'build', 'node-loader-test')
const DEBUG_ADDON = join(PACKAGE, 'runbeam.linux-x64-gnu.node')
const onLinuxX64 = process.platform === 'linux' && process.arch === 'x64' && fs.existsSync(DEBUG_ADDON)

after(() => fs.rmSync(SCRATCH, { recursive: true, force: true }))

const PRELOAD = `
const fs = require('node:fs')
const { FAKE_PLATFORM, FAKE_ARCH, FAKE_LDD } = process.env
if (FAKE_PLATFORM) Object.defineProperty(process, 'platform', { value: FAKE_PLATFORM })
if (FAKE_ARCH) Object.defineProperty(process, 'arch', { value: FAKE_ARCH })
if (FAKE_LDD !== undefined) {
  const readFileSync = fs.readFileSync
  fs.readFileSync = function (path, ...rest) {
    if (path === '/usr/bin/ldd') return FAKE_LDD
    return readFileSync.call(this, path, ...rest)
  }
}
`

const GLIBC_LDD = '#! /bin/bash\n# ldd of the GNU C Library\nTEXTDOMAIN=libc\n'
const MUSL_LDD = '#!/bin/sh\nexec /lib/ld-musl-x86_64.so.1 --list "$@"\n'

/** A directory with a copy of native.js and package.json (and `extra` files); returns its path. */
function packageDir(name, extra = {}) {
  const dir = join(SCRATCH, name)
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  fs.copyFileSync(join(PACKAGE, 'native.js'), join(dir, 'native.js'))
  fs.copyFileSync(join(PACKAGE, 'package.json'), join(dir, 'package.json'))
  fs.writeFileSync(join(dir, 'preload.cjs'), PRELOAD)
  for (const [file, content] of Object.entries(extra)) {
    fs.mkdirSync(join(dir, file, '..'), { recursive: true })
    if (content === DEBUG_ADDON) {
      try {
        fs.linkSync(DEBUG_ADDON, join(dir, file))
      } catch {
        fs.copyFileSync(DEBUG_ADDON, join(dir, file))
      }
    } else {
      fs.writeFileSync(join(dir, file), content)
    }
  }
  return dir
}

/** Loads dir/native.js with the faked platform; {status, stdout, stderr}. stdout: the .node files loaded. */
function load(dir, { platform, arch, ldd } = {}) {
  const env = { ...process.env, FAKE_PLATFORM: platform ?? '', FAKE_ARCH: arch ?? '' }
  if (ldd !== undefined) env.FAKE_LDD = ldd
  else delete env.FAKE_LDD
  const script = `require(${JSON.stringify(join(dir, 'native.js'))});
    console.log(JSON.stringify(Object.keys(require.cache).filter((f) => f.endsWith('.node'))))`
  return spawnSync(process.execPath, ['-r', join(dir, 'preload.cjs'), '-e', script], { env, encoding: 'utf8' })
}

/** The first line of the Error the loader threw. */
function errorOf(result) {
  assert.notEqual(result.status, 0, `loaded: ${result.stdout}`)
  const line = result.stderr.split('\n').find((l) => l.startsWith('Error: '))
  assert.ok(line, result.stderr)
  return line
}

test('optionalDependencies are the platform packages of napi.targets, at the same version', () => {
  assert.deepEqual(
    pkg.optionalDependencies,
    Object.fromEntries(PLATFORMS.map((p) => [`@runbeam/sdk-${p}`, pkg.version])),
  )
  assert.ok(!pkg.files.some((f) => f.endsWith('.node')), 'the main package must not ship an addon')
  assert.deepEqual([...PLATFORMS].sort(), [
    'darwin-arm64', 'darwin-x64', 'linux-arm64-gnu', 'linux-arm64-musl', 'linux-x64-gnu', 'linux-x64-musl', 'win32-x64-msvc',
  ])
})

test('each platform package directory npm/<platform>/ declares its os, cpu and libc', () => {
  assert.deepEqual(fs.readdirSync(join(PACKAGE, 'npm')).sort(), [...PLATFORMS].sort())
  for (const triple of pkg.napi.targets) {
    const { platformArchABI: platform, platform: os, arch, abi } = parseTriple(triple)
    const sub = JSON.parse(fs.readFileSync(join(PACKAGE, 'npm', platform, 'package.json'), 'utf8'))
    assert.equal(sub.name, `@runbeam/sdk-${platform}`)
    assert.equal(sub.version, pkg.version, `${sub.name} version`)
    assert.equal(sub.main, `runbeam.${platform}.node`)
    assert.deepEqual(sub.files, [sub.main])
    assert.deepEqual(sub.os, [os])
    assert.deepEqual(sub.cpu, [arch])
    if (os === 'linux') assert.deepEqual(sub.libc, [abi === 'musl' ? 'musl' : 'glibc'])
    else assert.equal(sub.libc, undefined)
    assert.equal(sub.license, pkg.license)
    assert.deepEqual(sub.engines, pkg.engines)
  }
})

test('native.js knows exactly the packaged platforms', () => {
  const source = fs.readFileSync(join(PACKAGE, 'native.js'), 'utf8')
  const listed = [...source.match(/const PLATFORMS = \[([^\]]*)\]/)[1].matchAll(/'([^']+)'/g)].map((m) => m[1])
  assert.deepEqual(listed.sort(), [...PLATFORMS].sort())
})

test('without an addon, the error names the platform and the package looked for', () => {
  const dir = packageDir('none')
  const cases = [
    [{ platform: 'linux', arch: 'x64', ldd: GLIBC_LDD }, 'linux-x64-gnu'],
    [{ platform: 'linux', arch: 'x64', ldd: MUSL_LDD }, 'linux-x64-musl'],
    [{ platform: 'linux', arch: 'arm64', ldd: GLIBC_LDD }, 'linux-arm64-gnu'],
    [{ platform: 'linux', arch: 'arm64', ldd: MUSL_LDD }, 'linux-arm64-musl'],
    [{ platform: 'darwin', arch: 'x64' }, 'darwin-x64'],
    [{ platform: 'darwin', arch: 'arm64' }, 'darwin-arm64'],
    [{ platform: 'win32', arch: 'x64' }, 'win32-x64-msvc'],
  ]
  for (const [fake, platform] of cases) {
    const error = errorOf(load(dir, fake))
    assert.ok(error.includes(`this platform, ${platform}, is in the package @runbeam/sdk-${platform}, which is not installed`), error)
    assert.ok(error.includes(`add @runbeam/sdk-${platform}@${pkg.version}`), error)
    assert.ok(!error.includes('make node-build'), `an installed package gets no checkout hint: ${error}`)
  }
})

test('on a platform without a build, the error names it, its would-be package and the packaged ones', () => {
  const dir = packageDir('unsupported')
  for (const [fake, platform] of [
    [{ platform: 'freebsd', arch: 'x64' }, 'freebsd-x64'],
    [{ platform: 'linux', arch: 'riscv64', ldd: GLIBC_LDD }, 'linux-riscv64-gnu'],
    [{ platform: 'win32', arch: 'ia32' }, 'win32-ia32-msvc'],
  ]) {
    const error = errorOf(load(dir, fake))
    assert.ok(error.includes(`no native build for this platform, ${platform}`), error)
    assert.ok(error.includes(`@runbeam/sdk-${platform}, which is not published`), error)
    assert.ok(error.includes(`Packages exist for: ${PLATFORMS.join(', ')}.`), error)
  }
})

test('in a development checkout, the error says how to build the addon', () => {
  const dir = packageDir('checkout', { 'Cargo.toml': '[package]\n' })
  const error = errorOf(load(dir, { platform: 'linux', arch: 'x64', ldd: GLIBC_LDD }))
  assert.ok(error.includes('build the addon with `make node-build`'), error)
  assert.ok(error.includes('runbeam.linux-x64-gnu.node next to native.js'), error)
})

const sub = (version) =>
  JSON.stringify({ name: '@runbeam/sdk-linux-x64-gnu', version, main: 'runbeam.linux-x64-gnu.node' })

test('the platform package is loaded when it is installed', { skip: !onLinuxX64 && 'needs the linux-x64-gnu addon of make node-build' }, () => {
  const dir = packageDir('installed', {
    'node_modules/@runbeam/sdk-linux-x64-gnu/package.json': sub(pkg.version),
    'node_modules/@runbeam/sdk-linux-x64-gnu/runbeam.linux-x64-gnu.node': DEBUG_ADDON,
  })
  const result = load(dir)
  assert.equal(result.status, 0, result.stderr)
  assert.deepEqual(JSON.parse(result.stdout), [join(dir, 'node_modules/@runbeam/sdk-linux-x64-gnu/runbeam.linux-x64-gnu.node')])
})

test('an addon next to native.js comes before the package', { skip: !onLinuxX64 && 'needs the linux-x64-gnu addon of make node-build' }, () => {
  const dir = packageDir('both', {
    'runbeam.linux-x64-gnu.node': DEBUG_ADDON,
    'node_modules/@runbeam/sdk-linux-x64-gnu/package.json': sub(pkg.version),
    'node_modules/@runbeam/sdk-linux-x64-gnu/runbeam.linux-x64-gnu.node': 'not an addon',
  })
  const result = load(dir)
  assert.equal(result.status, 0, result.stderr)
  assert.deepEqual(JSON.parse(result.stdout), [join(dir, 'runbeam.linux-x64-gnu.node')])
})

test('a platform package of another version is refused', { skip: !onLinuxX64 && 'linux-x64 only' }, () => {
  const dir = packageDir('mismatch', {
    'node_modules/@runbeam/sdk-linux-x64-gnu/package.json': sub('0.0.1-other'),
    'node_modules/@runbeam/sdk-linux-x64-gnu/runbeam.linux-x64-gnu.node': DEBUG_ADDON,
  })
  const error = errorOf(load(dir))
  assert.ok(error.includes(`@runbeam/sdk-linux-x64-gnu is version 0.0.1-other, but @runbeam/sdk is ${pkg.version}`), error)
})

test('an addon that cannot be loaded is named with the reason', { skip: !onLinuxX64 && 'linux-x64 only' }, () => {
  const dir = packageDir('broken', {
    'node_modules/@runbeam/sdk-linux-x64-gnu/package.json': sub(pkg.version),
    'node_modules/@runbeam/sdk-linux-x64-gnu/runbeam.linux-x64-gnu.node': 'not an addon',
  })
  const error = errorOf(load(dir))
  assert.match(error, /cannot load the addon of @runbeam\/sdk-linux-x64-gnu for linux-x64-gnu, .*runbeam\.linux-x64-gnu\.node \(.*(invalid ELF header|file too short)/)
})
