/*
 * Reliability of the C client ABI over real HTTP: every error kind of docs/spec.md §3.4 produced by
 * runbeam-devcloud's fault injection (/_dev/faults), retries proven with its request counters
 * (/_dev/counters), Retry-After, the total deadline, the body cap, the callback form, and no
 * token in any error. The C counterpart of tests/e2e/tests/client_faults.rs.
 *
 * Compiled with -Wall -Wextra -Werror -pedantic against include/runbeam.h, run under
 * AddressSanitizer + UBSan and under valgrind (see tests/c/c.mk). Timing checks are bounds
 * with seconds of slack (a deadline cannot fire early; a Retry-After must be waited), never
 * a measurement.
 *
 * Usage: test_client_faults <path-to-runbeam-devcloud>
 * Prints one line per failed check and ends with "N passed, N failed".
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "devcloud.h"
#include "runbeam.h"
#include "waiter.h"

#define BOB "2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f"
#define BOB_SECRET "ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f"
#define BOB_GW "analytics-gw-1"
#define DICOMWEB "runbeam.radiology-dept.ingress.name.dicomweb"
#define DICOM_URL "https://dicom.radiology.example.com"
#define MESH "imaging-integration"

#define BASE_URL_PATH "/api/harmony/base-url"
#define RESOLVE_PATH "/api/harmony/resources/resolve"
#define MESH_TOKEN_PATH "/api/harmony/mesh/token"
#define AUTHORIZE_PATH "/api/harmony/authorize"

static const char *last(void) { return runbeam_last_error_message(); }

static char machine_token[256];

/* ------------------------------------------------------------------------------ helpers */

/* Everything the ABI says about a failure, copied right after it (or inside a callback). */
struct failure {
    runbeam_status status;
    runbeam_status last_status;
    uint16_t http;
    int64_t retry_after_ms;
    char kind[64];
    char message[1024];
    char field_errors[1024];
    /* The failed request and the server's message: "(null)" when the accessor gave NULL. */
    char method[16];
    char path[256];
    char server_message[512];
    uint32_t attempts;
};

static const char *or_null(const char *s) { return s ? s : "(null)"; }

static void capture(struct failure *f, runbeam_status status, const char *message) {
    f->status = status;
    f->last_status = runbeam_last_error_status();
    f->http = runbeam_last_error_http_status();
    f->retry_after_ms = runbeam_last_error_retry_after_ms();
    snprintf(f->kind, sizeof f->kind, "%s", runbeam_last_error_kind());
    snprintf(f->message, sizeof f->message, "%s", message ? message : "(null)");
    snprintf(f->field_errors, sizeof f->field_errors, "%s", runbeam_last_error_field_errors_json());
    snprintf(f->method, sizeof f->method, "%s", or_null(runbeam_last_error_request_method()));
    snprintf(f->path, sizeof f->path, "%s", or_null(runbeam_last_error_request_path()));
    snprintf(f->server_message, sizeof f->server_message, "%s",
             or_null(runbeam_last_error_server_message()));
    f->attempts = runbeam_last_error_attempts();
}

/* No token (machine or user) and no Authorization header in what an error exposes. */
static int secret_free(const char *text) {
    return strstr(text, BOB_SECRET) == NULL && strstr(text, "Bearer") == NULL &&
           (machine_token[0] == '\0' || strstr(text, machine_token) == NULL);
}

static void check_secret_free(const struct failure *f, int line) {
    CHECK(secret_free(f->message), "line %d: token in the message: %s", line, f->message);
    CHECK(secret_free(f->field_errors), "line %d: token in the field errors: %s", line, f->field_errors);
    CHECK(secret_free(f->server_message), "line %d: token in the server message: %s", line,
          f->server_message);
    CHECK(secret_free(f->path), "line %d: token in the request path: %s", line, f->path);
}

/* Injects a fault (POST /_dev/faults); `fault` is its JSON. */
static void inject(const char *fault) {
    int status = dev_post("/_dev/faults", fault);
    CHECK(status == 201, "fault %s: HTTP %d", fault, status);
}

/* Clears every fault and the request counters. */
static void reset(void) {
    CHECK(dev_delete("/_dev/faults") == 204, "DELETE /_dev/faults");
    CHECK(dev_delete("/_dev/counters") == 204, "DELETE /_dev/counters");
}

/* A client of the devcloud. `attempts`, `deadline_ms`, `request_timeout_ms`: 0 = default
 * (the request timeout is 10 s by default here, not 30 s, to bound a broken run). */
static runbeam_client *client_with(const char *token, uint32_t attempts, uint64_t deadline_ms,
                                   uint64_t request_timeout_ms) {
    runbeam_client_config *cfg = NULL;
    runbeam_client *client = NULL;
    if (runbeam_client_config_new(api_url, &cfg) != RUNBEAM_OK) return NULL;
    runbeam_client_config_set_token(cfg, token);
    runbeam_client_config_set_request_timeout_ms(cfg, request_timeout_ms ? request_timeout_ms : 10000);
    if (attempts) runbeam_client_config_set_max_attempts(cfg, attempts);
    if (deadline_ms) runbeam_client_config_set_deadline_ms(cfg, deadline_ms);
    runbeam_client_new(cfg, &client);
    runbeam_client_config_free(cfg);
    return client;
}

/* Blocking resolve of DICOMWEB; on failure fills `f` (when not NULL) and checks that no
 * token shows in it. */
static runbeam_status resolve(const runbeam_client *client, struct failure *f) {
    runbeam_reference *ref = NULL;
    char *json = NULL;
    runbeam_reference_parse(DICOMWEB, &ref);
    runbeam_status s = runbeam_client_resolve(client, ref, &json);
    if (s != RUNBEAM_OK && f != NULL) {
        capture(f, s, last());
        check_secret_free(f, __LINE__);
    }
    if (s != RUNBEAM_OK) CHECK(json == NULL, "out untouched on failure");
    runbeam_string_free(json);
    runbeam_reference_free(ref);
    return s;
}

static runbeam_status mesh_token(const runbeam_client *client, struct failure *f) {
    char *json = NULL;
    runbeam_status s = runbeam_client_mesh_token(client, MESH, DICOM_URL "/studies", &json);
    if (s != RUNBEAM_OK && f != NULL) {
        capture(f, s, last());
        check_secret_free(f, __LINE__);
    }
    runbeam_string_free(json);
    return s;
}

/* ---------------------------------------------------------------------- callback waiter */

struct waiter {
    struct waiter_sync sync;
    int json_was_null;
    struct failure failure;
};

static void waiter_init(struct waiter *w) {
    memset(w, 0, sizeof *w);
    waiter_sync_init(&w->sync);
}

static void waiter_destroy(struct waiter *w) { waiter_sync_destroy(&w->sync); }

/* Records the outcome; the runbeam_last_error_* accessors describe the failure during the
 * callback, so they are read here, on the runtime thread. */
static void on_result(void *user_data, runbeam_status status, const char *json,
                      const char *error_message) {
    struct waiter *w = user_data;
    struct failure f;
    memset(&f, 0, sizeof f);
    if (status != RUNBEAM_OK) capture(&f, status, error_message);
    waiter_sync_lock(&w->sync);
    w->json_was_null = json == NULL;
    w->failure = f;
    w->failure.status = status;
    waiter_sync_signal(&w->sync);
}

/* Waits until `calls` callbacks arrived (at most 30 s); returns the count. */
static int waiter_wait(struct waiter *w, int calls) {
    return waiter_sync_wait(&w->sync, calls, 30);
}

static int waiter_calls(struct waiter *w) { return waiter_sync_count(&w->sync); }

/* resolve_async of DICOMWEB on `client`; waits for the callback and returns its failure. */
static struct failure resolve_async(const runbeam_client *client) {
    struct waiter w;
    waiter_init(&w);
    runbeam_reference *ref = NULL;
    runbeam_reference_parse(DICOMWEB, &ref);
    runbeam_status s = runbeam_client_resolve_async(client, ref, on_result, &w, NULL);
    CHECK(s == RUNBEAM_OK, "resolve_async accepted: %s", last());
    runbeam_reference_free(ref);
    if (s == RUNBEAM_OK) {
        CHECK(waiter_wait(&w, 1) == 1, "callback called");
        sleep_ms(50);
        CHECK(waiter_calls(&w) == 1, "exactly once: %d", waiter_calls(&w));
        if (w.failure.status != RUNBEAM_OK) {
            CHECK(w.json_was_null, "no JSON with an error");
            check_secret_free(&w.failure, __LINE__);
        }
    }
    struct failure f = w.failure;
    waiter_destroy(&w);
    return f;
}

/* -------------------------------------------------------------------------------- tests */

static runbeam_client *gateway; /* analytics-gw-1's machine token, default retries */

/* Every HTTP error kind of the §3.4 table, injected on GET /harmony/base-url. */
static void test_every_http_error_kind(void) {
    static const struct {
        int http;
        runbeam_status status;
        const char *kind;
        long served; /* requests the devcloud sees: 429 and 5xx are retried (3 attempts) */
    } table[] = {
        {401, RUNBEAM_STATUS_UNAUTHORIZED, "Unauthorized", 1},
        {403, RUNBEAM_STATUS_PERMISSION_DENIED, "PermissionDenied", 1},
        {404, RUNBEAM_STATUS_NOT_FOUND, "NotFound", 1},
        {409, RUNBEAM_STATUS_CONFLICT, "Conflict", 1},
        {422, RUNBEAM_STATUS_VALIDATION, "Validation", 1},
        {429, RUNBEAM_STATUS_RATE_LIMITED, "RateLimited", 3},
        {500, RUNBEAM_STATUS_SERVER_ERROR, "ServerError", 3},
        {503, RUNBEAM_STATUS_SERVER_ERROR, "ServerError", 3},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        char fault[256];
        char *json = NULL;
        struct failure f;
        reset();
        snprintf(fault, sizeof fault, "{\"path\":\"%s\",\"status\":%d,\"count\":10}", BASE_URL_PATH,
                 table[i].http);
        inject(fault);
        runbeam_status s = runbeam_client_base_url(gateway, &json);
        capture(&f, s, last());
        CHECK(s == table[i].status, "HTTP %d gave status %d: %s", table[i].http, s, f.message);
        CHECK(f.last_status == s, "last_error_status %d", f.last_status);
        CHECK(json == NULL, "out untouched");
        CHECK(f.http == table[i].http, "HTTP %d: last_error_http_status %u", table[i].http, f.http);
        CHECK(strcmp(f.kind, table[i].kind) == 0, "HTTP %d: kind %s", table[i].http, f.kind);
        CHECK(strstr(f.message, "/harmony/base-url") != NULL, "HTTP %d: request in the message: %s",
              table[i].http, f.message);
        long served = dev_count("GET " BASE_URL_PATH);
        CHECK(served == table[i].served, "HTTP %d: served %ld times, expected %ld", table[i].http, served,
              table[i].served);
        if (table[i].served > 1)
            CHECK(strstr(f.message, "after 3 attempts") != NULL, "HTTP %d: %s", table[i].http, f.message);
        if (table[i].http == 422) {
            CHECK(strstr(f.field_errors, "\"fault\":[\"Injected fault") != NULL, "field errors %s",
                  f.field_errors);
        } else {
            CHECK(strcmp(f.field_errors, "{}") == 0, "HTTP %d: field errors %s", table[i].http,
                  f.field_errors);
        }
        if (table[i].http == 403)
            CHECK(strstr(f.message, "Injected fault") != NULL, "server message kept: %s", f.message);
        /* No Retry-After header was sent. */
        CHECK(f.retry_after_ms == -1, "HTTP %d: retry_after_ms %lld", table[i].http,
              (long long)f.retry_after_ms);
        check_secret_free(&f, __LINE__);
        runbeam_string_free(json);
    }
    reset();
    /* The faults are gone: the same call succeeds, and the last error is cleared. */
    char *json = NULL;
    CHECK(runbeam_client_base_url(gateway, &json) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_last_error_http_status() == 0, "cleared");
    runbeam_string_free(json);
}

/* GET is retried (the counters show the attempts); POST is not (exactly one request). */
static void test_get_is_retried_and_post_is_not(void) {
    struct failure f;

    /* One 503, then success: exactly two GETs. */
    reset();
    inject("{\"path\":\"" RESOLVE_PATH "\",\"status\":503,\"count\":1}");
    CHECK(resolve(gateway, &f) == RUNBEAM_OK, "recovered by a retry: %s", f.message);
    CHECK(dev_count("GET " RESOLVE_PATH) == 2, "GET served %ld times", dev_count("GET " RESOLVE_PATH));

    /* A 503 on POST /harmony/mesh/token: one request, ServerError. */
    reset();
    inject("{\"path\":\"" MESH_TOKEN_PATH "\",\"method\":\"POST\",\"status\":503,\"count\":1}");
    CHECK(mesh_token(gateway, &f) == RUNBEAM_STATUS_SERVER_ERROR, "%s", f.message);
    CHECK(f.http == 503, "%u", f.http);
    CHECK(strstr(f.message, "POST /harmony/mesh/token") != NULL, "%s", f.message);
    CHECK(strstr(f.message, "attempts") == NULL, "not retried: %s", f.message);
    CHECK(dev_count("POST " MESH_TOKEN_PATH) == 1, "POST served %ld times", dev_count("POST " MESH_TOKEN_PATH));
    /* The fault is used up: the same call now succeeds. */
    CHECK(mesh_token(gateway, &f) == RUNBEAM_OK, "%s", f.message);
    CHECK(dev_count("POST " MESH_TOKEN_PATH) == 2, "POST served %ld times", dev_count("POST " MESH_TOKEN_PATH));

    /* A POST whose body holds the user token (authorize): one request, no token in the error. */
    reset();
    inject("{\"path\":\"" AUTHORIZE_PATH "\",\"method\":\"POST\",\"status\":500,\"count\":1}");
    runbeam_client *user = client_with(BOB, 0, 0, 0);
    char *json = NULL;
    runbeam_status s = runbeam_client_authorize(user, BOB_GW, NULL, &json);
    capture(&f, s, last());
    CHECK(s == RUNBEAM_STATUS_SERVER_ERROR, "%d %s", s, f.message);
    CHECK(json == NULL, "out untouched");
    CHECK(dev_count("POST " AUTHORIZE_PATH) == 1, "POST served %ld times", dev_count("POST " AUTHORIZE_PATH));
    check_secret_free(&f, __LINE__);
    runbeam_client_free(user);

    /* A persistent 500 is given up after max_attempts (default 3, then 2 when configured). */
    reset();
    inject("{\"path\":\"" RESOLVE_PATH "\",\"status\":500,\"count\":50}");
    CHECK(resolve(gateway, &f) == RUNBEAM_STATUS_SERVER_ERROR, "%s", f.message);
    CHECK(strstr(f.message, "after 3 attempts") != NULL, "%s", f.message);
    CHECK(dev_count("GET " RESOLVE_PATH) == 3, "GET served %ld times", dev_count("GET " RESOLVE_PATH));
    runbeam_client *two = client_with(machine_token, 2, 0, 0);
    CHECK(dev_delete("/_dev/counters") == 204, "reset counters");
    CHECK(resolve(two, &f) == RUNBEAM_STATUS_SERVER_ERROR, "%s", f.message);
    CHECK(dev_count("GET " RESOLVE_PATH) == 2, "GET served %ld times", dev_count("GET " RESOLVE_PATH));
    runbeam_client_free(two);
    runbeam_client *one = client_with(machine_token, 1, 0, 0);
    CHECK(dev_delete("/_dev/counters") == 204, "reset counters");
    CHECK(resolve(one, &f) == RUNBEAM_STATUS_SERVER_ERROR, "%s", f.message);
    CHECK(dev_count("GET " RESOLVE_PATH) == 1, "GET served %ld times", dev_count("GET " RESOLVE_PATH));
    runbeam_client_free(one);
    reset();
}

/* 429: retry_after_ms is kept when the call gives up, and Retry-After is honoured when it
 * retries. */
static void test_rate_limits(void) {
    struct failure f;

    /* Without retries: RateLimited with the server's 7 s. */
    reset();
    runbeam_client *once = client_with(machine_token, 1, 0, 0);
    inject("{\"path\":\"" RESOLVE_PATH "\",\"status\":429,\"retry_after\":7,\"count\":1}");
    CHECK(resolve(once, &f) == RUNBEAM_STATUS_RATE_LIMITED, "%s", f.message);
    CHECK(f.http == 429, "%u", f.http);
    CHECK(strcmp(f.kind, "RateLimited") == 0, "%s", f.kind);
    CHECK(f.retry_after_ms == 7000, "retry_after_ms %lld", (long long)f.retry_after_ms);
    CHECK(dev_count("GET " RESOLVE_PATH) == 1, "GET served %ld times", dev_count("GET " RESOLVE_PATH));
    runbeam_client_free(once);

    /* With retries but a Retry-After beyond the deadline: given up at once, 30 s kept. */
    reset();
    runbeam_client *hurried = client_with(machine_token, 3, 5000, 0);
    inject("{\"path\":\"" RESOLVE_PATH "\",\"status\":429,\"retry_after\":30,\"count\":1}");
    CHECK(resolve(hurried, &f) == RUNBEAM_STATUS_RATE_LIMITED, "%s", f.message);
    CHECK(f.retry_after_ms == 30000, "retry_after_ms %lld", (long long)f.retry_after_ms);
    CHECK(strstr(f.message, "asked to wait") != NULL, "%s", f.message);
    CHECK(dev_count("GET " RESOLVE_PATH) == 1, "not retried: %ld", dev_count("GET " RESOLVE_PATH));
    runbeam_client_free(hurried);

    /* Retry-After: 1 is honoured: the retry comes no sooner than 1 s, then succeeds. */
    reset();
    inject("{\"path\":\"" RESOLVE_PATH "\",\"status\":429,\"retry_after\":1,\"count\":1}");
    double start = now_s();
    CHECK(resolve(gateway, &f) == RUNBEAM_OK, "%s", f.message);
    double elapsed = now_s() - start;
    CHECK(elapsed >= 0.95, "waited the server's 1 s: %.3f s", elapsed);
    CHECK(dev_count("GET " RESOLVE_PATH) == 2, "GET served %ld times", dev_count("GET " RESOLVE_PATH));
    reset();
}

/* Dropped connections are Transport errors (no HTTP status), retried for GET. */
static void test_dropped_connections(void) {
    struct failure f;

    reset();
    inject("{\"path\":\"" RESOLVE_PATH "\",\"drop_connection\":true,\"count\":10}");
    CHECK(resolve(gateway, &f) == RUNBEAM_STATUS_TRANSPORT, "%s", f.message);
    CHECK(strcmp(f.kind, "Transport") == 0, "%s", f.kind);
    CHECK(f.http == 0, "no HTTP answer: %u", f.http);
    CHECK(strstr(f.message, "after 3 attempts") != NULL, "%s", f.message);
    CHECK(dev_count("GET " RESOLVE_PATH) == 3, "GET served %ld times", dev_count("GET " RESOLVE_PATH));

    /* One dropped connection is recovered by a retry. */
    reset();
    inject("{\"path\":\"" RESOLVE_PATH "\",\"drop_connection\":true,\"count\":1}");
    CHECK(resolve(gateway, &f) == RUNBEAM_OK, "%s", f.message);
    CHECK(dev_count("GET " RESOLVE_PATH) == 2, "GET served %ld times", dev_count("GET " RESOLVE_PATH));

    /* A dropped POST is not retried. */
    reset();
    inject("{\"path\":\"" MESH_TOKEN_PATH "\",\"drop_connection\":true,\"count\":1}");
    CHECK(mesh_token(gateway, &f) == RUNBEAM_STATUS_TRANSPORT, "%s", f.message);
    CHECK(dev_count("POST " MESH_TOKEN_PATH) == 1, "POST served %ld times", dev_count("POST " MESH_TOKEN_PATH));
    reset();
}

/* A 2xx whose body is truncated, or JSON of the wrong shape, or over the cap: Protocol, not
 * retried. */
static void test_protocol_errors(void) {
    struct failure f;

    reset();
    inject("{\"path\":\"" RESOLVE_PATH "\",\"malformed_body\":true,\"count\":1}");
    CHECK(resolve(gateway, &f) == RUNBEAM_STATUS_PROTOCOL, "%s", f.message);
    CHECK(strcmp(f.kind, "Protocol") == 0, "%s", f.kind);
    CHECK(strstr(f.message, "/harmony/resources/resolve") != NULL, "%s", f.message);
    CHECK(strstr(f.message, "MALF0RMED") == NULL, "no response body in the message: %s", f.message);
    CHECK(dev_count("GET " RESOLVE_PATH) == 1, "not retried: %ld", dev_count("GET " RESOLVE_PATH));

    /* 200 with valid JSON that is not a resolve answer. */
    reset();
    inject("{\"path\":\"" RESOLVE_PATH "\",\"status\":200,\"count\":1}");
    CHECK(resolve(gateway, &f) == RUNBEAM_STATUS_PROTOCOL, "%s", f.message);
    CHECK(dev_count("GET " RESOLVE_PATH) == 1, "not retried: %ld", dev_count("GET " RESOLVE_PATH));

    /* A body over runbeam_client_config_set_max_body_bytes. */
    runbeam_client_config *cfg = NULL;
    runbeam_client *tiny = NULL;
    CHECK(runbeam_client_config_new(api_url, &cfg) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_client_config_set_max_body_bytes(cfg, 64) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_client_new(cfg, &tiny) == RUNBEAM_OK, "%s", last());
    runbeam_client_config_free(cfg);
    char *json = NULL;
    CHECK(runbeam_client_jwks(tiny, &json) == RUNBEAM_STATUS_PROTOCOL, "%s", last());
    CHECK(strstr(last(), "exceeds the limit of 64 bytes") != NULL, "%s", last());
    CHECK(json == NULL, "out untouched");
    runbeam_client_free(tiny);
    reset();
}

/* A server slower than the deadline: Timeout once the deadline passes, not when the server
 * answers. Bounds have seconds of slack. */
static void test_timeouts(void) {
    struct failure f;

    reset();
    runbeam_client *hurried = client_with(machine_token, 3, 500, 0);
    inject("{\"path\":\"" RESOLVE_PATH "\",\"latency_ms\":4000,\"count\":5}");
    double start = now_s();
    CHECK(resolve(hurried, &f) == RUNBEAM_STATUS_TIMEOUT, "%s", f.message);
    double elapsed = now_s() - start;
    CHECK(strcmp(f.kind, "Timeout") == 0, "%s", f.kind);
    CHECK(strstr(f.message, "deadline") != NULL, "%s", f.message);
    CHECK(f.http == 0, "no HTTP answer: %u", f.http);
    CHECK(elapsed >= 0.45, "not before the 500 ms deadline: %.3f s", elapsed);
    CHECK(elapsed < 3.5, "before the server's 4 s answer: %.3f s", elapsed);
    runbeam_client_free(hurried);

    /* One attempt slower than the request timeout is a Timeout, and a GET retries it. */
    reset();
    runbeam_client *patient = client_with(machine_token, 3, 30000, 1000);
    inject("{\"path\":\"" RESOLVE_PATH "\",\"latency_ms\":4000,\"count\":1}");
    CHECK(resolve(patient, &f) == RUNBEAM_OK, "%s", f.message);
    CHECK(dev_count("GET " RESOLVE_PATH) == 2, "GET served %ld times", dev_count("GET " RESOLVE_PATH));
    runbeam_client_free(patient);
    reset();
}

/* The callback form delivers the same errors, with the details readable in the callback. */
static void test_callbacks_deliver_errors(void) {
    struct failure f;
    runbeam_client *once = client_with(machine_token, 1, 0, 0);

    reset();
    inject("{\"path\":\"" RESOLVE_PATH "\",\"status\":403,\"count\":1}");
    f = resolve_async(once);
    CHECK(f.status == RUNBEAM_STATUS_PERMISSION_DENIED, "%d %s", f.status, f.message);
    CHECK(f.http == 403, "%u", f.http);
    CHECK(strcmp(f.kind, "PermissionDenied") == 0, "%s", f.kind);
    CHECK(strstr(f.message, "Injected fault") != NULL, "%s", f.message);

    inject("{\"path\":\"" RESOLVE_PATH "\",\"status\":422,\"count\":1}");
    f = resolve_async(once);
    CHECK(f.status == RUNBEAM_STATUS_VALIDATION, "%d %s", f.status, f.message);
    CHECK(strstr(f.field_errors, "\"fault\":[") != NULL, "%s", f.field_errors);

    inject("{\"path\":\"" RESOLVE_PATH "\",\"status\":429,\"retry_after\":7,\"count\":1}");
    f = resolve_async(once);
    CHECK(f.status == RUNBEAM_STATUS_RATE_LIMITED, "%d %s", f.status, f.message);
    CHECK(f.retry_after_ms == 7000, "%lld", (long long)f.retry_after_ms);

    inject("{\"path\":\"" RESOLVE_PATH "\",\"status\":502,\"count\":1}");
    f = resolve_async(once);
    CHECK(f.status == RUNBEAM_STATUS_SERVER_ERROR, "%d %s", f.status, f.message);
    CHECK(f.http == 502, "%u", f.http);

    inject("{\"path\":\"" RESOLVE_PATH "\",\"drop_connection\":true,\"count\":1}");
    f = resolve_async(once);
    CHECK(f.status == RUNBEAM_STATUS_TRANSPORT, "%d %s", f.status, f.message);
    CHECK(f.http == 0, "%u", f.http);

    inject("{\"path\":\"" RESOLVE_PATH "\",\"malformed_body\":true,\"count\":1}");
    f = resolve_async(once);
    CHECK(f.status == RUNBEAM_STATUS_PROTOCOL, "%d %s", f.status, f.message);
    runbeam_client_free(once);

    runbeam_client *hurried = client_with(machine_token, 3, 500, 0);
    inject("{\"path\":\"" RESOLVE_PATH "\",\"latency_ms\":4000,\"count\":1}");
    f = resolve_async(hurried);
    CHECK(f.status == RUNBEAM_STATUS_TIMEOUT, "%d %s", f.status, f.message);
    CHECK(strcmp(f.kind, "Timeout") == 0, "%s", f.kind);
    runbeam_client_free(hurried);

    /* Seven faults, one request each: the callback form sends once per attempt, like the
     * blocking form (max_attempts 1; the deadline leaves no time for a retry). */
    CHECK(dev_count("GET " RESOLVE_PATH) == 7, "GET served %ld times", dev_count("GET " RESOLVE_PATH));
    reset();
}

/* The failed request (method, path), the server's own message and the number of attempts,
 * read through the runbeam_last_error_* accessors: after a blocking call and inside a
 * callback; NULL / 0 when there was no request or the last call succeeded. */
static void test_error_details(void) {
    struct failure f;
    char *json = NULL;

    /* 404 from the API itself: one attempt, the server's message. */
    reset();
    runbeam_reference *ref = NULL;
    runbeam_reference_parse("runbeam.radiology-dept.ingress.name.no-such-ingress", &ref);
    runbeam_status s = runbeam_client_resolve(gateway, ref, &json);
    capture(&f, s, last());
    runbeam_reference_free(ref);
    CHECK(s == RUNBEAM_STATUS_NOT_FOUND, "%d %s", s, f.message);
    CHECK(strcmp(f.method, "GET") == 0, "method %s", f.method);
    CHECK(strcmp(f.path, "/harmony/resources/resolve") == 0, "path (no query) %s", f.path);
    CHECK(strstr(f.server_message, "no-such-ingress") != NULL, "server message %s", f.server_message);
    CHECK(f.attempts == 1, "a 404 is not retried: %u attempts", f.attempts);
    check_secret_free(&f, __LINE__);

    /* 422 of a create (POST): the server's message next to the field errors. */
    runbeam_client *user = client_with(BOB, 0, 0, 0);
    s = runbeam_client_create(user, RUNBEAM_COLLECTION_SERVICES, "{\"url\":\"https://x.example\"}", &json);
    capture(&f, s, last());
    CHECK(s == RUNBEAM_STATUS_VALIDATION, "%d %s", s, f.message);
    CHECK(f.http == 422, "%u", f.http);
    CHECK(strcmp(f.method, "POST") == 0 && strcmp(f.path, "/services") == 0, "%s %s", f.method, f.path);
    CHECK(strcmp(f.server_message, "(null)") != 0 && f.server_message[0] != '\0', "server message %s",
          f.server_message);
    CHECK(strstr(f.field_errors, "\"name\":[") != NULL, "%s", f.field_errors);
    CHECK(f.attempts == 1, "%u attempts", f.attempts);
    check_secret_free(&f, __LINE__);

    /* A 503 that lasts: every attempt made (3, then 2 when configured), the injected message. */
    reset();
    inject("{\"path\":\"" RESOLVE_PATH "\",\"status\":503,\"count\":50}");
    CHECK(resolve(gateway, &f) == RUNBEAM_STATUS_SERVER_ERROR, "%s", f.message);
    CHECK(f.http == 503, "%u", f.http);
    CHECK(f.attempts == 3, "default attempts: %u", f.attempts);
    CHECK(dev_count("GET " RESOLVE_PATH) == 3, "served %ld", dev_count("GET " RESOLVE_PATH));
    CHECK(strcmp(f.method, "GET") == 0 && strcmp(f.path, "/harmony/resources/resolve") == 0, "%s %s",
          f.method, f.path);
    CHECK(strstr(f.server_message, "injected 503") != NULL, "server message %s", f.server_message);
    runbeam_client *twice = client_with(machine_token, 2, 0, 0);
    CHECK(resolve(twice, &f) == RUNBEAM_STATUS_SERVER_ERROR, "%s", f.message);
    CHECK(f.attempts == 2, "max_attempts 2: %u", f.attempts);

    /* The same details inside a callback. */
    struct waiter w;
    waiter_init(&w);
    runbeam_reference_parse(DICOMWEB, &ref);
    CHECK(runbeam_client_resolve_async(twice, ref, on_result, &w, NULL) == RUNBEAM_OK, "%s", last());
    runbeam_reference_free(ref);
    CHECK(waiter_wait(&w, 1) == 1, "called");
    CHECK(w.failure.status == RUNBEAM_STATUS_SERVER_ERROR, "%d", w.failure.status);
    CHECK(w.failure.attempts == 2, "in the callback: %u attempts", w.failure.attempts);
    CHECK(strcmp(w.failure.method, "GET") == 0, "in the callback: %s", w.failure.method);
    CHECK(strcmp(w.failure.path, "/harmony/resources/resolve") == 0, "in the callback: %s", w.failure.path);
    CHECK(strstr(w.failure.server_message, "injected 503") != NULL, "in the callback: %s",
          w.failure.server_message);
    waiter_destroy(&w);
    runbeam_client_free(twice);

    /* No request, no details: a transport failure has the request but no answer; an argument
     * error has neither; a success clears them. */
    reset();
    inject("{\"path\":\"" RESOLVE_PATH "\",\"drop_connection\":true,\"count\":10}");
    runbeam_client *once = client_with(machine_token, 1, 0, 0);
    CHECK(resolve(once, &f) == RUNBEAM_STATUS_TRANSPORT, "%s", f.message);
    CHECK(strcmp(f.method, "GET") == 0 && f.attempts == 1, "%s %u", f.method, f.attempts);
    CHECK(strcmp(f.server_message, "(null)") == 0, "no answer, no server message: %s", f.server_message);
    runbeam_client_free(once);
    reset();
    s = runbeam_client_create(user, RUNBEAM_COLLECTION_SERVICES, "{not json", &json);
    CHECK(s == RUNBEAM_STATUS_INVALID_ARGUMENT, "%d", s);
    CHECK(runbeam_last_error_request_method() == NULL && runbeam_last_error_request_path() == NULL &&
              runbeam_last_error_server_message() == NULL && runbeam_last_error_attempts() == 0,
          "an argument error has no request");
    CHECK(resolve(gateway, NULL) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_last_error_request_method() == NULL && runbeam_last_error_request_path() == NULL &&
              runbeam_last_error_server_message() == NULL && runbeam_last_error_attempts() == 0,
          "cleared by a success");
    runbeam_client_free(user);
}

int main(int argc, char **argv) {
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
    runbeam_client *user = client_with(BOB, 0, 0, 0);
    char *json = NULL;
    CHECK(user != NULL && runbeam_client_authorize(user, BOB_GW, NULL, &json) == RUNBEAM_OK, "%s", last());
    json_string(json, "machine_token", machine_token, sizeof machine_token);
    runbeam_string_free(json);
    CHECK(machine_token[0] != '\0', "no machine token in the authorize answer");
    if (machine_token[0] != '\0') {
        gateway = client_with(machine_token, 0, 0, 0);
        test_every_http_error_kind();
        test_get_is_retried_and_post_is_not();
        test_rate_limits();
        test_dropped_connections();
        test_protocol_errors();
        test_timeouts();
        test_callbacks_deliver_errors();
        test_error_details();
        runbeam_client_free(gateway);
    }
    runbeam_client_free(user);
    devcloud_stop();
    return check_summary();
}
