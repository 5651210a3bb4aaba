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
	python-bench python-devcloud

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
## the devcloud only mints its tokens. bench/storage.py compares the token stores' save + load
## with the same durable file replace written in plain Python (os.open/write/fsync/replace).
## bench/bench_resolver.py times Resolver cache hits against
## a dict lookup and Reference.parse; the devcloud answers the one resolve that fills the cache.
## bench/soak.py makes 1,000,000 mixed hot-path calls and reports RSS and unexpected answers.
python-bench: python-devcloud
	$(PY_MATURIN) --release
	$(PYTHON) $(PY_DIR)/bench/bench_reference.py
	RUNBEAM_DEVCLOUD=$(PY_DEVCLOUD) $(PYTHON) $(PY_DIR)/bench/bench_client.py
	RUNBEAM_DEVCLOUD=$(PY_DEVCLOUD) $(PYTHON) $(PY_DIR)/bench/jwt.py
	$(PYTHON) $(PY_DIR)/bench/storage.py
	RUNBEAM_DEVCLOUD=$(PY_DEVCLOUD) $(PYTHON) $(PY_DIR)/bench/bench_resolver.py
	RUNBEAM_DEVCLOUD=$(PY_DEVCLOUD) $(PYTHON) $(PY_DIR)/bench/soak.py
