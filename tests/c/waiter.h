/*
 * The synchronisation part of the callback waiters of the C test suites (test_client.c,
 * test_client_faults.c, test_jwt.c, test_storage.c, test_resolver.c): a mutex, a condition
 * variable and the number of callbacks that arrived. Each suite's `struct waiter` embeds one
 * as `sync` next to its own payload fields (status, results, strings).
 *
 *   static void on_done(void *user_data, runbeam_status status, ...) {
 *       struct waiter *w = user_data;
 *       waiter_sync_lock(&w->sync);
 *       w->status = status;                    // the payload, under the lock
 *       waiter_sync_signal(&w->sync);          // counts the call, wakes waiters, unlocks
 *   }
 *   ...
 *   CHECK(waiter_sync_wait(&w.sync, 1, 60) == 1, "called");
 *
 * Needs _POSIX_C_SOURCE >= 200809L before the first #include of the program.
 */
#ifndef RUNBEAM_TESTS_WAITER_H
#define RUNBEAM_TESTS_WAITER_H

#include <pthread.h>
#include <time.h>

struct waiter_sync {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
};

/* No callback yet. Pair with waiter_sync_destroy. */
static inline void waiter_sync_init(struct waiter_sync *ws) {
    ws->calls = 0;
    pthread_mutex_init(&ws->mu, NULL);
    pthread_cond_init(&ws->cv, NULL);
}

static inline void waiter_sync_destroy(struct waiter_sync *ws) {
    pthread_mutex_destroy(&ws->mu);
    pthread_cond_destroy(&ws->cv);
}

/* Starts recording a callback: the payload is written between this and waiter_sync_signal. */
static inline void waiter_sync_lock(struct waiter_sync *ws) { pthread_mutex_lock(&ws->mu); }

/* Ends recording a callback (after waiter_sync_lock): counts it, wakes the waiters, unlocks. */
static inline void waiter_sync_signal(struct waiter_sync *ws) {
    ws->calls++;
    pthread_cond_broadcast(&ws->cv);
    pthread_mutex_unlock(&ws->mu);
}

/* Waits until `calls` callbacks arrived, at most `seconds`; returns how many did. */
static inline int waiter_sync_wait(struct waiter_sync *ws, int calls, int seconds) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += seconds;
    pthread_mutex_lock(&ws->mu);
    while (ws->calls < calls)
        if (pthread_cond_timedwait(&ws->cv, &ws->mu, &deadline) != 0) break;
    int got = ws->calls;
    pthread_mutex_unlock(&ws->mu);
    return got;
}

/* The number of callbacks so far. */
static inline int waiter_sync_count(struct waiter_sync *ws) {
    pthread_mutex_lock(&ws->mu);
    int got = ws->calls;
    pthread_mutex_unlock(&ws->mu);
    return got;
}

#endif
