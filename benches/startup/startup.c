/*
 * One cold start or one memory measurement through the C ABI, run by benches/startup/run.py in
 * a fresh process. Linked against the release librunbeam.so (rpath), so "load" (exec -> main)
 * includes the dynamic loading of the library.
 *
 * Cold start (prints one JSON line of CLOCK_REALTIME nanoseconds):
 *   jwt URL TOKEN          main | validator built | runbeam_validator_refresh_keys (JWKS fetch +
 *                          key parse) | runbeam_validator_validate(TOKEN)
 *   resolve URL CONFIG REF main | configuration, client, memory token store, token manager,
 *                          resolver built | runbeam_token_manager_ensure_token (authorize) |
 *                          runbeam_resolver_resolve(REF)
 * Memory (prints VmRSS before/after in bytes):
 *   mem-jwt URL TOKENS_FILE          every token validated twice (kept by the verified-token
 *                                    cache, capacity 20,000)
 *   mem-resolve URL CONFIG REFS_FILE every reference resolved once (cached by the resolver)
 *
 *   bash scripts/bench.sh startup
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runbeam.h"
#include "../c/bench.h" /* static inline: only what is called is compiled in */

#define BOB_SANCTUM "2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f"

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "startup: %s: %s\n", what, runbeam_last_error_message());
    exit(1);
}

static long long rss(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long long kib = -1;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0) kib = strtoll(line + 6, NULL, 10);
    if (f != NULL) fclose(f);
    if (kib < 0) die("no VmRSS");
    return kib * 1024;
}

/* The whole file `path`, NUL-terminated; its length in `*len`. */
static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) die(path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)size + 1);
    if (text == NULL || fread(text, 1, (size_t)size, f) != (size_t)size) die(path);
    fclose(f);
    text[size] = '\0';
    *len = (size_t)size;
    return text;
}

/* The non-empty lines of `text`, split in place; their count in `*n`. */
static char **lines(char *text, size_t *n) {
    size_t cap = 1024, count = 0;
    char **out = malloc(cap * sizeof *out);
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        if (count == cap) out = realloc(out, (cap *= 2) * sizeof *out);
        if (out == NULL) die("realloc");
        out[count++] = line;
    }
    *n = count;
    return out;
}

static runbeam_validator *new_validator(const char *url, size_t capacity) {
    char issuer[512];
    snprintf(issuer, sizeof issuer, "%s/api", url);
    runbeam_validator *v = NULL;
    if (bench_validator_new(issuer, capacity, 0, &v) != NULL) die("validator");
    return v;
}

static void validate(runbeam_validator *v, const char *token) {
    runbeam_claims *claims = NULL;
    if (runbeam_validator_validate(v, token, strlen(token), &claims) != RUNBEAM_OK)
        die("validate");
    if (runbeam_claims_sub(claims) == NULL) die("no sub");
    runbeam_claims_free(claims);
}

/* The gateway's resolver (configuration at `config_path` pointed at `url`, Bob's Sanctum token
 * as the credential, the machine token in a memory store) and its token manager. */
static runbeam_resolver *new_resolver(const char *url, const char *config_path,
                                      runbeam_token_manager **manager_out) {
    size_t len = 0;
    char *toml = slurp(config_path, &len);
    runbeam_token_manager *manager = NULL;
    runbeam_resolver *resolver = NULL;
    const char *failed = bench_resolver_new(toml, len, url, BOB_SANCTUM, &manager, &resolver);
    if (failed != NULL) die(failed);
    free(toml);
    *manager_out = manager;
    return resolver;
}

/* The cold-start timeline, one JSON line of CLOCK_REALTIME nanoseconds ("load" is "start": the
 * dynamic loading happened before main). */
static void print_timeline(long long start, long long construct, long long fetch, long long first) {
    printf("{\"start\":%lld,\"load\":%lld,\"construct\":%lld,\"fetch\":%lld,\"first\":%lld}\n",
           start, start, construct, fetch, first);
}

static void resolve(runbeam_resolver *resolver, const char *reference) {
    runbeam_resolution *answer = NULL;
    if (runbeam_resolver_resolve(resolver, reference, &answer) != RUNBEAM_OK) die(reference);
    if (runbeam_resolution_url_count(answer) == 0) die("no urls");
    runbeam_resolution_free(answer);
}

int main(int argc, char **argv) {
    long long start = now_ns();
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "jwt") == 0 && argc == 4) {
        runbeam_validator *v = new_validator(argv[2], 0);
        long long construct = now_ns();
        if (runbeam_validator_refresh_keys(v) != RUNBEAM_OK) die("refresh_keys");
        long long fetch = now_ns();
        validate(v, argv[3]);
        long long first = now_ns();
        print_timeline(start, construct, fetch, first);
        runbeam_validator_free(v);
    } else if (strcmp(mode, "resolve") == 0 && argc == 5) {
        runbeam_token_manager *manager = NULL;
        runbeam_resolver *resolver = new_resolver(argv[2], argv[3], &manager);
        long long construct = now_ns();
        runbeam_machine_token *machine = NULL;
        if (runbeam_token_manager_ensure_token(manager, &machine) != RUNBEAM_OK)
            die("ensure_token");
        long long fetch = now_ns();
        resolve(resolver, argv[4]);
        long long first = now_ns();
        print_timeline(start, construct, fetch, first);
        runbeam_machine_token_free(machine);
        runbeam_resolver_free(resolver);
        runbeam_token_manager_free(manager);
    } else if (strcmp(mode, "mem-jwt") == 0 && argc == 4) {
        size_t len = 0, n = 0;
        char **tokens = lines(slurp(argv[3], &len), &n);
        if (n == 0) die("no tokens");
        runbeam_validator *v = new_validator(argv[2], 20000);
        if (runbeam_validator_refresh_keys(v) != RUNBEAM_OK) die("refresh_keys");
        validate(v, tokens[0]);
        validate(v, tokens[0]);
        long long before = rss();
        for (size_t i = 0; i < n; i++) {
            validate(v, tokens[i]);
            validate(v, tokens[i]);
        }
        long long after = rss();
        runbeam_validator_stats st;
        if (runbeam_validator_stats_get(v, &st) != RUNBEAM_OK) die("stats");
        printf("{\"before\":%lld,\"after\":%lld,\"entries\":%llu}\n", before, after,
               (unsigned long long)st.cached_tokens);
        runbeam_validator_free(v);
    } else if (strcmp(mode, "mem-resolve") == 0 && argc == 5) {
        size_t len = 0, n = 0;
        char **refs = lines(slurp(argv[4], &len), &n);
        if (n == 0) die("no references");
        runbeam_token_manager *manager = NULL;
        runbeam_resolver *resolver = new_resolver(argv[2], argv[3], &manager);
        resolve(resolver, refs[0]);
        long long before = rss();
        for (size_t i = 0; i < n; i++) resolve(resolver, refs[i]);
        long long after = rss();
        runbeam_resolver_stats st;
        if (runbeam_resolver_stats_get(resolver, &st) != RUNBEAM_OK) die("stats");
        printf("{\"before\":%lld,\"after\":%lld,\"entries\":%zu,\"upstream_requests\":%llu}\n",
               before, after, n, (unsigned long long)st.upstream_requests);
        runbeam_resolver_free(resolver);
        runbeam_token_manager_free(manager);
    } else {
        fprintf(stderr,
                "usage: %s jwt URL TOKEN | resolve URL CONFIG REF | mem-jwt URL TOKENS_FILE | "
                "mem-resolve URL CONFIG REFS_FILE\n",
                argv[0]);
        return 2;
    }
    return 0;
}
