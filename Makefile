# librunbeam — the two commands a newcomer needs: `make demo` and `make test`.
#
# Every cargo, maturin and napi invocation shares one target directory and one target triple
# (the napi CLI always passes --target, so everything else does too, and nothing builds twice):
# artefacts live in target/$(CARGO_BUILD_TARGET)/debug/.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export CARGO_BUILD_TARGET ?= $(shell rustc -vV | sed -n 's/^host: //p')
export CARGO_TERM_COLOR ?= never
ROOT := $(abspath .)
LIBDIR := $(ROOT)/target/$(CARGO_BUILD_TARGET)/debug
VENV := $(ROOT)/.venv
PYTHON := $(VENV)/bin/python
CBINDGEN ?= cbindgen
# What runs side by side where the work allows it (the C suites, the release lanes of
# install-test): one job per core. Everything else runs one step at a time.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: help test demo setup prerequisites build rust-test keyring-test header header-check lint bench fuzz \
	cross-check dist install-test

help:
	@echo "make demo    - run the example gateways (C, Python, Node) through the scenario"
	@echo "make test    - run every test suite (Rust, C + sanitizers + valgrind, Python, Node, header drift)"
	@echo "make setup   - install what a fresh machine lacks (venv, npm packages, cbindgen, valgrind)"
	@echo "make dist    - every release artefact into dist/ (C tarball, wheel + sdist, npm tarballs, SHA256SUMS)"
	@echo "make install - the C library, header, runbeam.pc and CMake package under PREFIX (default /usr/local)"
	@echo "make bench   - run the benchmarks behind BENCHMARKS.md"
	@echo "make fuzz    - run every fuzz target for FUZZ_SECONDS (default 600) each (docs/fuzzing.md)"

## Everything a fresh machine lacks. Idempotent and quick when already done. The only target
## that installs anything.
setup:
	bash scripts/setup.sh

## What `make test` and `make demo` need first. Installs nothing itself: `setup.sh --check`
## reports what is missing. With RUNBEAM_SETUP=check (a packaging machine, an offline run) the
## report is the end: the run fails there. Otherwise (the default, so that the README's two
## commands work on a fresh machine) `make setup` then installs exactly what was reported.
prerequisites:
	@if ! bash scripts/setup.sh --check; then \
	  if [ "$${RUNBEAM_SETUP:-install}" = check ]; then exit 1; fi; \
	  $(MAKE) --no-print-directory setup; \
	fi

## Rust workspace (core, C ABI, both bindings' Rust code): one build for everything.
build:
	cargo build --workspace --all-targets

## The storage compatibility tests (tests/e2e/tests/sdk_compat.rs) run the published
## runbeam-sdk 0.11 through tests/compat/sdk-0.11, built by tests/compat/build.sh. The core's
## storage tests run a second time without the Secret Service (the `secret-service` feature,
## on by default; docs/distribution.md "Builds without the Secret Service").
rust-test: build
	RUNBEAM_SDK_0_11_CLI=$$(bash tests/compat/build.sh) cargo test --workspace
	cargo test -p runbeam-core --no-default-features --lib storage::

## The keyring tests need a real Secret Service: a throw-away gnome-keyring on a private D-Bus
## session (scripts/with-keyring.sh; gnome-keyring and dbus are installed by `make setup`).
## Rust (Secret Service, a locked collection, kernel keyutils), Python, Node and C; outside
## this target the Python and Node ones are skipped and the C one is not run.
keyring-test: build python-build node-build c-build
	dbus-run-session -- bash scripts/with-keyring.sh \
		cargo test --workspace --test keyring -- --ignored
	RUNBEAM_DEVCLOUD=$(ROOT)/target/$(CARGO_BUILD_TARGET)/debug/runbeam-devcloud \
		dbus-run-session -- bash scripts/with-keyring.sh \
		$(PYTHON) -m pytest -q bindings/python/tests/test_storage.py -k keyring
	dbus-run-session -- bash scripts/with-keyring.sh \
		node --test $(ROOT)/bindings/node/test/keyring.test.cjs
	dbus-run-session -- bash scripts/with-keyring.sh \
		env ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		$(C_OUT)/test_keyring_asan
	@# Under valgrind only definite and indirect leaks fail this one: zbus keeps a process-wide
	@# executor thread pool alive until exit and the keyring calls' deadline helper threads are
	@# detached, so their thread stacks/handles show as "possibly lost" (reported, not failed).
	dbus-run-session -- bash scripts/with-keyring.sh $(VALGRIND_KEYRING) $(C_OUT)/test_keyring

## The fuzz targets (their own Cargo workspace, run by `make fuzz` on nightly) are compiled
## here too, on stable, so that an API change cannot leave them broken until the next fuzz run.
## Their lock file is the workspace's (copied, as scripts/fuzz.sh does; cargo adds only
## libfuzzer-sys and arbitrary), so they build the crate versions that ship rather than the
## newest ones. (Their dependencies are still checked again: the fuzz crate alone enables other
## features than the workspace, ~110 s on a fresh clone.) The aws-lc bench (benches/aws-lc, a
## crate of its own for the same reason: scripts/bench.sh builds it twice) is formatted and
## linted the same way. scripts/check_naming.py checks that every name docs/naming.md gives
## exists on its surface.
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cp Cargo.lock fuzz/Cargo.lock
	cargo check --quiet --manifest-path fuzz/Cargo.toml --bins --target-dir target
	cp Cargo.lock benches/aws-lc/Cargo.lock
	cargo fmt --manifest-path benches/aws-lc/Cargo.toml -- --check
	cargo clippy --quiet --manifest-path benches/aws-lc/Cargo.toml --target-dir target -- -D warnings
	python3 scripts/check_naming.py

## The header is generated by cbindgen and checked in; `make header` regenerates it.
header:
	$(CBINDGEN) --quiet --config runbeam-ffi/cbindgen.toml --crate runbeam-ffi --output include/runbeam.h

header-check:
	@tmp=$$(mktemp); \
	$(CBINDGEN) --quiet --config runbeam-ffi/cbindgen.toml --crate runbeam-ffi --output $$tmp; \
	if ! diff -u include/runbeam.h $$tmp; then rm -f $$tmp; \
	  echo "include/runbeam.h is stale: run 'make header' and commit it" >&2; exit 1; fi; \
	rm -f $$tmp; echo "header-check: include/runbeam.h is up to date"

include tests/c/c.mk
include bindings/python/python.mk
include bindings/node/node.mk
# Release artefacts and the tests that install them (docs/distribution.md), and the runner of
# every README code block.
-include runbeam-ffi/c-dist.mk
-include tests/docs/docs.mk

## Every release artefact into dist/ (docs/distribution.md): the C tarballs (library, header,
## runbeam.pc, CMake package; debug info apart), the abi3 wheel and the sdist, the npm tarballs;
## then SHA256SUMS over all of them.
dist: c-dist python-dist node-dist
	$(DIST_SUMS)

define DIST_SUMS
cd dist && rm -f SHA256SUMS && sha256sum -- * > SHA256SUMS
@echo "dist: $$(ls dist | wc -l) files in dist/ (SHA256SUMS)"; ls -l dist
endef

## The artefacts of `make dist`, installed as a user would (a prefix + pkg-config + CMake, a
## fresh venv from the wheel and another from the sdist, a fresh npm project offline) and used:
## tests/install/{c,python,node}.sh.
##
## In two lanes side by side (JOBS jobs): the wheel (zig, in target/zig) beside the C library then
## the Node addon (gcc, in target/, where cargo builds one at a time) and their install tests.
## Each release build ends in a single-threaded fat-LTO link, which leaves a core to the other
## lane. The sdist's install test comes last, alone: its build starts from a copy of the gcc
## lane's release outputs, which must be complete when copied. Each lane's output is printed in
## one piece when the lane ends.
install-test:
	@$(MAKE) --no-print-directory -j$(JOBS) --output-sync=target python-dist install-test-gcc python-devcloud
	bash tests/install/python.sh
	$(DIST_SUMS)
	cd dist && sha256sum --quiet -c SHA256SUMS

.PHONY: install-test-gcc
install-test-gcc:
	@$(MAKE) --no-print-directory c-install-test node-install-test

test: prerequisites lint rust-test header-check c-test python-test node-test keyring-test \
		docs-test install-test
	@echo "make test: all suites passed"

demo: prerequisites build c-examples python-build node-build
	bash examples/demo.sh

bench: prerequisites
	bash scripts/bench.sh

## Not part of `make test` (its value grows with time; the property tests run there instead).
fuzz:
	bash scripts/fuzz.sh

## The core and the C ABI compiled (clippy -D warnings) for Windows and macOS; not part of
## `make test` (~10 min the first time). Needs `bash scripts/setup.sh --cross`.
cross-check:
	bash scripts/cross-check.sh
