/*
 * Call overhead of the C client ABI: blocking runbeam_client_resolve() / runbeam_client_jwks()
 * (and the callback form of resolve, waited for on a condition variable) through librunbeam
 * against a runbeam-devcloud subprocess, versus the bare HTTP/1.1 request a C gateway could
 * write itself over a plain keep-alive socket, measured in the same run with rounds
 * interleaved. Prints the median µs/call of the rounds for each.
 *
 * The bare peer sends the same request (same headers that matter: Authorization, Accept),
 * reads the status line, headers and Content-Length body, and checks the status is 200 —
 * but does not parse the JSON (C has no standard parser), while librunbeam decodes it into
 * typed values and writes the result JSON back. So the ratio is an upper bound of the
 * SDK's overhead.
 *
 *   bash scripts/bench.sh c      (builds the release librunbeam.a and runbeam-devcloud)
 *   bench_client <path-to-runbeam-devcloud>
 */
#define _POSIX_C_SOURCE 200809L

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devcloud.h"
#include "runbeam.h"
#include "bench.h"

#define ROUNDS 11
#define CALLS 200

#define BOB "2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f"
#define BOB_GW "analytics-gw-1"
#define REF "runbeam.radiology-dept.ingress.name.dicomweb"
/* REF percent-encoded as a query value: it is all unreserved characters. */
#define RESOLVE_TARGET "/api/harmony/resources/resolve?ref=" REF
#define JWKS_TARGET "/api/.well-known/jwks.json"

static char machine_token[256];
static runbeam_client *gateway;
static runbeam_reference *reference;
static volatile size_t sink;

static void die(const char *what) {
    fprintf(stderr, "bench_client: %s: %s\n", what, runbeam_last_error_message());
    devcloud_stop();
    exit(1);
}

/* ------------------------------------------------------------------- the bare HTTP peer */

static int bare_fd = -1;

static void bare_connect(void) {
    if (bare_fd >= 0) close(bare_fd);
    bare_fd = devcloud_connect();
    if (bare_fd < 0) die("connect");
    int one = 1;
    setsockopt(bare_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* One keep-alive GET of `target`: writes the request, reads the head and the
 * Content-Length body. Returns the body length; exits unless the status is 200. */
static size_t bare_get(const char *target, int with_token) {
    char request[1024];
    int n = snprintf(request, sizeof request,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: application/json\r\n"
                     "%s%s%s\r\n",
                     target, api_port, with_token ? "Authorization: Bearer " : "",
                     with_token ? machine_token : "", with_token ? "\r\n" : "");
    for (int sent = 0; sent < n;) {
        ssize_t w = write(bare_fd, request + sent, (size_t)(n - sent));
        if (w <= 0) die("write");
        sent += (int)w;
    }
    static char buf[65536];
    size_t got = 0;
    char *body = NULL;
    while (body == NULL) {
        ssize_t r = read(bare_fd, buf + got, sizeof buf - 1 - got);
        if (r <= 0) die("read head");
        got += (size_t)r;
        buf[got] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end != NULL) body = end + 4;
    }
    int status = 0;
    if (sscanf(buf, "HTTP/1.1 %d", &status) != 1 || status != 200) die("bare request status");
    const char *cl = strstr(buf, "content-length:");
    if (cl == NULL) cl = strstr(buf, "Content-Length:");
    if (cl == NULL) die("no content-length");
    size_t length = strtoul(cl + strlen("content-length:"), NULL, 10);
    size_t have = got - (size_t)(body - buf);
    while (have < length) {
        ssize_t r = read(bare_fd, buf + got, sizeof buf - 1 - got);
        if (r <= 0) die("read body");
        got += (size_t)r;
        have += (size_t)r;
    }
    if (body[0] != '{') die("body is not a JSON object");
    return length;
}

/* ------------------------------------------------------------------------- the rounds */

static double round_bare_resolve(void) {
    double start = now_s();
    for (int i = 0; i < CALLS; i++) sink += bare_get(RESOLVE_TARGET, 1);
    return (now_s() - start) / CALLS * 1e6;
}

static double round_bare_jwks(void) {
    double start = now_s();
    for (int i = 0; i < CALLS; i++) sink += bare_get(JWKS_TARGET, 0);
    return (now_s() - start) / CALLS * 1e6;
}

static double round_runbeam_resolve(void) {
    double start = now_s();
    for (int i = 0; i < CALLS; i++) {
        char *json = NULL;
        if (runbeam_client_resolve(gateway, reference, &json) != RUNBEAM_OK) die("resolve");
        sink += strlen(json);
        runbeam_string_free(json);
    }
    return (now_s() - start) / CALLS * 1e6;
}

static double round_runbeam_jwks(void) {
    double start = now_s();
    for (int i = 0; i < CALLS; i++) {
        char *json = NULL;
        if (runbeam_client_jwks(gateway, &json) != RUNBEAM_OK) die("jwks");
        sink += strlen(json);
        runbeam_string_free(json);
    }
    return (now_s() - start) / CALLS * 1e6;
}

/* The callback form, used sequentially: start, then wait for the callback. */
struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    runbeam_status status;
    size_t length;
};

static void on_json(void *user_data, runbeam_status status, const char *json, const char *error) {
    struct waiter *w = user_data;
    (void)error;
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    w->status = status;
    w->length = json ? strlen(json) : 0;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static double round_runbeam_resolve_async(void) {
    struct waiter w;
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    double start = now_s();
    for (int i = 0; i < CALLS; i++) {
        w.done = 0;
        if (runbeam_client_resolve_async(gateway, reference, on_json, &w, NULL) != RUNBEAM_OK)
            die("resolve_async");
        pthread_mutex_lock(&w.mu);
        while (!w.done) pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        if (w.status != RUNBEAM_OK) die("resolve_async callback");
        sink += w.length;
    }
    double us = (now_s() - start) / CALLS * 1e6;
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    return us;
}

int main(int argc, char **argv) {
    int started = bench_devcloud_start(argc, argv);
    if (started != 0) return started;

    runbeam_client_config *cfg = NULL;
    runbeam_client *user = NULL;
    char *json = NULL;
    if (runbeam_client_config_new(api_url, &cfg) != RUNBEAM_OK) die("config");
    runbeam_client_config_set_token(cfg, BOB);
    if (runbeam_client_new(cfg, &user) != RUNBEAM_OK) die("client");
    runbeam_client_config_free(cfg);
    if (runbeam_client_authorize(user, BOB_GW, NULL, &json) != RUNBEAM_OK) die("authorize");
    json_string(json, "machine_token", machine_token, sizeof machine_token);
    runbeam_string_free(json);
    if (runbeam_client_with_token(user, machine_token, &gateway) != RUNBEAM_OK) die("with_token");
    if (runbeam_reference_parse(REF, &reference) != RUNBEAM_OK) die("parse");
    bare_connect();

    /* Warm-up: connections, caches. */
    for (int i = 0; i < 50; i++) {
        sink += bare_get(RESOLVE_TARGET, 1) + bare_get(JWKS_TARGET, 0);
        char *out = NULL;
        if (runbeam_client_resolve(gateway, reference, &out) != RUNBEAM_OK) die("resolve");
        runbeam_string_free(out);
    }

    double bare_resolve[ROUNDS], ours_resolve[ROUNDS], ours_async[ROUNDS];
    double bare_jwks[ROUNDS], ours_jwks[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) { /* interleaved so machine noise hits all alike */
        bare_resolve[r] = round_bare_resolve();
        ours_resolve[r] = round_runbeam_resolve();
        ours_async[r] = round_runbeam_resolve_async();
        bare_jwks[r] = round_bare_jwks();
        ours_jwks[r] = round_runbeam_jwks();
    }
    double br = median(bare_resolve, ROUNDS), rr = median(ours_resolve, ROUNDS);
    double ra = median(ours_async, ROUNDS);
    double bj = median(bare_jwks, ROUNDS), rj = median(ours_jwks, ROUNDS);
    printf("C client vs bare HTTP/1.1 over a keep-alive socket, against runbeam-devcloud "
           "(median of %d rounds x %d sequential calls)\n", ROUNDS, CALLS);
    printf("  resolve  bare socket                    %8.1f us/call\n", br);
    printf("  resolve  runbeam_client_resolve         %8.1f us/call  (ratio %.2f)\n", rr, rr / br);
    printf("  resolve  runbeam_client_resolve_async   %8.1f us/call  (ratio %.2f)\n", ra, ra / br);
    printf("  jwks     bare socket                    %8.1f us/call\n", bj);
    printf("  jwks     runbeam_client_jwks            %8.1f us/call  (ratio %.2f)\n", rj, rj / bj);

    close(bare_fd);
    runbeam_reference_free(reference);
    runbeam_client_free(gateway);
    runbeam_client_free(user);
    devcloud_stop();
    return 0;
}
