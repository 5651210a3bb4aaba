/*
 * Reference parsing from C: runbeam_reference_parse() + runbeam_reference_free() versus a naive
 * hand-written C parser (strtok_r + strdup of each part, no validation), measured in the same
 * run. Prints the median ns/op of several rounds for each.
 *
 *   make bench   (or: see scripts/bench.sh for the exact build line)
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runbeam.h"
#include "bench.h"

#define ROUNDS 15
#define ITERATIONS 200000

static const char *const FULL = "runbeam.acme-healthcare.ingress.name.fhir-api";

struct naive {
    char *part[5];
    int count;
};

/* What a gateway might write by hand: split on '.', copy each part, lowercase the type. */
static int naive_parse(const char *text, struct naive *out) {
    char *copy = strdup(text);
    char *save = NULL;
    out->count = 0;
    for (char *tok = strtok_r(copy, ".", &save); tok && out->count < 5;
         tok = strtok_r(NULL, ".", &save))
        out->part[out->count++] = strdup(tok);
    free(copy);
    if (out->count == 5)
        for (char *p = out->part[2]; *p; p++) *p = (char)tolower((unsigned char)*p);
    return out->count == 5 || out->count == 3 ? 0 : -1;
}

static void naive_free(struct naive *n) {
    for (int i = 0; i < n->count; i++) free(n->part[i]);
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static volatile size_t sink;

static double round_runbeam(void) {
    double start = now_ns();
    for (int i = 0; i < ITERATIONS; i++) {
        runbeam_reference *ref = NULL;
        if (runbeam_reference_parse(FULL, &ref) != RUNBEAM_OK) abort();
        sink += strlen(runbeam_reference_value(ref));
        runbeam_reference_free(ref);
    }
    return (now_ns() - start) / ITERATIONS;
}

static double round_naive(void) {
    double start = now_ns();
    for (int i = 0; i < ITERATIONS; i++) {
        struct naive n;
        if (naive_parse(FULL, &n) != 0) abort();
        sink += strlen(n.part[4]);
        naive_free(&n);
    }
    return (now_ns() - start) / ITERATIONS;
}

int main(void) {
    double ours[ROUNDS], peer[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) { /* interleaved so machine noise hits both alike */
        ours[r] = round_runbeam();
        peer[r] = round_naive();
    }
    double a = median(ours, ROUNDS), b = median(peer, ROUNDS);
    printf("C: parse + free of '%s' (median of %d rounds x %d)\n", FULL, ROUNDS, ITERATIONS);
    printf("  runbeam_reference_parse        %8.1f ns/op\n", a);
    printf("  naive strtok_r+strdup parser   %8.1f ns/op\n", b);
    printf("  ratio runbeam/naive            %8.2f\n", a / b);
    return 0;
}
