/*
 * The check macro shared by the C test suites (test_ffi.c, test_client.c,
 * test_client_faults.c). Include it once per test program: it defines the program's
 * `passed` / `failed` counters.
 *
 *   CHECK(runbeam_x(...) == RUNBEAM_OK, "%s", runbeam_last_error_message());
 *   ...
 *   return check_summary();   // prints "N passed, N failed"; 0 when nothing failed
 */
#ifndef RUNBEAM_TESTS_CHECK_H
#define RUNBEAM_TESTS_CHECK_H

#include <stdio.h>

static int passed;
static int failed;

/* Counts `cond`; when false, prints file:line, the condition and a printf-style detail. */
#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (cond) {                                                          \
            passed++;                                                        \
        } else {                                                             \
            failed++;                                                        \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);  \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
        }                                                                    \
    } while (0)

/* Prints the totals; returns the program's exit status (0 when every check passed). */
static inline int check_summary(void) {
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

#endif
