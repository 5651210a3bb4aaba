# Python binding (bindings/python): included by the top-level Makefile, which exports
# CARGO_BUILD_TARGET and defines ROOT, VENV and PYTHON. `make setup` creates $(VENV) with the
# pinned requirements-dev.txt (maturin, pytest, mypy for `python-stubtest`).
#
# `maturin develop` builds into the shared workspace target dir (target/$(CARGO_BUILD_TARGET)/)
# and installs the package editable into $(VENV): runbeam/_native.abi3.so is written next to the
# Python sources in bindings/python/python/runbeam/ (ignored by git).

PY_DIR := bindings/python
# maturin's -m takes the Cargo manifest; it reads pyproject.toml next to it.
# Debug builds enable the test-only `fault-injection` feature, as the workspace build does (it is
# unified there through tests/e2e), so that the shared target/ is reused and the panic-boundary
# tests can arm a fault; release builds never do.
PY_FEATURES := --features fault-injection
PY_MATURIN := VIRTUAL_ENV=$(VENV) CARGO_BUILD_TARGET=$(CARGO_BUILD_TARGET) \
	$(VENV)/bin/maturin develop -m $(PY_DIR)/Cargo.toml

.PHONY: python-build python-stubs python-stub-docs-check python-stubtest python-test python-wheel \
	python-bench python-devcloud python-dist python-install-test

## Debug build of runbeam._native into the venv (seconds after `make build`).
python-build:
	$(PY_MATURIN) $(PY_FEATURES)

## The type stubs (runbeam/_native.pyi, and runbeam/resources.pyi for the model classes the
## native module defines) against the built module, with mypy.stubtest: names,
## parameter names, kinds and defaults, properties, static methods, @final. Exits non-zero on
## any mismatch, or on an allowlist entry that no longer matches anything. The allowlist holds
## only what stubtest cannot check for this module, each entry with its reason;
## tests/test_stubs.py checks what stubtest skips.
python-stubtest: python-build
	VIRTUAL_ENV=$(VENV) $(PYTHON) -m mypy.stubtest runbeam._native runbeam.resources \
		--allowlist $(PY_DIR)/stubtest-allowlist.txt

## The docstrings of runbeam/_native.pyi, rewritten from the built module's __doc__: the Rust doc
## comments of the pyo3 items are their one source. Commit the stub after running it.
python-stubs: python-build
	$(PYTHON) $(PY_DIR)/gen_stub_docs.py

## Fails (with the diff) when the checked-in stub's docstrings differ from the Rust doc comments.
python-stub-docs-check: python-build
	$(PYTHON) $(PY_DIR)/gen_stub_docs.py --check

# The client tests (tests/test_client*.py) start the local Runbeam Cloud server as a subprocess.
PY_DEVCLOUD := $(ROOT)/target/$(CARGO_BUILD_TARGET)/debug/runbeam-devcloud

# The workspace build provides it (a `cargo build -p` would re-resolve features and rebuild).
python-devcloud: build

# python-build installs the debug module, which always has the fault hook (`_fault_arm`), so the
# panic-boundary tests that arm a fault must run: without the hook they FAIL rather than skip,
# unless RUNBEAM_NO_FAULT_INJECTION=1 declares a release build (they are then skipped, and the
# suite checks that the module really has no hook). That variable is removed from the
# environment here, so that `make python-test` never passes with those tests skipped.
python-test: python-build python-stub-docs-check python-stubtest python-wheel python-devcloud
	env -u RUNBEAM_NO_FAULT_INJECTION RUNBEAM_DEVCLOUD=$(PY_DEVCLOUD) \
		$(PYTHON) -m pytest -q $(PY_DIR)/tests

## The abi3 wheel (debug build, seconds): tag, typing files, installs and works in a fresh venv.
python-wheel:
	rm -rf $(ROOT)/build/wheels
	VIRTUAL_ENV=$(VENV) CARGO_BUILD_TARGET=$(CARGO_BUILD_TARGET) \
		$(VENV)/bin/maturin build -m $(PY_DIR)/Cargo.toml $(PY_FEATURES) --out $(ROOT)/build/wheels
	$(PYTHON) $(PY_DIR)/scripts/check_wheel.py $(ROOT)/build/wheels

## Release build (replaces the debug module until the next python-build), then the benchmarks.
## bench/jwt.py compares Validator.validate with PyJWT (installed by `make setup`) in one run;
## the devcloud only mints its tokens. bench/throughput.py: distinct-token validation one at a
## time vs 2 threads vs 64 asyncio tasks vs validate_many batches (cache off and on, runbeam's
## routing auto vs inline, PyJWT and joserfc in the same setups), with the event loop's lag, the
## no-op hop and asyncio's own cost per await, a counting Python thread's share of the GIL at
## switch intervals 5/1/0.2 ms (`--gil-only` runs those rows alone) and the CPU per token. bench/storage.py compares the token stores' save + load
## with the same durable file replace written in plain Python (os.open/write/fsync/replace).
## bench/bench_resolver.py times Resolver cache hits against
## a dict lookup and Reference.parse; the devcloud answers the one resolve that fills the cache.
## bench/soak.py makes 1,000,000 mixed hot-path calls and reports RSS and unexpected answers.
## bench/logging_overhead.py times the hot path (cached validation, resolver hit) with
## librunbeam's logging off and with a `runbeam` handler at WARNING and at DEBUG.
## bench/middleware.py times runbeam.asgi's middleware over the bare framework (Starlette,
## FastAPI; in-process ASGI calls, cached token path, interleaved, median and interquartile
## range) and an outbound request's preparation from the caches.
python-bench: python-devcloud
	$(PY_MATURIN) --release
	$(PYTHON) $(PY_DIR)/bench/bench_reference.py
	RUNBEAM_DEVCLOUD=$(PY_DEVCLOUD) $(PYTHON) $(PY_DIR)/bench/bench_client.py
	RUNBEAM_DEVCLOUD=$(PY_DEVCLOUD) $(PYTHON) $(PY_DIR)/bench/jwt.py
	RUNBEAM_DEVCLOUD=$(PY_DEVCLOUD) $(PYTHON) $(PY_DIR)/bench/throughput.py
	$(PYTHON) $(PY_DIR)/bench/storage.py
	RUNBEAM_DEVCLOUD=$(PY_DEVCLOUD) $(PYTHON) $(PY_DIR)/bench/bench_resolver.py
	RUNBEAM_DEVCLOUD=$(PY_DEVCLOUD) $(PYTHON) $(PY_DIR)/bench/soak.py
	RUNBEAM_DEVCLOUD=$(PY_DEVCLOUD) $(PYTHON) $(PY_DIR)/bench/logging_overhead.py
	RUNBEAM_DEVCLOUD=$(PY_DEVCLOUD) $(PYTHON) $(PY_DIR)/bench/middleware.py

## The release artefacts, into $(ROOT)/dist/: the abi3 wheel (CPython >= 3.10) for
## $(PY_DIST_PLATFORM) x86_64 and the sdist runbeam-<version>.tar.gz (the binding plus the core
## crate, so that it builds with no repository around it). The wheel is the release profile
## (fat LTO), without the fault-injection feature, stripped, and linked by zig (`--zig`, the
## pinned `ziglang` package of requirements-dev.txt: zig cc also compiles aws-lc's C code)
## against glibc 2.17's symbol versions, so that it installs on RHEL/Rocky 8, Amazon Linux 2,
## Ubuntu 20.04, Debian 11 and later. maturin's audit runs in `check` mode: a violation fails the
## build (nothing is vendored or skipped). scripts/check_dist.py checks both files again
## (symbol versions, libraries, stripped, no fault hook, typing files, the sdist's contents) and
## installs the wheel into a fresh venv.
##
## Its own cargo target dir: zig's linker is part of every crate's cargo fingerprint, so building
## it in the shared target/ would rebuild the whole release tree there, and the next gcc-linked
## release build (C library, Node addon) would rebuild it all back.
PY_DIST_PLATFORM := manylinux_2_17
PY_DIST_TARGET_DIR := $(ROOT)/target/zig
python-dist:
	@$(PYTHON) -m ziglang version >/dev/null 2>&1 || { echo "python-dist: zig (package" \
		"ziglang of $(PY_DIR)/requirements-dev.txt) is not in $(VENV): run make setup" >&2; exit 1; }
	mkdir -p $(ROOT)/dist
	rm -f $(ROOT)/dist/runbeam-[0-9]*.whl $(ROOT)/dist/runbeam-[0-9]*.tar.gz
	@start=$$(date +%s); \
	PATH=$(VENV)/bin:$$PATH VIRTUAL_ENV=$(VENV) CARGO_TARGET_DIR=$(PY_DIST_TARGET_DIR) \
		$(VENV)/bin/maturin build -m $(PY_DIR)/Cargo.toml --release --strip --zig \
		--compatibility $(PY_DIST_PLATFORM) --auditwheel check --out $(ROOT)/dist; \
	echo "python-dist: wheel built in $$(( $$(date +%s) - start )) s"
	$(VENV)/bin/maturin sdist -m $(PY_DIR)/Cargo.toml --out $(ROOT)/dist
	$(PYTHON) $(PY_DIR)/scripts/check_dist.py $(ROOT)/dist --platform $(PY_DIST_PLATFORM)

## The artefacts of python-dist as a user gets them (tests/install/python.sh): the wheel with
## `pip install --no-index` into a fresh venv, the sdist with `pip install` (a release build from
## scratch, crates from crates.io) of a copy outside the repository into another; in each, the
## examples (examples/python) against runbeam-devcloud, the typing files, no fault hook, and
## JWT verification (RS256 and ES256 through aws-lc). PY_SDIST_CACHE=0 builds the sdist with an
## empty cargo target dir instead of the shared one (see the script).
python-install-test: python-dist python-devcloud
	bash tests/install/python.sh
