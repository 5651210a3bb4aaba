/*
 * Shared by the C benchmarks (bench_reference.c, bench_client.c, bench_jwt.c,
 * bench_resolver.c): the median of the interleaved rounds and, for the benchmarks against a
 * runbeam-devcloud subprocess, their start-up. Included as "bench.h" from next to it (no -I
 * needed); bench_devcloud_start() exists when tests/c/devcloud.h is included before it.
 *
 *   int status = bench_devcloud_start(argc, argv);   // usage, SIGPIPE, devcloud_start
 *   if (status != 0) return status;
 *   ...
 *   double m = median(figures, ROUNDS);
 */
#ifndef RUNBEAM_BENCHES_BENCH_H
#define RUNBEAM_BENCHES_BENCH_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

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
#endif

#endif
