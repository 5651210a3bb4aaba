# librunbeam for C users: the release build, `make install` / `make uninstall` (GNU conventions:
# PREFIX, DESTDIR, LIBDIR, INCLUDEDIR), the release tarballs (`make c-dist`) and the test that
# installs and uses them (`make c-install-test`, tests/install/c.sh). Included by the top-level
# Makefile (ROOT, CARGO_BUILD_TARGET, SHELL with -eu -o pipefail come from there).
#
#   make install                          /usr/local/{include/runbeam.h, lib/librunbeam.*,
#                                         lib/pkgconfig/runbeam.pc, lib/cmake/runbeam/}
#   make install PREFIX=/opt/runbeam      another prefix; LIBDIR=..., INCLUDEDIR=... likewise
#   make install DESTDIR=/tmp/pkgroot     staged (packaging): paths inside the files stay PREFIX's
#   make uninstall                        the same variables, removes exactly what install wrote
#   make c-dist                           dist/librunbeam-<version>-<triple>.tar.xz (+ -debug)
#
# What is installed is the release build (Cargo.toml's [profile.release]), stripped: the .so with
# --strip-unneeded and a .gnu_debuglink to librunbeam.so.<version>.debug (its line tables, split
# off with objcopy; shipped in the -debug tarball, never installed by `make install`), the .a with
# one object prelinked from the staticlib's: `ld -r --gc-sections` rooted at the shared library's
# exported symbols (so only the aws-lc and compiler-builtins code the library reaches, as in the
# .so), sections merged (runbeam-ffi/dist/merge-sections.ld: the per-function sections' names and
# headers were a third of the archive), every symbol but runbeam_* made local (no clash with a
# program's own aws-lc or Rust code), stripped. Both come from one fat-LTO build (`cargo rustc
# --crate-type cdylib,staticlib`): cargo runs no LTO at all for a library that is also an rlib
# (Cargo.toml's crate-type keeps rlib for the fuzz targets and tests/e2e), whose archive would
# hold every crate's object and the LLVM bitcode rustc embeds for LTO. The version comes
# from Cargo (the workspace version, through `cargo pkgid`); the SONAME (librunbeam.so.<major>)
# is set by runbeam-ffi/build.rs and checked here.
#
# Note: the top-level Makefile's LIBDIR is the cargo debug directory the C tests link against, so
# only a LIBDIR given on the command line (`make install LIBDIR=/usr/lib64`) is an install
# directory; otherwise it is $(PREFIX)/lib.

.PHONY: c-release c-stage install uninstall c-dist c-install-test

PREFIX ?= /usr/local
INCLUDEDIR ?= $(PREFIX)/include
ifeq ($(origin LIBDIR),command line)
C_INSTALL_LIBDIR = $(LIBDIR)
else
C_INSTALL_LIBDIR = $(PREFIX)/lib
endif
# RELOCATABLE_PC=1: runbeam.pc says prefix=${pcfiledir}/<relative path to PREFIX> instead of the
# absolute PREFIX (the release tarballs, which may be unpacked anywhere).
RELOCATABLE_PC ?= 0

C_RELEASE_DIR := $(ROOT)/target/$(CARGO_BUILD_TARGET)/release
C_DIST_WORK := $(ROOT)/build/c-dist
C_STAGE := $(C_DIST_WORK)/objects
C_TEMPLATES := $(ROOT)/runbeam-ffi/dist

# Computed once, when first used (not at every `make` of any target).
C_VERSION = $(eval C_VERSION := $$(shell cargo pkgid --offline -p runbeam-ffi | sed 's/.*[#@]//'))$(C_VERSION)
# MAJOR.MINOR.PATCH without a pre-release or build suffix: the file name's version.
C_VERSION_NUM = $(firstword $(subst -, ,$(subst +, ,$(C_VERSION))))
C_VERSION_WORDS = $(subst ., ,$(C_VERSION_NUM))
C_MAJOR = $(word 1,$(C_VERSION_WORDS))
C_MINOR = $(word 2,$(C_VERSION_WORDS))
C_SO_REAL = librunbeam.so.$(C_VERSION_NUM)
C_SONAME = librunbeam.so.$(C_MAJOR)
C_DIST_NAME = librunbeam-$(C_VERSION)-$(CARGO_BUILD_TARGET)
C_DESCRIPTION = $(shell sed -n 's/^description = "\(.*\)"/\1/p' $(ROOT)/runbeam-ffi/Cargo.toml)
C_URL = $(shell sed -n 's/^repository = "\(.*\)"/\1/p' $(ROOT)/Cargo.toml)

## The release build of the C library only, fat LTO: `--crate-type cdylib,staticlib` leaves out
## the rlib of Cargo.toml's crate-type, for which cargo would not run LTO (the shared library
## would be the crates' objects linked as they are, and the archive all of them plus their
## bitcode: 11.9 MB stripped and 144 MB). The static library's system dependencies are what
## rustc itself reports (--print=native-static-libs): `cargo rustc` with that one extra argument,
## whose note cargo replays when the build is fresh, so it is always there to read. `make c-soak`,
## `scripts/bench.sh c` and `scripts/bench.sh startup` use this build too. (`cargo build --release
## -p runbeam-ffi` would build the library without LTO into the same files: alternating the two
## relinks it, and the first c-release after such a build compiles the dependencies once more,
## as bitcode for LTO.) C_FEATURES passes cargo feature flags: `make c-dist
## C_FEATURES=--no-default-features` builds the library without the Secret Service
## (docs/distribution.md, "Builds without the Secret Service").
C_FEATURES ?=
c-release:
	@mkdir -p $(C_DIST_WORK)
	cargo rustc --release -p runbeam-ffi --lib --crate-type cdylib,staticlib $(C_FEATURES) -- --print=native-static-libs 2>&1 \
		| tee $(C_DIST_WORK)/release-build.log
	@libs=$$(sed -n 's/^note: native-static-libs: //p' $(C_DIST_WORK)/release-build.log | tail -n 1); \
	if [ -z "$$libs" ]; then \
	  echo "c-release: rustc printed no native-static-libs note (see $(C_DIST_WORK)/release-build.log)" >&2; \
	  exit 1; \
	fi; \
	printf '%s\n' "$$libs" > $(C_DIST_WORK)/native-static-libs; \
	echo "c-release: the static library needs: $$libs"

## The objects every install copies: stripped, versioned, checked (SONAME, exported symbols).
c-stage: c-release
	@rm -rf $(C_STAGE) && mkdir -p $(C_STAGE)
	@so=$(C_STAGE)/$(C_SO_REAL); \
	cp $(C_RELEASE_DIR)/librunbeam.so $$so; \
	soname=$$(readelf -d $$so | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p'); \
	if [ "$$soname" != "$(C_SONAME)" ]; then \
	  echo "c-stage: $(C_RELEASE_DIR)/librunbeam.so has SONAME '$$soname', expected $(C_SONAME) (runbeam-ffi/build.rs)" >&2; \
	  exit 1; \
	fi; \
	foreign=$$(nm -D --defined-only $$so | awk '$$3 !~ /^runbeam_/ {print $$3}'); \
	if [ -n "$$foreign" ]; then \
	  echo "c-stage: librunbeam.so exports symbols outside runbeam_*:" >&2; echo "$$foreign" >&2; exit 1; \
	fi; \
	objcopy --only-keep-debug $$so $$so.debug; \
	chmod 644 $$so.debug; \
	strip --strip-unneeded $$so; \
	(cd $(C_STAGE) && objcopy --add-gnu-debuglink=$(C_SO_REAL).debug $(C_SO_REAL)); \
	work=$(C_STAGE)/prelink; mkdir -p $$work; \
	nm -D --defined-only $$so | awk '{print $$3}' > $$work/exports; \
	cp $(C_RELEASE_DIR)/librunbeam.a $$work/all.a; \
	strip --strip-unneeded $$work/all.a; \
	objcopy --remove-section=.llvmbc --remove-section=.llvmcmd $$work/all.a; \
	ld -r --gc-sections $$(sed 's/^/-u /' $$work/exports) -T $(C_TEMPLATES)/merge-sections.ld \
	  -o $$work/prelinked.o --whole-archive $$work/all.a; \
	objcopy --keep-global-symbols=$$work/exports $$work/prelinked.o $$work/librunbeam.o; \
	strip --strip-unneeded $$work/librunbeam.o; \
	rm -f $(C_STAGE)/librunbeam.a; ar rcs $(C_STAGE)/librunbeam.a $$work/librunbeam.o; \
	defined=$$(nm $(C_STAGE)/librunbeam.a | awk '$$2 ~ /^[A-TV-Z]$$/ {print $$3}' | sort); \
	if [ "$$defined" != "$$(sort $$work/exports)" ]; then \
	  echo "c-stage: librunbeam.a does not define exactly the shared library's runbeam_* symbols" >&2; exit 1; \
	fi; \
	rm -rf $$work; \
	cp $(C_DIST_WORK)/native-static-libs $(C_STAGE)/native-static-libs; \
	echo "c-stage: $$(nm -D --defined-only $$so | wc -l) exported symbols, all runbeam_*; SONAME $$soname"; \
	printf 'c-stage: %-28s %11s -> %11s bytes\n' \
	  librunbeam.so "$$(stat -c %s $(C_RELEASE_DIR)/librunbeam.so)" "$$(stat -c %s $$so)" \
	  librunbeam.a "$$(stat -c %s $(C_RELEASE_DIR)/librunbeam.a)" "$$(stat -c %s $(C_STAGE)/librunbeam.a)" \
	  $(C_SO_REAL).debug - "$$(stat -c %s $$so.debug)"

## One install rule for everything: `make install`, DESTDIR staging and the tarballs.
install: c-stage
	@for d in "$(PREFIX)" "$(C_INSTALL_LIBDIR)" "$(INCLUDEDIR)"; do \
	  case "$$d" in /*) ;; *) echo "install: '$$d' is not an absolute directory (PREFIX, LIBDIR, INCLUDEDIR)" >&2; exit 1;; esac; \
	done
	@set -e; \
	prefix=$$(realpath -m "$(PREFIX)"); libdir=$$(realpath -m "$(C_INSTALL_LIBDIR)"); \
	includedir=$$(realpath -m "$(INCLUDEDIR)"); \
	lib="$(DESTDIR)$$libdir"; inc="$(DESTDIR)$$includedir"; \
	install -d "$$lib/pkgconfig" "$$lib/cmake/runbeam" "$$inc"; \
	install -m 644 $(ROOT)/include/runbeam.h "$$inc/runbeam.h"; \
	install -m 755 $(C_STAGE)/$(C_SO_REAL) "$$lib/$(C_SO_REAL)"; \
	ln -sfn $(C_SO_REAL) "$$lib/$(C_SONAME)"; \
	ln -sfn $(C_SONAME) "$$lib/librunbeam.so"; \
	install -m 644 $(C_STAGE)/librunbeam.a "$$lib/librunbeam.a"; \
	libs_private=$$(cat $(C_STAGE)/native-static-libs); \
	cmake_libs=$$(for l in $$libs_private; do case "$$l" in -l*) printf '%s;' "$${l#-l}";; *) printf '%s;' "$$l";; esac; done); \
	cmake_libs=$${cmake_libs%;}; \
	if [ "$(RELOCATABLE_PC)" = 1 ]; then \
	  pc_prefix='$${pcfiledir}/'$$(realpath -m --relative-to="$$libdir/pkgconfig" "$$prefix"); \
	else pc_prefix=$$prefix; fi; \
	under_prefix() { case "$$1" in "$$prefix") echo '$${prefix}';; "$$prefix"/*) echo '$${prefix}'"$${1#"$$prefix"}";; *) echo "$$1";; esac; }; \
	if [ "$$prefix" = / ]; then pc_libdir=$$libdir; pc_includedir=$$includedir; \
	else pc_libdir=$$(under_prefix "$$libdir"); pc_includedir=$$(under_prefix "$$includedir"); fi; \
	sed -e "s|@PREFIX@|$$pc_prefix|" -e "s|@LIBDIR@|$$pc_libdir|" -e "s|@INCLUDEDIR@|$$pc_includedir|" \
	    -e "s|@VERSION@|$(C_VERSION)|" -e "s|@DESCRIPTION@|$(C_DESCRIPTION)|" -e "s|@URL@|$(C_URL)|" \
	    -e "s|@LIBS_PRIVATE@|$$libs_private|" \
	    $(C_TEMPLATES)/runbeam.pc.in > "$$lib/pkgconfig/runbeam.pc"; \
	chmod 644 "$$lib/pkgconfig/runbeam.pc"; \
	to_inc=$$(realpath -m --relative-to="$$libdir/cmake/runbeam" "$$includedir"); \
	sed -e "s|@SHARED_FILE@|$(C_SO_REAL)|" -e "s|@SONAME@|$(C_SONAME)|" \
	    -e "s|@CMAKE_TO_INCLUDEDIR@|$$to_inc|" -e "s|@CMAKE_LIBS_PRIVATE@|$$cmake_libs|" \
	    $(C_TEMPLATES)/runbeam-config.cmake.in > "$$lib/cmake/runbeam/runbeam-config.cmake"; \
	sed -e "s|@VERSION@|$(C_VERSION)|" -e "s|@VERSION_MAJOR@|$(C_MAJOR)|" -e "s|@VERSION_MINOR@|$(C_MINOR)|" \
	    -e "s|@SIZEOF_VOID_P@|$$(readelf -h $(C_STAGE)/$(C_SO_REAL) | awk '/Class:/ {print ($$2 == "ELF64") ? 8 : 4}')|" \
	    $(C_TEMPLATES)/runbeam-config-version.cmake.in > "$$lib/cmake/runbeam/runbeam-config-version.cmake"; \
	chmod 644 "$$lib/cmake/runbeam/"*.cmake; \
	echo "install: librunbeam $(C_VERSION) into $(DESTDIR)$$prefix (lib: $$lib, include: $$inc)"

uninstall:
	@set -e; \
	lib="$(DESTDIR)$$(realpath -m "$(C_INSTALL_LIBDIR)")"; inc="$(DESTDIR)$$(realpath -m "$(INCLUDEDIR)")"; \
	rm -f "$$inc/runbeam.h" "$$lib/librunbeam.so" "$$lib/$(C_SONAME)" "$$lib/$(C_SO_REAL)" "$$lib/librunbeam.a" \
	      "$$lib/pkgconfig/runbeam.pc" "$$lib/cmake/runbeam/runbeam-config.cmake" \
	      "$$lib/cmake/runbeam/runbeam-config-version.cmake"; \
	if [ -d "$$lib/cmake/runbeam" ]; then rmdir "$$lib/cmake/runbeam"; fi; \
	echo "uninstall: librunbeam removed from $$lib and $$inc"

## dist/librunbeam-<version>-<triple>.tar.xz: the `make install` image (DESTDIR staging of the
## same rule) under one top directory, with a relocatable runbeam.pc (prefix from ${pcfiledir})
## and CMake package; dist/...-debug.tar.xz: lib/librunbeam.so.<version>.debug at the same
## place, so that unpacking both in one directory lets gdb find it through the .gnu_debuglink.
## Reproducible: sorted, owner 0, mtime of the last commit, xz single-threaded. xz, not gzip:
## the .so and the .a hold the same code, which xz's 64 MiB window finds twice and gzip's 32 kB
## window cannot (gzip -9: 8.6 MB, xz -9: 3.9 MB; BENCHMARKS.md "Footprint").
c-dist:
	@rm -rf $(C_DIST_WORK)/image && mkdir -p $(C_DIST_WORK)/image $(ROOT)/dist
	$(MAKE) --no-print-directory install DESTDIR=$(C_DIST_WORK)/image \
		PREFIX=/usr/local LIBDIR=/usr/local/lib INCLUDEDIR=/usr/local/include RELOCATABLE_PC=1
	@set -e; image=$(C_DIST_WORK)/image; top=$$image/$(C_DIST_NAME); \
	mv $$image/usr/local $$top; rm -rf $$image/usr; \
	install -m 644 $(C_TEMPLATES)/README.md $$top/README.md; \
	for f in LICENSE LICENSE-APACHE LICENSE-MIT NOTICE CHANGELOG.md; do \
	  if [ -f $(ROOT)/$$f ]; then install -m 644 $(ROOT)/$$f $$top/$$f; fi; \
	done; \
	install -d $$image/debug/$(C_DIST_NAME)/lib; \
	install -m 644 $(C_STAGE)/$(C_SO_REAL).debug $$image/debug/$(C_DIST_NAME)/lib/; \
	mtime=$$(git -C $(ROOT) log -1 --format=%ct 2>/dev/null || date +%s); \
	tarball() { tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@$$mtime \
	  -C "$$1" -cf - $(C_DIST_NAME) | xz -9 -T1 > "$$2"; }; \
	rm -f $(ROOT)/dist/$(C_DIST_NAME).tar.gz $(ROOT)/dist/$(C_DIST_NAME)-debug.tar.gz; \
	tarball $$image $(ROOT)/dist/$(C_DIST_NAME).tar.xz; \
	tarball $$image/debug $(ROOT)/dist/$(C_DIST_NAME)-debug.tar.xz; \
	cd $(ROOT)/dist && sha256sum $(C_DIST_NAME).tar.xz $(C_DIST_NAME)-debug.tar.xz > $(C_DIST_NAME).sha256; \
	for t in $(C_DIST_NAME).tar.xz $(C_DIST_NAME)-debug.tar.xz; do \
	  printf 'c-dist: dist/%s (%s bytes)\n' $$t "$$(stat -c %s $$t)"; done

## Installs (a temporary prefix, DESTDIR staging, the tarball) and builds and runs the C
## examples against each with pkg-config and CMake only (tests/install/c.sh).
c-install-test: build c-dist
	bash tests/install/c.sh $(ROOT)/dist/$(C_DIST_NAME).tar.xz
