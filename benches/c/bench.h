/*
 * Shared by the C benchmarks (the programs of benches/c/, and benches/startup/startup.c as
 * "../c/bench.h"): the median of the interleaved rounds; when runbeam.h is included before it,
 * the fixtures built through the C ABI (a validator, a gateway's resolver and token manager); when
 * tests/c/devcloud.h is included before it too, the start-up of a runbeam-devcloud subprocess and
 * the minting of its tokens. Included as "bench.h" from next to it (no -I needed). Everything is
 * static inline: a program pays only for what it calls.
 *
 * bench_validator_new() and bench_resolver_new() return NULL, or the step that failed (for the
 * caller's die(), which adds runbeam_last_error_message()); bench_mint_tokens() dies itself.
 *
 *   int status = bench_devcloud_start(argc, argv);   // usage, SIGPIPE, devcloud_start
 *   if (status != 0) return status;
 *   char *buffer = bench_mint_tokens("bench_jwt", issuer, sizeof issuer, CAP, TOKENS, tokens,
 *                                    lengths);              // or bench_die("bench_jwt", step)
 *   const char *failed = bench_validator_new(issuer, 0, 1, &v);
 *   if (failed != NULL) die(failed);
 *   ...
 *   double m = median(figures, ROUNDS);
 */
#ifndef RUNBEAM_BENCHES_BENCH_H
#define RUNBEAM_BENCHES_BENCH_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* qsort order of doubles (ascending). */
static inline int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts the `n` figures of `v` in place and returns the middle one. */
static inline double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    return v[n / 2];
}

#ifdef RUNBEAM_H
/* A validator trusting `issuer`; its verified-token cache capacity set when `capacity` > 0
 * (else the default); its keys fetched (runbeam_validator_refresh_keys) when `refresh_keys`.
 * Returns NULL, or the step that failed: "config", "issuer", "cache capacity", "validator",
 * "refresh_keys". */
static inline const char *bench_validator_new(const char *issuer, size_t capacity,
                                              int refresh_keys, runbeam_validator **out) {
    runbeam_validator_config *cfg = NULL;
    runbeam_validator *v = NULL;
    if (runbeam_validator_config_new(&cfg) != RUNBEAM_OK) return "config";
    if (runbeam_validator_config_add_trusted_issuer(cfg, issuer) != RUNBEAM_OK) return "issuer";
    if (capacity > 0 && runbeam_validator_config_set_cache_capacity(cfg, capacity) != RUNBEAM_OK)
        return "cache capacity";
    if (runbeam_validator_new(cfg, &v) != RUNBEAM_OK) return "validator";
    runbeam_validator_config_free(cfg);
    if (refresh_keys && runbeam_validator_refresh_keys(v) != RUNBEAM_OK) return "refresh_keys";
    *out = v;
    return NULL;
}

/* A gateway's resolver: the mesh configuration `toml` (`len` bytes) with the provider
 * "runbeam" pointed at `url`, a client of `url`, and a token manager ("analytics-gw-1",
 * `credential` as its credential token, the machine token in a memory store), which is
 * returned in `*manager` (the intermediate handles are freed: the resolver and the token
 * manager keep their own). Returns NULL, or the step that failed: "configuration", "client",
 * "token manager", "resolver". */
static inline const char *bench_resolver_new(const char *toml, size_t len, const char *url,
                                             const char *credential,
                                             runbeam_token_manager **manager,
                                             runbeam_resolver **resolver) {
    runbeam_mesh_config *file = NULL, *config = NULL;
    runbeam_client_config *cc = NULL;
    runbeam_client *client = NULL;
    runbeam_token_store *store = NULL;
    runbeam_token_manager_config *mc = NULL;
    if (runbeam_mesh_config_from_toml_len(toml, len, &file) != RUNBEAM_OK ||
        runbeam_mesh_config_with_provider_api(file, "runbeam", url, &config) != RUNBEAM_OK)
        return "configuration";
    if (runbeam_client_config_new(url, &cc) != RUNBEAM_OK ||
        runbeam_client_new(cc, &client) != RUNBEAM_OK)
        return "client";
    if (runbeam_token_store_memory_new(&store) != RUNBEAM_OK ||
        runbeam_token_manager_config_new("analytics-gw-1", &mc) != RUNBEAM_OK ||
        runbeam_token_manager_config_set_api_url(mc, url) != RUNBEAM_OK ||
        runbeam_token_manager_config_set_credential_token(mc, credential) != RUNBEAM_OK ||
        runbeam_token_manager_new(mc, store, manager) != RUNBEAM_OK)
        return "token manager";
    if (runbeam_resolver_new(config, client, *manager, NULL, resolver) != RUNBEAM_OK)
        return "resolver";
    runbeam_token_manager_config_free(mc);
    runbeam_token_store_free(store);
    runbeam_client_free(client);
    runbeam_client_config_free(cc);
    runbeam_mesh_config_free(file);
    runbeam_mesh_config_free(config);
    return NULL;
}
#endif

#ifdef RUNBEAM_TESTS_DEVCLOUD_H
/* Starts the devcloud named by `argv[1]` (SIGPIPE ignored). Returns 0, or the program's exit
 * status (2) after printing the usage or the failure. */
static inline int bench_devcloud_start(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s <path-to-runbeam-devcloud>\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (devcloud_start(argv[1]) != 0) {
        fprintf(stderr, "cannot start %s\n", argv[1]);
        devcloud_stop();
        return 2;
    }
    return 0;
}

#ifdef RUNBEAM_H
/* Prints "`program`: `what`: <runbeam_last_error_message()>" on stderr, stops the devcloud and
 * exits with status 1. */
static inline _Noreturn void bench_die(const char *program, const char *what) {
    fprintf(stderr, "%s: %s: %s\n", program, what, runbeam_last_error_message());
    devcloud_stop();
    exit(1);
}

/* The fixture of the token benchmarks, once the devcloud runs: `issuer` (`issuer_cap` bytes) set
 * to the devcloud's issuer ("<api_url>/api"), and `count` distinct genuine tokens for
 * alice@radiology.example.com minted at once (POST /_dev/jwt with "count") into a new buffer of
 * `cap` bytes, which is returned (free() it); `tokens[i]` point into it (NUL-terminated),
 * `lengths[i]` are their lengths. On a failure, bench_die(`program`, "malloc" | "mint" |
 * "no tokens in the answer" | "truncated token list"). */
static inline char *bench_mint_tokens(const char *program, char *issuer, size_t issuer_cap,
                                      size_t cap, int count, const char **tokens,
                                      size_t *lengths) {
    snprintf(issuer, issuer_cap, "%s/api", api_url);
    char *buffer = malloc(cap);
    if (buffer == NULL) bench_die(program, "malloc");
    char body[128];
    snprintf(body, sizeof body, "{\"email\":\"alice@radiology.example.com\",\"count\":%d}", count);
    if (dev_request("POST", "/_dev/jwt", body, buffer, cap) != 200) bench_die(program, "mint");
    char *p = strstr(buffer, "\"tokens\":[");
    if (p == NULL) bench_die(program, "no tokens in the answer");
    p += strlen("\"tokens\":[");
    for (int i = 0; i < count; i++) {
        char *start = strchr(p, '"');
        char *end = start ? strchr(start + 1, '"') : NULL;
        if (end == NULL) bench_die(program, "truncated token list");
        *end = '\0';
        tokens[i] = start + 1;
        lengths[i] = (size_t)(end - start - 1);
        p = end + 1;
    }
    return buffer;
}
#endif
#endif

#endif
