#!/usr/bin/env bash
# Installs the npm packages that `make node-dist` packed into dist/ as a user's project would, and
# uses them: @runbeam/sdk (JavaScript and types) and @runbeam/sdk-<platform> (the addon), both
# from their tarballs, OFFLINE (npm --offline with an empty cache of its own: nothing can come from
# a registry), into a fresh project. Then:
#   1. the install: both packages at the version of bindings/node/package.json, no addon in the
#      main package, no other platform package;
#   2. CommonJS: require('@runbeam/sdk') -- Reference.parse, errors, version, a JWT validation
#      (token minted by runbeam-devcloud, tampered and untrusted tokens refused), the addon loaded
#      from the platform package and without the test-only fault-injection hook;
#   3. ESM: the example gateways of examples/node/, copied into the project with their import of
#      the repository replaced by '@runbeam/sdk': mesh_check.mjs on examples/config/*.toml (as
#      examples/demo.sh runs it), gateway.mjs and authorize.mjs against runbeam-devcloud;
#   4. TypeScript: `tsc --noEmit` (allowJs, checkJs, strict but for implicit any, nodenext) of
#      the copied examples and of the CommonJS check against the installed package's index.d.ts,
#      and a misuse that must be refused.
# Called by `make node-install-test` (after node-dist and the workspace build). Exits non-zero on
# the first failure.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NODE_DIR=$ROOT/bindings/node
NODE_DIST=${NODE_DIST:-$ROOT/dist}
TRIPLE=${CARGO_BUILD_TARGET:-x86_64-unknown-linux-gnu}
DEVCLOUD=${DEVCLOUD:-$ROOT/target/$TRIPLE/debug/runbeam-devcloud}
PROJECT=${NODE_INSTALL_DIR:-$ROOT/build/node-install}
BOB='2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f'   # seeded Sanctum token of bob, team ai-analytics

fail() { echo "node-install-test: FAILED: $*" >&2; exit 1; }
step() { echo "node-install-test: $*"; }

version=$(node -p "require('$NODE_DIR/package.json').version")
platform=$(cd "$NODE_DIR" && node -p "require('@napi-rs/cli').parseTriple('$TRIPLE').platformArchABI")
main_tgz=$NODE_DIST/runbeam-sdk-$version.tgz
platform_tgz=$NODE_DIST/runbeam-sdk-$platform-$version.tgz
for f in "$main_tgz" "$platform_tgz"; do
  [ -f "$f" ] || fail "$f is missing: run 'make node-dist'"
done
[ -x "$DEVCLOUD" ] || fail "$DEVCLOUD is missing: run 'make build'"
# The footprint bound of every package: 8 MB (1,000,000 bytes each; BENCHMARKS.md "Footprint",
# bash scripts/footprint.sh prints every size). A size is not a timing: this fails only when a
# change grows what users download.
for f in "$main_tgz" "$platform_tgz"; do
  bytes=$(stat -c %s "$f")
  [ "$bytes" -le 8000000 ] || fail "$(basename "$f") is $bytes bytes, over the bound of 8000000. Find what" \
    "grew with 'bash scripts/footprint.sh --crates' (top crates), then drop the feature or dependency, or" \
    "give the cold crate opt-level \"z\" in Cargo.toml [profile.release.package] (see BENCHMARKS.md" \
    "\"Footprint\"); raise the bound only with the reason in docs/distribution.md"
  step "$(basename "$f"): $bytes bytes <= 8000000"
done
TSC=$NODE_DIR/node_modules/typescript/bin/tsc
TYPES=$NODE_DIR/node_modules/@types
[ -f "$TSC" ] && [ -d "$TYPES/node" ] || fail "typescript or @types/node missing in bindings/node: run 'make setup'"

# ------------------------------------------------------------------------------------ 1. install
rm -rf "$PROJECT"
mkdir -p "$PROJECT"
cd "$PROJECT"
cat >package.json <<'EOF'
{ "name": "runbeam-install-test", "version": "0.0.0", "private": true }
EOF
step "installing $(basename "$main_tgz") and $(basename "$platform_tgz") offline into $PROJECT"
# The optionalDependency @runbeam/sdk-$platform@$version of the main package is satisfied by the
# platform tarball given alongside; the other platforms' packages cannot be fetched offline and,
# being optional, are skipped.
npm install --offline --cache "$PROJECT/.npm-cache" --no-audit --no-fund --loglevel=error \
  "$main_tgz" "$platform_tgz" >npm-install.log 2>&1 || { cat npm-install.log >&2; fail "npm install"; }

installed() { node -p "require('./node_modules/$1/package.json').version" 2>/dev/null || echo none; }
[ "$(installed @runbeam/sdk)" = "$version" ] || fail "@runbeam/sdk is $(installed @runbeam/sdk), expected $version"
[ "$(installed "@runbeam/sdk-$platform")" = "$version" ] ||
  fail "@runbeam/sdk-$platform is $(installed "@runbeam/sdk-$platform"), expected $version"
others=$(find node_modules/@runbeam -mindepth 1 -maxdepth 1 ! -name sdk ! -name "sdk-$platform")
[ -z "$others" ] || fail "other packages installed: $others"
addons=$(find node_modules/@runbeam/sdk -name '*.node')
[ -z "$addons" ] || fail "the main package holds an addon: $addons"
[ -f "node_modules/@runbeam/sdk-$platform/runbeam.$platform.node" ] || fail "no addon in @runbeam/sdk-$platform"
# The tree npm wrote satisfies the main package's optionalDependency on this platform's package.
node -e '
  const lock = require("./package-lock.json").packages
  const want = require("./node_modules/@runbeam/sdk/package.json").optionalDependencies[process.argv[1]]
  const got = lock["node_modules/" + process.argv[1]]
  if (!got || got.version !== want) { console.error(`lock: ${process.argv[1]} ${got && got.version}, wanted ${want}`); process.exit(1) }
' "@runbeam/sdk-$platform" || fail "package-lock.json"
step "installed @runbeam/sdk $version and @runbeam/sdk-$platform $version ($(du -sh node_modules | cut -f1) in node_modules)"

# ----------------------------------------------------------------------------- runbeam-devcloud
. "$ROOT/scripts/lib/devcloud.sh"
out=$(mktemp)
homes=$(mktemp -d)
trap 'devcloud_stop; rm -rf "$out" "$homes"' EXIT
devcloud_start "$out" "$PROJECT/devcloud.log" || fail "runbeam-devcloud did not start"
url=$DEVCLOUD_URL
step "runbeam-devcloud at $url"

# ------------------------------------------------------------------------------------ 2. CommonJS
cat >check.cjs <<'EOF'
'use strict'
// CommonJS use of the installed @runbeam/sdk: node check.cjs DEVCLOUD_URL PLATFORM VERSION
const assert = require('node:assert/strict')
const { dirname, join, sep } = require('node:path')

const sdk = require('@runbeam/sdk')
const { Reference, Validator, errorCodes, version } = sdk

async function main() {
  const [cloud, platform, expected] = process.argv.slice(2)
  const here = join(__dirname, 'node_modules', '@runbeam')
  assert.equal(dirname(require.resolve('@runbeam/sdk')), join(here, 'sdk'))
  const addon = join(here, `sdk-${platform}`, `runbeam.${platform}.node`)
  const loaded = Object.keys(require.cache).filter((f) => f.endsWith('.node'))
  assert.deepEqual(loaded, [addon], 'the addon is loaded from the platform package')
  const native = require(`@runbeam/sdk-${platform}`)
  assert.equal(typeof native._faultArm, 'undefined', 'the packaged addon has the test-only fault hook')
  assert.equal(version(), expected)

  const ref = Reference.parse('runbeam.radiology-dept.INGRESS.name.dicomweb')
  assert.equal(ref.toString(), 'runbeam.radiology-dept.ingress.name.dicomweb')
  assert.deepEqual([ref.provider, ref.team, ref.type, ref.lookup, ref.value], [
    'runbeam', 'radiology-dept', 'ingress', 'name', 'dicomweb',
  ])
  assert.throws(() => Reference.parse('runbeam.radiology-dept.widget.name.x'), { code: 'RUNBEAM_INVALID_REFERENCE' })
  assert.ok(errorCodes().includes('RUNBEAM_INVALID_REFERENCE'))

  // A user JWT signed by runbeam-devcloud, validated with the keys of its JWKS.
  const res = await fetch(`${cloud}/_dev/jwt`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'alice@radiology.example.com' }),
  })
  assert.equal(res.status, 200)
  const { token } = /** @type {{ token: string }} */ (await res.json())
  const validator = new Validator({ trustedIssuers: [`${cloud}/api`] })
  const claims = await validator.validate(token)
  assert.equal(claims.iss, `${cloud}/api`)
  assert.equal(typeof claims.sub, 'string')
  assert.deepEqual(validator.validateCached(token)?.sub, claims.sub)
  const [header, payload, signature] = token.split('.')
  const tampered = `${header}.${payload}.${signature.slice(0, -4)}${signature.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`
  await assert.rejects(validator.validate(tampered), { code: 'RUNBEAM_JWT_INVALID' })
  const other = new Validator({ trustedIssuers: ['https://issuer.invalid/api'] })
  await assert.rejects(other.validate(token), { code: 'RUNBEAM_UNTRUSTED_ISSUER' })
  console.log(`[CommonJS] @runbeam/sdk ${version()} from ${sep === '/' ? addon.replace(__dirname, '.') : addon}: ` +
    `${ref} parsed; JWT of ${claims.sub} validated, tampered and untrusted ones refused`)
}

main().catch((e) => {
  console.error(e)
  process.exitCode = 1
})
EOF
node check.cjs "$url" "$platform" "$version" || fail "CommonJS check"

# ----------------------------------------------------------------------------------------- 3. ESM
mkdir -p examples
cp -r "$ROOT/examples/config" examples/config
for example in "$ROOT"/examples/node/*.mjs; do
  sed -e "s#'\.\./\.\./bindings/node/index\.mjs'#'@runbeam/sdk'#" \
    -e "s#'\.\./\.\./bindings/node/\(express\|fastify\)\.mjs'#'@runbeam/sdk/\1'#" "$example" >"$(basename "$example")"
done
if grep -n "bindings/node" ./*.mjs | grep -v '^[^:]*:[0-9]*:\s*//'; then
  fail "an example still imports from the repository (the replacement above no longer matches)"
fi
resolved=$(node --input-type=module -e "console.log(import.meta.resolve('@runbeam/sdk'))")
[ "$resolved" = "file://$PROJECT/node_modules/@runbeam/sdk/index.mjs" ] || fail "'@runbeam/sdk' resolves to $resolved"
# The middleware subpaths (@runbeam/sdk/express, @runbeam/sdk/fastify): shipped, and the same
# objects from require and import (no framework installed: they depend on none).
for sub in express fastify; do
  node --input-type=module -e "
    import { createRequire } from 'node:module'
    const esm = await import('@runbeam/sdk/$sub')
    const cjs = createRequire(process.cwd() + '/')('@runbeam/sdk/$sub')
    if (esm.authenticate !== cjs.authenticate || typeof cjs.meshGuard !== 'function' || typeof cjs.refuse !== 'function') process.exit(1)
  " || fail "@runbeam/sdk/$sub does not load"
done

# run EXPECTED_EXIT EXPECTED_TEXT COMMAND...: the exit status and a line of the output.
run() {
  local expected=$1 text=$2 got=0
  shift 2
  "$@" >run.log 2>&1 || got=$?
  sed 's/^/    /' run.log
  [ "$got" -eq "$expected" ] || fail "expected exit $expected, got $got: $*"
  grep -qF -- "$text" run.log || fail "no '$text' in the output of: $*"
}
DICOM=runbeam.radiology-dept.ingress.name.dicomweb
step "ESM: mesh_check.mjs on examples/config"
run 0 "[Node] librunbeam $version" node mesh_check.mjs examples/config/radiology-dept.toml dicomweb
run 0 "through mesh 'imaging-integration'" node mesh_check.mjs examples/config/ai-analytics.toml "$DICOM" \
  runbeam.radiology-dept.ingress.name.pacs "runbeam.radiology-dept.Ingress.name.dicomweb" \
  runbeam.radiology-dept.widget.name.dicomweb
run 1 "the gateway refuses to start" node mesh_check.mjs examples/config/broken-unknown-provider.toml
step "ESM: gateway.mjs against runbeam-devcloud"
RUNBEAM_HOME=$homes/gateway RUNBEAM_SANCTUM_TOKEN=$BOB run 0 "[Node] done" node gateway.mjs "$url"
step "ESM: authorize.mjs against runbeam-devcloud"
run 0 "authorized: machine token received" node authorize.mjs "$url" "$BOB" analytics-gw-1
run 1 "failed: RUNBEAM_" node authorize.mjs "$url" "$BOB" radiology-gw-1

# ---------------------------------------------------------------------------------- 4. TypeScript
# Strict (null checks and the rest), except that the examples' own untyped parameters and caught
# errors may be `any` (they are plain JavaScript, not annotated); with @types/node of
# bindings/node (the project has no registry to get it from). The '@runbeam/sdk' of each file
# must resolve to the installed package's index.d.ts.
cat >tsconfig.json <<EOF
{
  "compilerOptions": {
    "module": "nodenext",
    "moduleResolution": "nodenext",
    "target": "es2022",
    "allowJs": true,
    "checkJs": true,
    "noEmit": true,
    "strict": true,
    "noImplicitAny": false,
    "useUnknownInCatchVariables": false,
    "skipLibCheck": false,
    "typeRoots": ["$TYPES"],
    "types": ["node"]
  },
  "files": ["authorize.mjs", "gateway.mjs", "mesh_check.mjs", "mesh_gateway.mjs", "check.cjs"]
}
EOF
step "TypeScript $(node "$TSC" --version | sed 's/^Version //'): tsc -p tsconfig.json (examples/node and check.cjs)"
node "$TSC" -p tsconfig.json --listFiles >tsc.log 2>&1 || { grep -v '^/' tsc.log >&2; fail "tsc found errors"; }
grep -qx "$PROJECT/node_modules/@runbeam/sdk/index.d.ts" tsc.log || fail "tsc did not read the installed index.d.ts"
# Only @types/node (and its undici-types) may come from bindings/node/node_modules.
if grep -F "$NODE_DIR/" tsc.log | grep -vF "$NODE_DIR/node_modules/"; then fail "tsc read the repository's types"; fi
# The check is not vacuous: a misuse of the SDK is refused by the same configuration.
cat >misuse.mjs <<'EOF'
import { Reference, Validator } from '@runbeam/sdk'
Reference.parse(42)
new Validator({ trustedIssuers: 'https://api.runbeam.io/api' })
EOF
sed 's/"check.cjs"\]/"misuse.mjs"]/' tsconfig.json >tsconfig.misuse.json
if node "$TSC" -p tsconfig.misuse.json >tsc-misuse.log 2>&1; then fail "tsc accepted misuse.mjs"; fi
for line in 2 3; do
  grep -q "^misuse.mjs($line," tsc-misuse.log || { cat tsc-misuse.log >&2; fail "tsc did not refuse misuse.mjs line $line"; }
done
step "tsc: no errors in the examples; misuse.mjs refused ($(grep -c 'error TS' tsc-misuse.log) errors)"

echo "node-install-test: installed offline; CommonJS, ESM (examples/node with runbeam-devcloud) and TypeScript checks passed"
