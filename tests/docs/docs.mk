# Documentation that runs: every fenced code block of the READMEs is extracted and run by
# tests/docs/run_snippets.py, as cargo runs Rust's doc tests (its docstring says what happens to
# each kind of block and what each block is given: a runbeam-devcloud of its own, a working
# directory with gateway.toml, RUNBEAM_API_URL, RUNBEAM_USER_TOKEN, a fresh RUNBEAM_HOME).
# Included by the top-level Makefile (ROOT, PYTHON, CARGO_BUILD_TARGET come from there).
#
#   make docs-test                      every block of DOCS_FILES; C against a stand-in prefix
#                                       over the debug build (include/, target/<triple>/debug/)
#   make docs-test DOCS_C_PREFIX=DIR    C against an installed librunbeam (`make install
#                                       PREFIX=DIR`, or an unpacked release tarball)
#   make docs-test-installed            `make install` (the release build) into
#                                       build/docs/prefix, then docs-test against it
#   make docs-test DOCS_ONLY=README.md:120   one block (FILE:LINE of its opening fence)
#
# A failing block fails the target with its file, line and output. Python blocks run with
# $(PYTHON) (the debug module of python-build), JavaScript/TypeScript blocks with node and
# '@runbeam/sdk' linked to bindings/node (the debug addon of node-build), Rust blocks as binaries
# of a scratch package in build/docs/rust/ depending on runbeam-core (the shared target/).

DOCS_FILES := README.md bindings/python/README.md bindings/node/README.md runbeam-devcloud/README.md
DOCS_C_PREFIX ?=
DOCS_ONLY ?=

.PHONY: docs-test docs-test-installed

## `build` gives runbeam-devcloud and the debug librunbeam.so/.a (a `cargo build -p` would
## re-resolve features and rebuild); python-build and node-build the bindings' debug modules.
docs-test: build python-build node-build
	RUNBEAM_DOCS_PREFIX=$(DOCS_C_PREFIX) \
	RUNBEAM_DEVCLOUD=$(ROOT)/target/$(CARGO_BUILD_TARGET)/debug/runbeam-devcloud \
		$(PYTHON) $(ROOT)/tests/docs/run_snippets.py \
		$(foreach o,$(DOCS_ONLY),--only $(o)) $(DOCS_FILES)

docs-test-installed:
	rm -rf $(ROOT)/build/docs/prefix
	$(MAKE) --no-print-directory install PREFIX=$(ROOT)/build/docs/prefix
	$(MAKE) --no-print-directory docs-test DOCS_C_PREFIX=$(ROOT)/build/docs/prefix
