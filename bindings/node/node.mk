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
#                     soak.mjs makes 1,000,000 mixed calls and fails on unexpected results)
#
# Needs `npm install --no-audit --no-fund` in bindings/node (done by `make setup`).

NODE_DIR := $(ROOT)/bindings/node
NODE_GEN := $(ROOT)/target/$(CARGO_BUILD_TARGET)/napi
NAPI := $(NODE_DIR)/node_modules/.bin/napi
NODE_DEVCLOUD := $(ROOT)/target/$(CARGO_BUILD_TARGET)/debug/runbeam-devcloud
NODE_TESTS := $(wildcard $(NODE_DIR)/test/*.test.cjs $(NODE_DIR)/test/*.test.mjs)

.PHONY: node-build node-dts node-test node-bench node-release

# $(1): debug or release. The addon is built in $(NODE_GEN)/$(1) and renamed into place, so a
# running process that has the old one mapped is not disturbed.
define node_napi_build
	@test -x $(NAPI) || { echo "$(NAPI) is missing: run 'make setup' (or npm install --no-audit --no-fund in bindings/node)" >&2; exit 1; }
	cd $(NODE_DIR) && $(NAPI) build --platform --no-js \
	  $(if $(filter release,$(1)),--release,--features fault-injection) \
	  --output-dir $(NODE_GEN)/$(1) --dts index.d.ts
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
	cd $(NODE_DIR) && RUNBEAM_DEVCLOUD=$(NODE_DEVCLOUD) node --test $(NODE_TESTS)

node-release:
	$(call node_napi_build,release)

node-bench: node-release
	cargo build -p runbeam-devcloud
	cd $(NODE_DIR) && node bench/reference.mjs
	cd $(NODE_DIR) && RUNBEAM_DEVCLOUD=$(NODE_DEVCLOUD) node bench/client.mjs
	cd $(NODE_DIR) && RUNBEAM_DEVCLOUD=$(NODE_DEVCLOUD) node --expose-gc bench/jwt.mjs
	cd $(NODE_DIR) && node bench/storage.mjs
	cd $(NODE_DIR) && RUNBEAM_DEVCLOUD=$(NODE_DEVCLOUD) node --expose-gc bench/soak.mjs
	@echo "node-bench: the release addon now replaces the debug one until the next 'make node-build'"
