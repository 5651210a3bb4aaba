/*
 * Resolver cache hits through the C ABI: runbeam_resolver_resolve_cached() and the blocking
 * runbeam_resolver_resolve() on a fresh cached answer (each followed by reading the first URL
 * and freeing the resolution, as a gateway would), versus what a C gateway could write itself
 * in the same run: a lookup in a small open-addressing hash table of reference -> URL (FNV-1a
 * + strcmp, no TTL, no mesh-context check, no locking), and runbeam_reference_parse() + free
 * as a floor of "doing anything with the reference string" through the ABI. Rounds are
 * interleaved so machine noise hits all alike; prints the median ns/op of each.
 *
 * The cache is filled once from a runbeam-devcloud subprocess (tests/c/devcloud.h); the timed
 * loops do no I/O (the devcloud's resolve counter is checked afterwards).
 *
 *   bash scripts/bench.sh c      (builds the release librunbeam.a and runbeam-devcloud)
 *   bench_resolver <path-to-runbeam-devcloud>
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devcloud.h"
#include "runbeam.h"
#include "bench.h"

#define ROUNDS 15
#define ITERATIONS 200000

#define BOB "2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f"
#define REF "runbeam.radiology-dept.ingress.name.dicomweb"

static runbeam_resolver *resolver;
static volatile size_t sink;

static void die(const char *what) {
    fprintf(stderr, "bench_resolver: %s: %s\n", what, runbeam_last_error_message());
    devcloud_stop();
    exit(1);
}

static double now_ns(void) { return now_s() * 1e9; }

/* ---------------------------------------------------------------- the hand-written peer */

#define SLOTS 16 /* a power of two */

struct slot {
    const char *reference;
    const char *url;
};

static struct slot table[SLOTS];

static uint32_t fnv1a(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static void table_put(const char *reference, const char *url) {
    for (uint32_t i = fnv1a(reference);; i++) {
        struct slot *s = &table[i & (SLOTS - 1)];
        if (s->reference == NULL || strcmp(s->reference, reference) == 0) {
            s->reference = reference;
            s->url = url;
            return;
        }
    }
}

static const char *table_get(const char *reference) {
    for (uint32_t i = fnv1a(reference), n = 0; n < SLOTS; i++, n++) {
        const struct slot *s = &table[i & (SLOTS - 1)];
        if (s->reference == NULL) return NULL;
        if (strcmp(s->reference, reference) == 0) return s->url;
    }
    return NULL;
}

/* -------------------------------------------------------------------------------- rounds */

static double round_cached(void) {
    double start = now_ns();
    for (int i = 0; i < ITERATIONS; i++) {
        runbeam_resolution *r = NULL;
        if (runbeam_resolver_resolve_cached(resolver, REF, &r) != RUNBEAM_OK || r == NULL)
            die("resolve_cached");
        sink += strlen(runbeam_resolution_url(r, 0));
        runbeam_resolution_free(r);
    }
    return (now_ns() - start) / ITERATIONS;
}

static double round_blocking(void) {
    double start = now_ns();
    for (int i = 0; i < ITERATIONS; i++) {
        runbeam_resolution *r = NULL;
        if (runbeam_resolver_resolve(resolver, REF, &r) != RUNBEAM_OK) die("resolve");
        sink += strlen(runbeam_resolution_url(r, 0));
        runbeam_resolution_free(r);
    }
    return (now_ns() - start) / ITERATIONS;
}

static double round_table(void) {
    double start = now_ns();
    for (int i = 0; i < ITERATIONS; i++) {
        const char *url = table_get(REF);
        if (url == NULL) die("table");
        sink += strlen(url);
    }
    return (now_ns() - start) / ITERATIONS;
}

static double round_parse(void) {
    double start = now_ns();
    for (int i = 0; i < ITERATIONS; i++) {
        runbeam_reference *ref = NULL;
        if (runbeam_reference_parse(REF, &ref) != RUNBEAM_OK) die("parse");
        sink += strlen(runbeam_reference_value(ref));
        runbeam_reference_free(ref);
    }
    return (now_ns() - start) / ITERATIONS;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s <runbeam-devcloud>\n", argv[0]);
        return 2;
    }
    if (devcloud_start(argv[1]) != 0) die("cannot start the devcloud");
    const char *toml =
        "[provider.runbeam]\napi = \"https://api.runbeam.io\"\ncache_ttl_secs = 3600\n\n"
        "[mesh.imaging-integration]\ntype = \"http3\"\nprovider = \"runbeam\"\n"
        "egress = [\"" REF "\"]\n";
    runbeam_token_manager *manager = NULL;
    if (bench_resolver_new(toml, strlen(toml), api_url, BOB, &manager, &resolver) != NULL)
        die("setup");

    /* Fill the cache (one request), and the peer's table with the same answer. */
    runbeam_resolution *first = NULL;
    if (runbeam_resolver_resolve(resolver, REF, &first) != RUNBEAM_OK) die("first resolve");
    char url[512];
    snprintf(url, sizeof url, "%s", runbeam_resolution_url(first, 0));
    runbeam_resolution_free(first);
    const char *others[] = {"runbeam.radiology-dept.ingress.name.pacs",
                            "runbeam.ai-analytics.egress.name.results", "imaging-out",
                            "runbeam.acme.ingress.name.api"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        table_put(others[i], "https://other.example.com");
    table_put(REF, url);
    dev_delete("/_dev/counters");

    double cached[ROUNDS], blocking[ROUNDS], peer[ROUNDS], parse[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        cached[r] = round_cached();
        blocking[r] = round_blocking();
        peer[r] = round_table();
        parse[r] = round_parse();
    }
    long requests = dev_count("GET /api/harmony/resources/resolve");
    double a = median(cached, ROUNDS), b = median(blocking, ROUNDS);
    double c = median(peer, ROUNDS), d = median(parse, ROUNDS);
    printf("C: resolver cache hit of '%s' (median of %d rounds x %d)\n", REF, ROUNDS, ITERATIONS);
    printf("  runbeam_resolver_resolve_cached + url + free   %8.1f ns/op\n", a);
    printf("  runbeam_resolver_resolve (hit) + url + free    %8.1f ns/op\n", b);
    printf("  peer: C hash table lookup (FNV-1a + strcmp)    %8.1f ns/op\n", c);
    printf("  peer: runbeam_reference_parse + free           %8.1f ns/op\n", d);
    printf("  upstream requests during the timed loops: %ld\n", requests);

    runbeam_resolver_free(resolver);
    runbeam_token_manager_free(manager);
    devcloud_stop();
    return requests == 0 ? 0 : 1;
}
