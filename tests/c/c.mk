# C suites: strict compile against include/runbeam.h, then run under ASan+UBSan (static
# library) and under valgrind (shared library), plus a C++ compile of the header.
# test_storage runs the file token store in a mkdtemp directory and its token managers against
# the devcloud (authorize counts from /_dev/counters, token lifetime from
# /_dev/machine-token-lifetime).
# test_keyring (the OS keyring store through the C ABI) is built here but run by
# `make keyring-test`, inside dbus-run-session + scripts/with-keyring.sh.
# test_resolver drives the resolver (single-flight, TTL, stale answers under /_dev/faults,
# reload, mesh tokens and their verification by a receiving resolver) against the devcloud.
# test_resources creates, reads, lists (list_all and a page cursor), updates and deletes a
# resource of each of the eight collections (every field of the header's schemas, the server's
# unlisted fields passed through), and authorizes with a user JWT minted by /_dev/jwt.
# test_client_async covers the callback forms test_client does not (change feed, resources,
# revoke, list_all) and the page cursor (multi-page walks, stopping early, cancellation).
# test_logging: runbeam_set_log_callback (the records a host relies on, none carrying a token,
# one delivery at a time, a callback that calls librunbeam, off waiting for a running delivery).
# test_metrics: the stats of resolvers, validators and token managers and runbeam_metrics'
# Prometheus text, counts moved by real requests, faults and refusals.
# test_watch: runbeam_resolver_watch against changes published with /_dev/changes (applied,
# failed with its problems, skipped), stop from outside and from inside the callback.
# test_local_mesh: two offline resolvers on a `local`-provider mesh, RS256 (keys made by the
# openssl tool) and HS256, one issuing, the other verifying, and the refusals.
# test_edge: the HTTP edge (runbeam_validator_authenticate, runbeam_resolver_verify_mesh_request,
# runbeam_resolver_outbound, runbeam_join_path) and the refusal of every failure
# (runbeam_refusal_from_last_error: 401/403/400/503 with their headers) against the devcloud.
# test_mesh_gateway.sh: the example gateway examples/c/mesh_gateway.c (libmicrohttpd + libcurl,
# built with ASan/UBSan) over real HTTP, ingress and egress, driven by curl.
# test_client, test_client_faults and test_jwt drive a runbeam-devcloud subprocess (built by
# `build`) over real HTTP (the fault suite through its /_dev/faults and /_dev/counters
# endpoints, the JWT suite with tokens minted by /_dev/jwt);
# valgrind does not trace it (no --trace-children), and the suites need no suppressions:
# freeing the last client handle joins the runtime's threads. Shared code: check.h (CHECK),
# devcloud.h (the subprocess and a plain-socket HTTP client for /_dev), gateway_main.h (the
# usage check, devcloud and client that start a suite), waiter.h (the
# mutex/condvar/count of the callback waiters); benches/c/bench.h (median, devcloud start-up).

C_OUT := $(ROOT)/build/c
C_STRICT := -std=c11 -Wall -Wextra -Werror -pedantic -g -I$(ROOT)/include
C_SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
C_SYSLIBS := -lpthread -ldl -lm
VALGRIND := valgrind --quiet --error-exitcode=99 --leak-check=full \
	--show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible
# test_keyring (make keyring-test): "possibly lost" is shown but does not fail, see the Makefile.
# The example gateway's HTTP server and client (Debian libmicrohttpd-dev, libcurl4-openssl-dev;
# installed by `make setup`).
HTTP_PKGS := libmicrohttpd libcurl
HTTP_PKGS_CHECK = @pkg-config --exists $(HTTP_PKGS) || { \
	echo "pkg-config does not find $(HTTP_PKGS): run 'make setup'" >&2; exit 1; }
VALGRIND_KEYRING := valgrind --quiet --error-exitcode=99 --leak-check=full \
	--show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect

# Every suite tests/c/test_<suite>.c, built twice (ASan+UBSan against the static library,
# -O0 against the shared one for valgrind). Each runs with one argument: test_ffi the repository
# root, test_lifetime and test_local_mesh none, the others the devcloud program. test_keyring is
# built but run by `make keyring-test` only (it needs a Secret Service).
C_SUITES := ffi client resources client_async client_faults jwt storage keyring resolver panic \
	lifetime logging metrics watch local_mesh edge
C_RUN := $(filter-out keyring,$(C_SUITES))
c_suite_arg = $(if $(filter ffi,$(1)),$(ROOT),$(if $(filter lifetime local_mesh,$(1)),,$(LIBDIR)/runbeam-devcloud))
C_BINARIES := $(addprefix c-bin-,$(C_SUITES)) c-bin-mesh-gateway c-bin-benches c-bin-header-cxx
C_RUNS := $(addprefix c-run-,$(C_RUN)) c-run-mesh-gateway

.PHONY: c-build c-test c-dev-soname $(C_BINARIES) $(C_RUNS)

## librunbeam.so has a SONAME (librunbeam.so.<major>, runbeam-ffi/build.rs): programs linked with
## -lrunbeam record that name and the loader looks for it, so the debug directory gets the
## symlink `make install` makes too (librunbeam.so.<major> -> librunbeam.so).
c-dev-soname: build
	@soname=$$(readelf -d $(LIBDIR)/librunbeam.so | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p'); \
	if [ -n "$$soname" ]; then ln -sfn librunbeam.so $(LIBDIR)/$$soname; fi

## The programs are compiled, and the suites run, JOBS at a time (the Makefile's JOBS: one per
## core): each is single-threaded under valgrind and starts its own devcloud on a free port, in
## directories of its own. A program's output is printed in one piece when it ends.
c-build: build c-dev-soname
	@mkdir -p $(C_OUT)
	$(HTTP_PKGS_CHECK)
	@$(MAKE) --no-print-directory -j$(JOBS) --output-sync=target $(C_BINARIES)

$(addprefix c-bin-,$(C_SUITES)): c-bin-%:
	gcc $(C_STRICT) -O1 $(C_SAN) tests/c/test_$*.c $(LIBDIR)/librunbeam.a $(C_SYSLIBS) -o $(C_OUT)/test_$*_asan
	gcc $(C_STRICT) -O0 tests/c/test_$*.c -L$(LIBDIR) -lrunbeam -Wl,-rpath,$(LIBDIR) $(C_SYSLIBS) -o $(C_OUT)/test_$*

c-bin-mesh-gateway:
	gcc $(C_STRICT) -O1 $(C_SAN) $$(pkg-config --cflags $(HTTP_PKGS)) examples/c/mesh_gateway.c \
		$(LIBDIR)/librunbeam.a $$(pkg-config --libs $(HTTP_PKGS)) $(C_SYSLIBS) -o $(C_OUT)/mesh_gateway_asan

## The C benchmarks (run by scripts/bench.sh) are compiled here too, so they cannot rot.
c-bin-benches:
	gcc $(C_STRICT) -O1 benches/c/bench_reference.c $(LIBDIR)/librunbeam.a $(C_SYSLIBS) -o $(C_OUT)/bench_reference
	gcc $(C_STRICT) -O1 -I$(ROOT)/tests/c benches/c/bench_client.c $(LIBDIR)/librunbeam.a $(C_SYSLIBS) -o $(C_OUT)/bench_client
	gcc $(C_STRICT) -O1 -I$(ROOT)/tests/c benches/c/bench_jwt.c $(LIBDIR)/librunbeam.a $(C_SYSLIBS) -o $(C_OUT)/bench_jwt
	gcc $(C_STRICT) -O1 -I$(ROOT)/tests/c benches/c/bench_resolver.c $(LIBDIR)/librunbeam.a $(C_SYSLIBS) -o $(C_OUT)/bench_resolver
	gcc $(C_STRICT) -O1 -I$(ROOT)/tests/c $$(pkg-config --cflags $(HTTP_PKGS)) benches/c/bench_edge.c \
		$(LIBDIR)/librunbeam.a $$(pkg-config --libs $(HTTP_PKGS)) $(C_SYSLIBS) -o $(C_OUT)/bench_edge
	gcc $(C_STRICT) -O1 -I$(ROOT)/tests/c benches/c/bench_threads.c $(LIBDIR)/librunbeam.a $(C_SYSLIBS) -o $(C_OUT)/bench_threads
	gcc $(C_STRICT) -O1 -I$(ROOT)/tests/c benches/c/soak.c $(LIBDIR)/librunbeam.a $(C_SYSLIBS) -o $(C_OUT)/soak_debug

c-bin-header-cxx:
	g++ -std=c++17 -Wall -Wextra -Werror -pedantic -I$(ROOT)/include tests/c/header_cxx.cpp \
		-L$(LIBDIR) -lrunbeam -Wl,-rpath,$(LIBDIR) -o $(C_OUT)/header_cxx

c-test: c-build
	$(C_OUT)/header_cxx
	@$(MAKE) --no-print-directory -j$(JOBS) --output-sync=target $(C_RUNS)

$(addprefix c-run-,$(C_RUN)): c-run-%:
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		$(C_OUT)/test_$*_asan $(call c_suite_arg,$*)
	$(VALGRIND) $(C_OUT)/test_$* $(call c_suite_arg,$*)

c-run-mesh-gateway:
	bash tests/c/test_mesh_gateway.sh $(LIBDIR)/runbeam-devcloud $(C_OUT)/mesh_gateway_asan

.PHONY: c-soak
## The C soak benchmark (benches/c/soak.c): 1,000,000 mixed hot-path calls against the RELEASE
## librunbeam.a as `make c-release` builds it (fat LTO, what ships; runbeam-ffi/c-dist.mk) — its
## devcloud, used only to set up, is the debug one: RSS after warm-up, after 100k and at the
## end, growth, unexpected results (exit 1 unless 0), total time.
c-soak: build c-release
	@mkdir -p $(C_OUT)
	gcc $(C_STRICT) -O2 -I$(ROOT)/tests/c benches/c/soak.c $(C_RELEASE_DIR)/librunbeam.a $(C_SYSLIBS) -o $(C_OUT)/soak
	$(C_OUT)/soak $(LIBDIR)/runbeam-devcloud

.PHONY: c-examples
## The C example gateways (examples/c: mesh_check, authorize, gateway, and mesh_gateway on
## libmicrohttpd + libcurl found with pkg-config), built like a user would, against the shared library.
c-examples: build c-dev-soname
	@mkdir -p $(C_OUT)
	gcc $(C_STRICT) -O1 examples/c/mesh_check.c -L$(LIBDIR) -lrunbeam -Wl,-rpath,$(LIBDIR) -o $(C_OUT)/mesh_check
	gcc $(C_STRICT) -O1 examples/c/authorize.c -L$(LIBDIR) -lrunbeam -Wl,-rpath,$(LIBDIR) -o $(C_OUT)/authorize
	gcc $(C_STRICT) -O1 examples/c/gateway.c -L$(LIBDIR) -lrunbeam -Wl,-rpath,$(LIBDIR) -o $(C_OUT)/gateway
	$(HTTP_PKGS_CHECK)
	gcc $(C_STRICT) -O1 $$(pkg-config --cflags $(HTTP_PKGS)) examples/c/mesh_gateway.c \
		-L$(LIBDIR) -lrunbeam -Wl,-rpath,$(LIBDIR) $$(pkg-config --libs $(HTTP_PKGS)) -lpthread \
		-o $(C_OUT)/mesh_gateway
