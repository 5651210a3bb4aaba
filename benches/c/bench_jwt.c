/*
 * Cost per token of runbeam_validator_validate() through the C ABI, against the real keys of a
 * runbeam-devcloud subprocess:
 *   - distinct: 10,000 distinct genuine RS256 tokens (minted at once by POST /_dev/jwt with
 *     "count"), each validated once by a fresh validator per round whose keys were fetched
 *     beforehand (runbeam_validator_refresh_keys), so every call pays the full check:
 *     SHA-256, decode, issuer, key lookup, RSA signature, claims, cache insert;
 *   - repeated: one token validated 10,000 times by a warmed validator, answered from the
 *     verified-token cache (time claims re-checked on every hit).
 * Each call also reads `sub` and frees the claims handle, as a gateway would. Rounds are
 * interleaved; the figures are medians over the rounds, in µs per token, and the ratio
 * distinct / repeated. No network I/O happens inside the timed loops.
 *
 *   bash scripts/bench.sh c      (builds the release librunbeam.a and runbeam-devcloud)
 *   bench_jwt <path-to-runbeam-devcloud>
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devcloud.h"
#include "runbeam.h"
#include "bench.h"

#define ROUNDS 11
#define TOKENS 10000
#define RESPONSE_CAP (32u << 20)

static char issuer[300];
static const char *tokens[TOKENS];
static size_t lengths[TOKENS];
static volatile size_t sink;

static _Noreturn void die(const char *what) { bench_die("bench_jwt", what); }

static runbeam_validator *new_validator(void) {
    runbeam_validator *v = NULL;
    const char *failed = bench_validator_new(issuer, 0, 1, &v);
    if (failed != NULL) die(failed);
    return v;
}

static void validate(runbeam_validator *v, const char *token, size_t len) {
    runbeam_claims *claims = NULL;
    if (runbeam_validator_validate(v, token, len, &claims) != RUNBEAM_OK) die("validate");
    sink += strlen(runbeam_claims_sub(claims));
    runbeam_claims_free(claims);
}

/* A fresh validator with keys; every token once. */
static double round_distinct(void) {
    runbeam_validator *v = new_validator();
    double start = now_s();
    for (int i = 0; i < TOKENS; i++) validate(v, tokens[i], lengths[i]);
    double us = (now_s() - start) / TOKENS * 1e6;
    runbeam_validator_free(v);
    return us;
}

/* One token, TOKENS times, on a warmed validator. */
static double round_repeated(runbeam_validator *v) {
    double start = now_s();
    for (int i = 0; i < TOKENS; i++) validate(v, tokens[0], lengths[0]);
    return (now_s() - start) / TOKENS * 1e6;
}

int main(int argc, char **argv) {
    int started = bench_devcloud_start(argc, argv);
    if (started != 0) return started;
    char *buffer = bench_mint_tokens("bench_jwt", issuer, sizeof issuer, RESPONSE_CAP, TOKENS,
                                     tokens, lengths);

    runbeam_validator *warm = new_validator();
    validate(warm, tokens[0], lengths[0]);
    double distinct[ROUNDS], repeated[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) { /* interleaved so machine noise hits both alike */
        distinct[r] = round_distinct();
        repeated[r] = round_repeated(warm);
    }
    double d = median(distinct, ROUNDS), k = median(repeated, ROUNDS);
    printf("C runbeam_validator_validate, RS256 tokens of runbeam-devcloud "
           "(median of %d rounds x %d tokens)\n", ROUNDS, TOKENS);
    printf("  distinct tokens (fresh validator, keys fetched)  %8.2f us/token\n", d);
    printf("  one repeated token (verified-token cache hit)    %8.2f us/token\n", k);
    printf("  ratio distinct / repeated                        %8.1fx\n", d / k);

    runbeam_validator_free(warm);
    free(buffer);
    devcloud_stop();
    return 0;
}
