# Node binding (`@runbeam/sdk`), included by the top-level Makefile (which exports
# CARGO_BUILD_TARGET, so `napi build` shares target/$(CARGO_BUILD_TARGET)/ with cargo).
#
#   make node-build   debug addon -> bindings/node/runbeam.<platform>.node; index.d.ts regenerated
#                     into $(NODE_GEN)/debug/ (what node-test compares with the checked-in copy)
#   make node-dts     node-build, then copy the regenerated index.d.ts over the checked-in one
#   make node-test    node-build, index.d.ts drift check, `node --test` (the Client tests run
#                     against a runbeam-devcloud subprocess: $(NODE_DEVCLOUD), built here)
#   make node-bench   release addon (replaces the debug one until the next node-build), then the
#                     benchmarks of bench/ (client.mjs and jwt.mjs against a devcloud subprocess;
#                     jwt.mjs compares with jose and fast-jwt, devDependencies of package.json;
#                     storage.mjs compares the token stores with the same durable replace in fs;
#                     logging.mjs times the hot path with no logger, a logger at warn and at debug;
#                     middleware.mjs the cost per request of the Express and Fastify middleware
#                     over the bare framework (express and fastify: devDependencies);
#                     throughput.mjs distinct-token validation one at a time against 64 in flight
#                     (the Promise form's checks on worker threads, src/offload.rs) with the
#                     event loop's delay, jose, fast-jwt and jsonwebtoken in the same run;
#                     soak.mjs makes 1,000,000 mixed calls and fails on unexpected results)
#   make node-dist    release addon (no fault injection), stripped (its line tables kept in
#                     $(ROOT)/dist/runbeam.<platform>.node.debug), put into its platform package
#                     npm/<platform>/, then `npm pack` of @runbeam/sdk and of that package into
#                     $(ROOT)/dist/ (sizes printed). Leaves the in-tree (debug) addon alone.
#   make node-install-test
#                     node-dist, then tests/install/node.sh: both tarballs installed offline into a
#                     fresh project, CommonJS and ESM use (examples/node against runbeam-devcloud),
#                     and a TypeScript check of the examples against the installed package's types.
#
# Packages (the napi-rs layout): @runbeam/sdk holds the JavaScript and index.d.ts, no addon; each
# platform's addon is @runbeam/sdk-<platform> (npm/<platform>/package.json: os, cpu, libc), an
# optionalDependency of @runbeam/sdk at the same version. Only $(NODE_PLATFORM) is built here;
# the others of package.json's napi.targets are built by a release CI on their own runners.
#
# Needs `npm install --no-audit --no-fund` in bindings/node (done by `make setup`).

NODE_DIR := $(ROOT)/bindings/node
NODE_GEN := $(ROOT)/target/$(CARGO_BUILD_TARGET)/napi
NAPI := $(NODE_DIR)/node_modules/.bin/napi
NODE_DEVCLOUD := $(ROOT)/target/$(CARGO_BUILD_TARGET)/debug/runbeam-devcloud
# A test still running after this fails as timed out (its file's process is ended) instead of
# holding the whole run: the longest test takes a few seconds on a loaded machine.
NODE_TEST_TIMEOUT_MS ?= 300000
NODE_TESTS := $(wildcard $(NODE_DIR)/test/*.test.cjs $(NODE_DIR)/test/*.test.mjs)

.PHONY: node-build node-dts node-test node-bench node-release node-dist node-dist-compile node-install-test

# $(1): debug or release. The addon is built in $(NODE_GEN)/$(1).
define node_napi_compile
	@test -x $(NAPI) || { echo "$(NAPI) is missing: run 'make setup' (or npm install --no-audit --no-fund in bindings/node)" >&2; exit 1; }
	cd $(NODE_DIR) && $(NAPI) build --platform --no-js \
	  $(if $(filter release,$(1)),--release,--features fault-injection) \
	  --output-dir $(NODE_GEN)/$(1) --dts index.d.ts
endef

# node_napi_compile, then the addon is renamed into bindings/node/, so a running process that
# has the old one mapped is not disturbed.
define node_napi_build
	$(call node_napi_compile,$(1))
	@for addon in $(NODE_GEN)/$(1)/*.node; do \
	  cp "$$addon" "$(NODE_DIR)/.$$(basename $$addon).tmp" && \
	  mv -f "$(NODE_DIR)/.$$(basename $$addon).tmp" "$(NODE_DIR)/$$(basename $$addon)"; \
	done
endef

node-build:
	$(call node_napi_build,debug)

node-dts: node-build
	cp $(NODE_GEN)/debug/index.d.ts $(NODE_DIR)/index.d.ts

# `build` (the whole workspace, as `make test` builds it) provides runbeam-devcloud: a
# `cargo build -p` here would re-resolve features and rebuild ~20 crates.
node-test: node-build build
	@if ! diff -u $(NODE_DIR)/index.d.ts $(NODE_GEN)/debug/index.d.ts; then \
	  echo "bindings/node/index.d.ts is stale: run 'make node-dts' and commit it" >&2; exit 1; fi
	@echo "node-test: bindings/node/index.d.ts is up to date"
	cd $(NODE_DIR) && RUNBEAM_DEVCLOUD=$(NODE_DEVCLOUD) node --test --test-timeout=$(NODE_TEST_TIMEOUT_MS) $(NODE_TESTS)

node-release:
	$(call node_napi_build,release)

node-bench: node-release
	cargo build -p runbeam-devcloud
	cd $(NODE_DIR) && node bench/reference.mjs
	cd $(NODE_DIR) && RUNBEAM_DEVCLOUD=$(NODE_DEVCLOUD) node bench/client.mjs
	cd $(NODE_DIR) && RUNBEAM_DEVCLOUD=$(NODE_DEVCLOUD) node --expose-gc bench/jwt.mjs
	cd $(NODE_DIR) && node bench/storage.mjs
	cd $(NODE_DIR) && RUNBEAM_DEVCLOUD=$(NODE_DEVCLOUD) node bench/logging.mjs
	cd $(NODE_DIR) && RUNBEAM_DEVCLOUD=$(NODE_DEVCLOUD) node bench/middleware.mjs
	cd $(NODE_DIR) && RUNBEAM_DEVCLOUD=$(NODE_DEVCLOUD) node --expose-gc bench/throughput.mjs
	cd $(NODE_DIR) && RUNBEAM_DEVCLOUD=$(NODE_DEVCLOUD) node --expose-gc bench/soak.mjs
	@echo "node-bench: the release addon now replaces the debug one until the next 'make node-build'"

# ------------------------------------------------------------------ distribution (npm packages)
# The napi-rs platform name of the addon built here, e.g. linux-x64-gnu (napi's own naming of
# $(CARGO_BUILD_TARGET)); its package directory is npm/$(NODE_PLATFORM)/.
NODE_PLATFORM = $(shell cd $(NODE_DIR) && node -p "require('@napi-rs/cli').parseTriple('$(CARGO_BUILD_TARGET)').platformArchABI")
NODE_DIST := $(ROOT)/dist
NODE_RELEASE_ADDON = $(NODE_GEN)/release/runbeam.$(NODE_PLATFORM).node

# Prints each tarball's sizes (npm pack --json) and fails unless the addon is in the platform
# package only.
define NODE_PACK_REPORT
const packs = require(process.argv[1])
const mib = (n) => `$${(n / 1048576).toFixed(2)} MiB`
for (const p of packs) {
  const addons = p.files.filter((f) => f.path.endsWith('.node')).map((f) => f.path)
  console.log(`node-dist: dist/$${p.filename}: $${mib(p.size)} packed, $${mib(p.unpackedSize)} unpacked, ` +
    `$${p.entryCount} files ($${addons.length ? `addon $${addons.join(', ')}` : 'no addon'})`)
  if (p.name === '@runbeam/sdk' ? addons.length !== 0 : addons.length !== 1) {
    console.error(`node-dist: $${p.name} holds $${addons.length} addon(s)`)
    process.exit(1)
  }
}
endef
export NODE_PACK_REPORT

# The shipped types are the checked-in index.d.ts: the release build's must be the same.
# objcopy keeps the line tables (debug = "line-tables-only") in dist/ for symbolising crash
# reports; the packaged addon is stripped and names that file (.gnu_debuglink). The addon goes
# straight into npm/$(NODE_PLATFORM)/ (`napi artifacts` is for the release CI: it requires the
# addons of every target).
node-dist:
	@mkdir -p $(NODE_DIST) $(ROOT)/build/node-dist
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory node-dist-compile; \
	echo "node-dist: release addon built in $$(( $$(date +%s) - start )) s"
	@if ! diff -u $(NODE_DIR)/index.d.ts $(NODE_GEN)/release/index.d.ts; then \
	  echo "node-dist: the release build's index.d.ts differs from bindings/node/index.d.ts" >&2; exit 1; fi
	@test -n "$(NODE_PLATFORM)" && test -f $(NODE_RELEASE_ADDON) || \
	  { echo "node-dist: no addon $(NODE_RELEASE_ADDON)" >&2; exit 1; }
	@test -f $(NODE_DIR)/npm/$(NODE_PLATFORM)/package.json || \
	  { echo "node-dist: no package directory npm/$(NODE_PLATFORM)/ (napi.targets of package.json)" >&2; exit 1; }
	@if node -e "process.exit(typeof require(process.argv[1])._faultArm === 'function' ? 0 : 1)" $(NODE_RELEASE_ADDON); then \
	  echo "node-dist: the release addon has the test-only fault-injection hook" >&2; exit 1; fi
	rm -f $(NODE_DIR)/npm/*/runbeam.*.node
	objcopy --only-keep-debug $(NODE_RELEASE_ADDON) $(NODE_DIST)/runbeam.$(NODE_PLATFORM).node.debug
	objcopy --strip-unneeded --add-gnu-debuglink=$(NODE_DIST)/runbeam.$(NODE_PLATFORM).node.debug \
	  $(NODE_RELEASE_ADDON) $(NODE_DIR)/npm/$(NODE_PLATFORM)/runbeam.$(NODE_PLATFORM).node
	rm -f $(NODE_DIST)/runbeam-sdk-*.tgz
	cd $(NODE_DIR) && npm pack --json --pack-destination $(NODE_DIST) . ./npm/$(NODE_PLATFORM) \
	  > $(ROOT)/build/node-dist/pack.json
	@node -e "$$NODE_PACK_REPORT" $(ROOT)/build/node-dist/pack.json
	@ls -l $(NODE_RELEASE_ADDON) $(NODE_DIR)/npm/$(NODE_PLATFORM)/runbeam.$(NODE_PLATFORM).node \
	  $(NODE_DIST)/runbeam.$(NODE_PLATFORM).node.debug | awk '{ printf "node-dist: %6.2f MiB %s\n", $$5 / 1048576, $$9 }'

node-dist-compile:
	$(call node_napi_compile,release)

# The install test runs the examples against runbeam-devcloud, which the workspace build gives.
node-install-test: node-dist build
	DEVCLOUD=$(NODE_DEVCLOUD) NODE_DIST=$(NODE_DIST) bash $(ROOT)/tests/install/node.sh
