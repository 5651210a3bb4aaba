/*
 * Throughput of runbeam_validator_validate() through the C ABI on both cores: 10,000 distinct
 * genuine RS256 tokens of a runbeam-devcloud subprocess (minted at once by POST /_dev/jwt with
 * "count"), validated by one shared validator
 *   - on 1 thread (every token in turn), and
 *   - on 2 pthreads (each half of the tokens), started together behind a barrier;
 * a fresh validator per round, its keys fetched beforehand (runbeam_validator_refresh_keys) and
 * its verified-token cache on (capacity 20,000: no eviction), so every call pays the full check
 * (SHA-256, decode, issuer, key lookup, RSA signature, claims, cache insert) and the two threads
 * share the validator's key set and token cache as a gateway's workers would. Each call reads
 * `sub` and frees the claims handle. Rounds are interleaved; the figures are the medians over the
 * rounds (min-max beside them) in tokens per second of wall time, and the ratio 2 threads /
 * 1 thread (the goal on 2 cores: >= 1.8x). No network I/O happens inside the timed part.
 * Beside the wall-clock figures: the CPU time per token (the workers' CLOCK_THREAD_CPUTIME_ID,
 * summed) and the parallelism obtained (CPU seconds per wall second). On a shared machine the
 * scheduler may not give the second core (Linux autogroup shares CPU between sessions, not
 * threads): a parallelism near 1 with 2 threads says so, and an unchanged CPU time per token
 * says the two threads do not slow each other down (no contention on the shared validator).
 *
 *   bash scripts/bench.sh c      (builds the release librunbeam.a and runbeam-devcloud)
 *   bench_threads <path-to-runbeam-devcloud>
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devcloud.h"
#include "runbeam.h"
#include "bench.h"

#define ROUNDS 11
#define TOKENS 10000
#define THREADS 2
#define CACHE_CAPACITY 20000
#define RESPONSE_CAP (32u << 20)

static char issuer[300];
static const char *tokens[TOKENS];
static size_t lengths[TOKENS];

static _Noreturn void die(const char *what) { bench_die("bench_threads", what); }

static runbeam_validator *new_validator(void) {
    runbeam_validator *v = NULL;
    const char *failed = bench_validator_new(issuer, CACHE_CAPACITY, 1, &v);
    if (failed != NULL) die(failed);
    return v;
}

/* One worker's share: tokens [from, to) on `validator`, after every worker reached `barrier`. */
struct share {
    runbeam_validator *validator;
    pthread_barrier_t *barrier;
    int from, to;
    size_t sink;
    int failed;
    double cpu_s; /* this worker's CPU time over its share */
};

static double thread_cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *work(void *arg) {
    struct share *s = arg;
    pthread_barrier_wait(s->barrier);
    double cpu_start = thread_cpu_s();
    for (int i = s->from; i < s->to; i++) {
        runbeam_claims *claims = NULL;
        if (runbeam_validator_validate(s->validator, tokens[i], lengths[i], &claims) !=
            RUNBEAM_OK) {
            s->failed = 1;
            return NULL;
        }
        s->sink += strlen(runbeam_claims_sub(claims));
        runbeam_claims_free(claims);
    }
    s->cpu_s = thread_cpu_s() - cpu_start;
    return NULL;
}

/* What one round gave: tokens per second of wall time, CPU seconds per wall second. */
struct figures {
    double rate, parallelism, cpu_us_per_token;
};

/* Every token once on a fresh validator, split over `threads` threads. */
static struct figures round_threads(int threads) {
    runbeam_validator *v = new_validator();
    pthread_barrier_t barrier;
    /* The main thread joins the barrier too, so the clock starts when every worker is ready. */
    pthread_barrier_init(&barrier, NULL, (unsigned)threads + 1);
    struct share shares[THREADS];
    pthread_t ids[THREADS];
    for (int t = 0; t < threads; t++) {
        shares[t] = (struct share){v, &barrier, TOKENS * t / threads, TOKENS * (t + 1) / threads,
                                   0, 0, 0};
        if (pthread_create(&ids[t], NULL, work, &shares[t]) != 0) die("pthread_create");
    }
    pthread_barrier_wait(&barrier);
    double start = now_s();
    for (int t = 0; t < threads; t++) pthread_join(ids[t], NULL);
    double elapsed = now_s() - start;
    pthread_barrier_destroy(&barrier);
    double cpu = 0;
    for (int t = 0; t < threads; t++) {
        if (shares[t].failed) die("validate");
        cpu += shares[t].cpu_s;
    }
    runbeam_validator_free(v);
    return (struct figures){TOKENS / elapsed, cpu / elapsed, cpu / TOKENS * 1e6};
}

int main(int argc, char **argv) {
    int started = bench_devcloud_start(argc, argv);
    if (started != 0) return started;
    char *buffer = bench_mint_tokens("bench_threads", issuer, sizeof issuer, RESPONSE_CAP, TOKENS,
                                     tokens, lengths);

    round_threads(1); /* warm-up: page faults, the allocator's arenas, the CPU's caches */
    round_threads(THREADS);
    double one[ROUNDS], two[ROUNDS], ratio[ROUNDS], par1[ROUNDS], par2[ROUNDS], cpu1[ROUNDS],
        cpu2[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) { /* interleaved so machine noise hits both alike */
        struct figures a = round_threads(1), b = round_threads(THREADS);
        one[r] = a.rate;
        two[r] = b.rate;
        ratio[r] = b.rate / a.rate;
        par1[r] = a.parallelism;
        par2[r] = b.parallelism;
        cpu1[r] = a.cpu_us_per_token;
        cpu2[r] = b.cpu_us_per_token;
    }
    double m1 = median(one, ROUNDS), m2 = median(two, ROUNDS), mr = median(ratio, ROUNDS);
    printf("C runbeam_validator_validate on one shared validator, %d distinct RS256 tokens of "
           "runbeam-devcloud per round (median of %d rounds, min-max)\n", TOKENS, ROUNDS);
    printf("  1 thread             %9.0f tokens/s  (%.0f-%.0f)\n", m1, one[0], one[ROUNDS - 1]);
    printf("  %d threads            %9.0f tokens/s  (%.0f-%.0f)\n", THREADS, m2, two[0],
           two[ROUNDS - 1]);
    printf("  ratio 2 / 1          %9.2fx          (%.2f-%.2fx, per round)\n", mr, ratio[0],
           ratio[ROUNDS - 1]);
    printf("  per token, 1 thread  %9.2f us; 2 threads %.2f us of wall time\n", 1e6 / m1,
           1e6 / m2);
    double c1 = median(cpu1, ROUNDS), c2 = median(cpu2, ROUNDS);
    printf("  CPU per token        %9.2f us with 1 thread, %.2f us with 2 (%.2fx)\n", c1, c2,
           c2 / c1);
    printf("  parallelism obtained %9.2f with 1 thread, %.2f with 2 (CPU s per wall s)\n",
           median(par1, ROUNDS), median(par2, ROUNDS));

    free(buffer);
    devcloud_stop();
    return 0;
}
