/*
 * C test suite of the callback (_async) forms of the Cloud client ABI that test_client.c does
 * not cover (revoke, base URL, JWKS, the change feed, update_config, create, update, delete,
 * list_all) and of the page cursor (runbeam_client_pages, runbeam_page_cursor_*), against a
 * runbeam-devcloud subprocess over real HTTP: success, an error reaching the callback with its
 * details, argument errors refused before anything starts, cancellation, and a free while a
 * call is pending. Compiled with -Wall -Wextra -Werror -pedantic against include/runbeam.h,
 * run under AddressSanitizer + UBSan and under valgrind (see tests/c/c.mk).
 *
 * Usage: test_client_async <path-to-runbeam-devcloud>
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
#define BOB_GW "analytics-gw-1"
#define RESEARCH_PIPELINE "01JDW0YP57RCYBVN5SXS5AA819" /* analytics-gw-1's, from the seed */
#define SERVICES_PATH "/api/services"
#define CHANGES_PATH "/api/harmony/changes"

static const char *or_null(const char *s) { return s ? s : "(null)"; }
static const char *last(void) { return runbeam_last_error_message(); }

/* The number of elements of the top-level JSON array `json` (strings may hold brackets). */
static long json_array_length(const char *json) {
    long count = 0;
    int depth = 0, in_string = 0, empty = 1;
    for (const char *p = json; *p != '\0'; p++) {
        if (in_string) {
            if (*p == '\\' && p[1] != '\0') p++;
            else if (*p == '"') in_string = 0;
            continue;
        }
        if (depth == 1 && *p != ']' && *p != ' ' && *p != '\n') empty = 0;
        if (*p == '"') in_string = 1;
        else if (*p == '[' || *p == '{') depth++;
        else if (*p == ']' || *p == '}') depth--;
        else if (*p == ',' && depth == 1) count++;
    }
    return empty ? 0 : count + 1;
}

/* ---------------------------------------------------------------------- callback waiter */

/* One async call's outcome, with what the last-error accessors said during a failure. */
struct waiter {
    struct waiter_sync sync;
    runbeam_status status;
    int json_null;
    int message_null;
    char json[65536];
    char message[512];
    uint16_t http_status;
    char method[16];
    char path[256];
    char field_errors[512];
    uint32_t attempts;
};

static void waiter_init(struct waiter *w) {
    memset(w, 0, sizeof *w);
    waiter_sync_init(&w->sync);
    w->status = -1;
}

static void waiter_destroy(struct waiter *w) { waiter_sync_destroy(&w->sync); }

/* Records a result: JSON or the failure and its details (read here, on the runtime thread). */
static void record(struct waiter *w, runbeam_status status, const char *json, const char *message) {
    waiter_sync_lock(&w->sync);
    w->status = status;
    w->json_null = json == NULL;
    w->message_null = message == NULL;
    snprintf(w->json, sizeof w->json, "%s", json ? json : "");
    snprintf(w->message, sizeof w->message, "%s", message ? message : "");
    w->http_status = runbeam_last_error_http_status();
    snprintf(w->method, sizeof w->method, "%s", or_null(runbeam_last_error_request_method()));
    snprintf(w->path, sizeof w->path, "%s", or_null(runbeam_last_error_request_path()));
    snprintf(w->field_errors, sizeof w->field_errors, "%s", runbeam_last_error_field_errors_json());
    w->attempts = runbeam_last_error_attempts();
    waiter_sync_signal(&w->sync);
}

static void on_json(void *user_data, runbeam_status status, const char *json,
                    const char *error_message) {
    record(user_data, status, json, error_message);
}

static void on_status(void *user_data, runbeam_status status, const char *error_message) {
    record(user_data, status, NULL, error_message);
}

/* Waits for `calls` callbacks (at most 30 s), then checks that no further one arrives. */
static void expect_calls(struct waiter *w, int calls, int line) {
    int got = waiter_sync_wait(&w->sync, calls, 30);
    CHECK(got == calls, "line %d: %d callback(s), expected %d", line, got, calls);
    sleep_ms(50);
    CHECK(waiter_sync_count(&w->sync) == calls, "line %d: called %d times", line,
          waiter_sync_count(&w->sync));
}

/* A success: RUNBEAM_OK, the JSON (unless `json_expected` is 0), no message, no error. */
static void expect_ok(struct waiter *w, int json_expected, int line) {
    expect_calls(w, 1, line);
    CHECK(w->status == RUNBEAM_OK, "line %d: %s %s", line, runbeam_status_str(w->status), w->message);
    CHECK(w->message_null, "line %d: a message with a success", line);
    CHECK(w->json_null == !json_expected, "line %d: json %s", line, w->json_null ? "NULL" : w->json);
    CHECK(w->http_status == 0 && w->attempts == 0 && strcmp(w->method, "(null)") == 0,
          "line %d: the last error was not cleared", line);
}

/* A failure of `status`: no JSON, a message. */
static void expect_failure(struct waiter *w, runbeam_status status, int line) {
    expect_calls(w, 1, line);
    CHECK(w->status == status, "line %d: %s, expected %s: %s", line, runbeam_status_str(w->status),
          runbeam_status_str(status), w->message);
    CHECK(w->json_null && !w->message_null, "line %d: json xor message", line);
    CHECK(strstr(w->message, "ai-dev-") == NULL, "line %d: token in the message: %s", line,
          w->message);
}

/* ------------------------------------------------------------------------------- helpers */

static runbeam_client *new_client(const char *token) {
    runbeam_client_config *cfg = NULL;
    runbeam_client *client = NULL;
    if (runbeam_client_config_new(api_url, &cfg) != RUNBEAM_OK) return NULL;
    if (token != NULL) runbeam_client_config_set_token(cfg, token);
    runbeam_client_config_set_request_timeout_ms(cfg, 10000);
    runbeam_client_new(cfg, &client);
    runbeam_client_config_free(cfg);
    return client;
}

static runbeam_client *user;    /* bob's Sanctum token */
static runbeam_client *gateway; /* analytics-gw-1's machine token */
static char machine_token[256];

/* ---------------------------------------------------------------------- gateway endpoints */

static void test_gateway_endpoints(void) {
    struct waiter w;

    waiter_init(&w);
    CHECK(runbeam_client_base_url_async(gateway, on_json, &w, NULL) == RUNBEAM_OK, "%s", last());
    expect_ok(&w, 1, __LINE__);
    CHECK(strstr(w.json, "\"base_url\":") != NULL, "%s", w.json);
    waiter_destroy(&w);

    waiter_init(&w);
    CHECK(runbeam_client_jwks_async(gateway, on_json, &w, NULL) == RUNBEAM_OK, "%s", last());
    expect_ok(&w, 1, __LINE__);
    CHECK(strstr(w.json, "\"keys\":[") != NULL, "%s", w.json);
    waiter_destroy(&w);

    /* Editing a pipeline of the gateway queues a change for it. */
    waiter_init(&w);
    CHECK(runbeam_client_update_resource_async(user, RUNBEAM_COLLECTION_PIPELINES, RESEARCH_PIPELINE,
                                               "{\"description\":\"changed from C, async\"}", on_json,
                                               &w, NULL) == RUNBEAM_OK,
          "%s", last());
    expect_ok(&w, 1, __LINE__);
    CHECK(strstr(w.json, "changed from C, async") != NULL, "%s", w.json);
    waiter_destroy(&w);

    char id[128];
    waiter_init(&w);
    CHECK(runbeam_client_changes_async(gateway, NULL, on_json, &w, NULL) == RUNBEAM_OK, "%s", last());
    expect_ok(&w, 1, __LINE__);
    CHECK(w.json[0] == '[', "%s", w.json);
    json_string(w.json, "id", id, sizeof id);
    CHECK(id[0] != '\0', "a change in the feed: %s", w.json);
    waiter_destroy(&w);

    waiter_init(&w);
    CHECK(runbeam_client_change_async(gateway, id, on_json, &w, NULL) == RUNBEAM_OK, "%s", last());
    expect_ok(&w, 1, __LINE__);
    CHECK(strstr(w.json, id) != NULL, "%s", w.json);
    waiter_destroy(&w);

    /* An error reaches the callback, with the failed request's details readable there. */
    waiter_init(&w);
    CHECK(runbeam_client_change_async(gateway, "no-such-change", on_json, &w, NULL) == RUNBEAM_OK, "%s",
          last());
    expect_failure(&w, RUNBEAM_STATUS_NOT_FOUND, __LINE__);
    CHECK(w.http_status == 404, "%u", w.http_status);
    CHECK(strcmp(w.method, "GET") == 0, "method %s", w.method);
    CHECK(strcmp(w.path, "/harmony/change/no-such-change") == 0, "path %s", w.path);
    CHECK(w.attempts == 1, "attempts %u", w.attempts);
    waiter_destroy(&w);

    const char *ids[] = {id};
    waiter_init(&w);
    CHECK(runbeam_client_acknowledge_changes_async(gateway, ids, 1, on_json, &w, NULL) == RUNBEAM_OK, "%s",
          last());
    expect_ok(&w, 1, __LINE__);
    CHECK(strstr(w.json, "\"success\":true") != NULL, "%s", w.json);
    waiter_destroy(&w);

    waiter_init(&w);
    CHECK(runbeam_client_change_failed_async(gateway, id, "cannot apply", "{\"line\":3}", on_json, &w,
                                             NULL) == RUNBEAM_OK,
          "%s", last());
    expect_ok(&w, 1, __LINE__);
    CHECK(strstr(w.json, "\"success\":true") != NULL, "%s", w.json);
    waiter_destroy(&w);

    waiter_init(&w);
    CHECK(runbeam_client_change_applied_async(gateway, id, on_json, &w, NULL) == RUNBEAM_OK, "%s", last());
    expect_failure(&w, RUNBEAM_STATUS_CONFLICT, __LINE__);
    CHECK(w.http_status == 409, "already failed: %u", w.http_status);
    CHECK(strcmp(w.method, "POST") == 0, "method %s", w.method);
    waiter_destroy(&w);

    waiter_init(&w);
    CHECK(runbeam_client_update_config_async(
              gateway, "{\"type\":\"pipeline\",\"config\":\"[pipeline]\\nname = \\\"c-async-p\\\"\\n\"}",
              on_json, &w, NULL) == RUNBEAM_OK,
          "%s", last());
    expect_ok(&w, 1, __LINE__);
    CHECK(strstr(w.json, "\"action\":\"created\"") != NULL, "%s", w.json);
    waiter_destroy(&w);

    /* Argument errors are reported at once; the callback is never called. */
    waiter_init(&w);
    runbeam_cancel *cancel = NULL;
    CHECK(runbeam_client_base_url_async(gateway, NULL, &w, &cancel) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL callback");
    CHECK(cancel == NULL, "out untouched");
    CHECK(runbeam_client_jwks_async(NULL, on_json, &w, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL");
    CHECK(runbeam_client_change_async(gateway, NULL, on_json, &w, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL id");
    CHECK(runbeam_client_acknowledge_changes_async(gateway, NULL, 1, on_json, &w, NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL ids");
    CHECK(runbeam_client_change_failed_async(gateway, id, "x", "{bad", on_json, &w, NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "bad details");
    CHECK(runbeam_client_update_config_async(gateway, "{\"type\":\"nope\",\"config\":\"\"}", on_json, &w,
                                             NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "bad type");
    CHECK(runbeam_client_revoke_async(user, "\xff", on_json, &w, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "bad UTF-8");
    CHECK(runbeam_client_changes_async(gateway, NULL, NULL, &w, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL callback");
    sleep_ms(50);
    CHECK(waiter_sync_count(&w.sync) == 0, "never called");
    waiter_destroy(&w);
}

/* ----------------------------------------------------------------------------- resources */

static void test_resources(void) {
    struct waiter w;
    char id[128];

    waiter_init(&w);
    CHECK(runbeam_client_create_async(user, RUNBEAM_COLLECTION_SERVICES,
                                      "{\"name\":\"c-async-svc\",\"url\":\"https://async.example.com\"}",
                                      on_json, &w, NULL) == RUNBEAM_OK,
          "%s", last());
    expect_ok(&w, 1, __LINE__);
    json_string(w.json, "id", id, sizeof id);
    CHECK(id[0] != '\0' && strstr(w.json, "\"data\":{") != NULL, "%s", w.json);
    waiter_destroy(&w);

    /* A 422 with its field errors readable in the callback. */
    waiter_init(&w);
    CHECK(runbeam_client_create_async(user, RUNBEAM_COLLECTION_SERVICES, "{\"url\":\"https://x.example\"}",
                                      on_json, &w, NULL) == RUNBEAM_OK,
          "%s", last());
    expect_failure(&w, RUNBEAM_STATUS_VALIDATION, __LINE__);
    CHECK(w.http_status == 422, "%u", w.http_status);
    CHECK(strstr(w.field_errors, "\"name\":[") != NULL, "%s", w.field_errors);
    CHECK(strcmp(w.method, "POST") == 0 && strcmp(w.path, "/services") == 0, "%s %s", w.method, w.path);
    waiter_destroy(&w);

    waiter_init(&w);
    CHECK(runbeam_client_update_resource_async(user, RUNBEAM_COLLECTION_SERVICES, id,
                                               "{\"description\":\"async update\"}", on_json, &w,
                                               NULL) == RUNBEAM_OK,
          "%s", last());
    expect_ok(&w, 1, __LINE__);
    CHECK(strstr(w.json, "\"description\":\"async update\"") != NULL, "%s", w.json);
    waiter_destroy(&w);

    /* Delete: a status callback; the second delete is NotFound in the callback. */
    waiter_init(&w);
    CHECK(runbeam_client_delete_async(user, RUNBEAM_COLLECTION_SERVICES, id, on_status, &w, NULL) ==
              RUNBEAM_OK, "%s", last());
    expect_ok(&w, 0, __LINE__);
    waiter_destroy(&w);
    char *json = NULL;
    CHECK(runbeam_client_get(user, RUNBEAM_COLLECTION_SERVICES, id, &json) == RUNBEAM_STATUS_NOT_FOUND,
          "deleted: %s", last());
    waiter_init(&w);
    CHECK(runbeam_client_delete_async(user, RUNBEAM_COLLECTION_SERVICES, id, on_status, &w, NULL) ==
              RUNBEAM_OK, "%s", last());
    expect_failure(&w, RUNBEAM_STATUS_NOT_FOUND, __LINE__);
    CHECK(strcmp(w.method, "DELETE") == 0, "method %s", w.method);
    waiter_destroy(&w);

    waiter_init(&w);
    CHECK(runbeam_client_delete_async(user, 0, id, on_status, &w, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "collection 0");
    CHECK(runbeam_client_delete_async(user, RUNBEAM_COLLECTION_SERVICES, NULL, on_status, &w, NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL id");
    CHECK(runbeam_client_delete_async(user, RUNBEAM_COLLECTION_SERVICES, id, NULL, &w, NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL callback");
    CHECK(runbeam_client_create_async(user, RUNBEAM_COLLECTION_SERVICES, "{", on_json, &w, NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "bad body");
    CHECK(runbeam_client_list_all_async(user, 9, 10, on_json, &w, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "collection 9");
    sleep_ms(50);
    CHECK(waiter_sync_count(&w.sync) == 0, "never called");
    waiter_destroy(&w);
}

/* --------------------------------------------------------------------------- page walks */

static long services_total;

/* Creates services until the collection has at least `at_least`; returns the total. */
static long fill_services(long at_least) {
    char *json = NULL;
    long total = -1;
    for (int i = 0;; i++) {
        CHECK(runbeam_client_list(user, RUNBEAM_COLLECTION_SERVICES, 1, 1, &json) == RUNBEAM_OK, "%s",
              last());
        const char *at = json != NULL ? strstr(json, "\"total\":") : NULL;
        if (at == NULL || sscanf(at, "\"total\":%ld", &total) != 1) total = -1;
        runbeam_string_free(json);
        json = NULL;
        if (total < 0 || total >= at_least || i > 20) break;
        char body[160];
        snprintf(body, sizeof body, "{\"name\":\"c-async-page-%d\",\"url\":\"https://p%d.example.com\"}", i, i);
        CHECK(runbeam_client_create(user, RUNBEAM_COLLECTION_SERVICES, body, &json) == RUNBEAM_OK, "%s",
              last());
        runbeam_string_free(json);
        json = NULL;
    }
    return total;
}

static void test_list_all_async(void) {
    struct waiter w;
    waiter_init(&w);
    CHECK(runbeam_client_list_all_async(user, RUNBEAM_COLLECTION_SERVICES, 2, on_json, &w, NULL) ==
              RUNBEAM_OK, "%s", last());
    expect_ok(&w, 1, __LINE__);
    CHECK(json_array_length(w.json) == services_total, "%ld items, total %ld", json_array_length(w.json),
          services_total);
    waiter_destroy(&w);

    /* An impossible page size is refused before anything starts. */
    waiter_init(&w);
    CHECK(runbeam_client_list_all_async(user, RUNBEAM_COLLECTION_SERVICES, 0, on_json, &w, NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "per_page 0");
    CHECK(strstr(last(), "per_page") != NULL, "%s", last());
    sleep_ms(50);
    CHECK(waiter_sync_count(&w.sync) == 0, "never called");
    waiter_destroy(&w);
}

/* The first item's id of a page (JSON array of resources). */
static void first_id(const char *json, char *buf, size_t len) { json_string(json, "id", buf, len); }

static void test_cursor_blocking(void) {
    runbeam_page_cursor *cursor = NULL;
    char *json = NULL;

    CHECK(runbeam_client_pages(user, RUNBEAM_COLLECTION_SERVICES, 2, &cursor) == RUNBEAM_OK, "%s", last());
    long pages = 0, items = 0;
    for (;;) {
        json = (char *)&json;
        runbeam_status s = runbeam_page_cursor_next(cursor, &json);
        CHECK(s == RUNBEAM_OK, "%s", last());
        if (s != RUNBEAM_OK || json == NULL) break;
        pages++;
        long n = json_array_length(json);
        CHECK(n >= 1 && n <= 2, "page %ld has %ld items", pages, n);
        CHECK(json[0] == '[', "%s", json);
        items += n;
        runbeam_string_free(json);
        if (pages > 1000) break;
    }
    CHECK(items == services_total, "%ld items, total %ld", items, services_total);
    CHECK(pages == (services_total + 1) / 2, "%ld pages of 2 for %ld", pages, services_total);
    /* Past the end: NULL again, and no request. */
    dev_delete("/_dev/counters");
    json = (char *)&json;
    CHECK(runbeam_page_cursor_next(cursor, &json) == RUNBEAM_OK && json == NULL, "still the end");
    CHECK(dev_count("GET " SERVICES_PATH) == 0, "requested past the end");
    runbeam_page_cursor_free(cursor);

    /* Stopping early: one page read, the cursor freed, no other page requested. */
    dev_delete("/_dev/counters");
    cursor = NULL;
    CHECK(runbeam_client_pages(user, RUNBEAM_COLLECTION_SERVICES, 2, &cursor) == RUNBEAM_OK, "%s", last());
    CHECK(dev_count("GET " SERVICES_PATH) == 0, "creating a cursor requests nothing");
    json = NULL;
    CHECK(runbeam_page_cursor_next(cursor, &json) == RUNBEAM_OK && json != NULL, "%s", last());
    CHECK(json_array_length(or_null(json)) == 2, "%s", or_null(json));
    runbeam_string_free(json);
    runbeam_page_cursor_free(cursor);
    CHECK(dev_count("GET " SERVICES_PATH) == 1, "pages requested: %ld", dev_count("GET " SERVICES_PATH));

    /* A failed page leaves the cursor where it was: the retry gets that page (page 2). */
    char second[128], again[128];
    cursor = NULL;
    CHECK(runbeam_client_pages(user, RUNBEAM_COLLECTION_SERVICES, 2, &cursor) == RUNBEAM_OK, "%s", last());
    for (int i = 0; i < 2; i++) {
        json = NULL;
        runbeam_page_cursor_next(cursor, &json);
        first_id(or_null(json), second, sizeof second);
        runbeam_string_free(json);
    }
    runbeam_page_cursor_free(cursor);
    cursor = NULL;
    CHECK(runbeam_client_pages(user, RUNBEAM_COLLECTION_SERVICES, 2, &cursor) == RUNBEAM_OK, "%s", last());
    json = NULL;
    runbeam_page_cursor_next(cursor, &json);
    runbeam_string_free(json);
    json = NULL;
    CHECK(dev_post("/_dev/faults", "{\"path\":\"" SERVICES_PATH "\",\"status\":404,\"count\":1}") == 201,
          "fault");
    CHECK(runbeam_page_cursor_next(cursor, &json) == RUNBEAM_STATUS_NOT_FOUND, "%s", last());
    CHECK(json == NULL, "out untouched");
    CHECK(strcmp(or_null(runbeam_last_error_request_path()), "/services") == 0, "%s",
          or_null(runbeam_last_error_request_path()));
    CHECK(runbeam_page_cursor_next(cursor, &json) == RUNBEAM_OK && json != NULL, "%s", last());
    first_id(or_null(json), again, sizeof again);
    CHECK(second[0] != '\0' && strcmp(second, again) == 0, "page 2 after the retry: %s / %s", second,
          again);
    runbeam_string_free(json);
    runbeam_page_cursor_free(cursor);

    /* A cursor outlives its client (they share the runtime). */
    runbeam_client *own = new_client(BOB);
    cursor = NULL;
    CHECK(runbeam_client_pages(own, RUNBEAM_COLLECTION_SERVICES, RUNBEAM_MAX_PER_PAGE, &cursor) == RUNBEAM_OK,
          "%s", last());
    runbeam_client_free(own);
    json = NULL;
    CHECK(runbeam_page_cursor_next(cursor, &json) == RUNBEAM_OK && json != NULL, "%s", last());
    CHECK(json_array_length(or_null(json)) == services_total, "%s", or_null(json));
    runbeam_string_free(json);
    runbeam_page_cursor_free(cursor);

    /* Arguments. */
    cursor = NULL;
    CHECK(runbeam_client_pages(user, RUNBEAM_COLLECTION_SERVICES, 0, &cursor) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "per_page 0");
    CHECK(strstr(last(), "per_page") != NULL, "%s", last());
    CHECK(runbeam_client_pages(user, RUNBEAM_COLLECTION_SERVICES, RUNBEAM_MAX_PER_PAGE + 1, &cursor) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "per_page over RUNBEAM_MAX_PER_PAGE");
    CHECK(runbeam_client_list_all_async(user, RUNBEAM_COLLECTION_SERVICES, RUNBEAM_MAX_PER_PAGE + 1, on_json,
                                        NULL, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "list_all too");
    CHECK(runbeam_client_pages(user, 0, 2, &cursor) == RUNBEAM_STATUS_INVALID_ARGUMENT, "collection 0");
    CHECK(runbeam_client_pages(NULL, RUNBEAM_COLLECTION_SERVICES, 2, &cursor) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL client");
    CHECK(runbeam_client_pages(user, RUNBEAM_COLLECTION_SERVICES, 2, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL out");
    CHECK(cursor == NULL, "out untouched");
    CHECK(runbeam_page_cursor_next(NULL, &json) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL cursor");
    runbeam_page_cursor_free(NULL);
}

/* A non-blocking walk: each page's callback asks for the next page until the end. */
struct walk {
    struct waiter_sync sync; /* signalled once, when the walk ends */
    runbeam_page_cursor *cursor;
    long pages;
    long items;
    runbeam_status status;
    runbeam_status nested; /* a blocking next from the callback */
};

static void on_page(void *user_data, runbeam_status status, const char *json, const char *error_message) {
    struct walk *k = user_data;
    (void)error_message;
    if (status == RUNBEAM_OK && json != NULL) {
        char *blocked = NULL;
        if (k->pages == 0) k->nested = runbeam_page_cursor_next(k->cursor, &blocked);
        runbeam_string_free(blocked);
        k->pages++;
        k->items += json_array_length(json);
        status = runbeam_page_cursor_next_async(k->cursor, on_page, k, NULL);
        if (status == RUNBEAM_OK) return;
    }
    waiter_sync_lock(&k->sync);
    k->status = status;
    waiter_sync_signal(&k->sync);
}

static void test_cursor_async(void) {
    struct walk k;
    memset(&k, 0, sizeof k);
    waiter_sync_init(&k.sync);
    k.status = -1;
    k.nested = -1;
    CHECK(runbeam_client_pages(user, RUNBEAM_COLLECTION_SERVICES, 2, &k.cursor) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_page_cursor_next_async(k.cursor, on_page, &k, NULL) == RUNBEAM_OK, "%s", last());
    CHECK(waiter_sync_wait(&k.sync, 1, 60) == 1, "the walk ended");
    CHECK(k.status == RUNBEAM_OK, "%s", runbeam_status_str(k.status));
    CHECK(k.items == services_total, "%ld items, total %ld", k.items, services_total);
    CHECK(k.pages == (services_total + 1) / 2, "%ld pages", k.pages);
    CHECK(k.nested == RUNBEAM_STATUS_INVALID_ARGUMENT, "blocking next in a callback: %d", k.nested);
    runbeam_page_cursor_free(k.cursor);
    CHECK(waiter_sync_count(&k.sync) == 1, "ended once");
    waiter_sync_destroy(&k.sync);

    /* Cancelled while the page is slow: CANCELLED at once; the cursor has not moved. */
    runbeam_page_cursor *cursor = NULL;
    CHECK(runbeam_client_pages(user, RUNBEAM_COLLECTION_SERVICES, 2, &cursor) == RUNBEAM_OK, "%s", last());
    CHECK(dev_post("/_dev/faults", "{\"path\":\"" SERVICES_PATH "\",\"latency_ms\":3000,\"count\":1}") == 201,
          "fault");
    struct waiter w;
    waiter_init(&w);
    runbeam_cancel *cancel = NULL;
    CHECK(runbeam_page_cursor_next_async(cursor, on_json, &w, &cancel) == RUNBEAM_OK, "%s", last());
    CHECK(cancel != NULL, "cancel handle");
    sleep_ms(200);
    CHECK(runbeam_cancel_request(cancel) == RUNBEAM_OK, "%s", last());
    expect_failure(&w, RUNBEAM_STATUS_CANCELLED, __LINE__);
    runbeam_cancel_free(cancel);
    waiter_destroy(&w);
    char *json = NULL;
    CHECK(runbeam_page_cursor_next(cursor, &json) == RUNBEAM_OK && json != NULL, "%s", last());
    char fresh[128], expected[128];
    first_id(or_null(json), fresh, sizeof fresh);
    runbeam_string_free(json);
    json = NULL;
    runbeam_page_cursor *other = NULL;
    runbeam_client_pages(user, RUNBEAM_COLLECTION_SERVICES, 2, &other);
    runbeam_page_cursor_next(other, &json);
    first_id(or_null(json), expected, sizeof expected);
    runbeam_string_free(json);
    runbeam_page_cursor_free(other);
    CHECK(fresh[0] != '\0' && strcmp(fresh, expected) == 0, "page 1 again after the cancel: %s / %s",
          fresh, expected);

    /* Freed with a call pending: its callback gets CANCELLED before the free returns. */
    CHECK(dev_post("/_dev/faults", "{\"path\":\"" SERVICES_PATH "\",\"latency_ms\":3000,\"count\":1}") == 201,
          "fault");
    waiter_init(&w);
    CHECK(runbeam_page_cursor_next_async(cursor, on_json, &w, NULL) == RUNBEAM_OK, "%s", last());
    sleep_ms(200);
    runbeam_page_cursor_free(cursor);
    CHECK(waiter_sync_count(&w.sync) == 1, "called by the free: %d", waiter_sync_count(&w.sync));
    CHECK(w.status == RUNBEAM_STATUS_CANCELLED, "%s", runbeam_status_str(w.status));
    waiter_destroy(&w);
    dev_delete("/_dev/faults");

    waiter_init(&w);
    CHECK(runbeam_page_cursor_next_async(NULL, on_json, &w, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL");
    sleep_ms(50);
    CHECK(waiter_sync_count(&w.sync) == 0, "never called");
    waiter_destroy(&w);
}

/* ------------------------------------------------------------------------- cancellation */

static void test_cancellation(void) {
    struct waiter w;

    /* runbeam_cancel_request on a slow changes call. */
    CHECK(dev_post("/_dev/faults", "{\"path\":\"" CHANGES_PATH "\",\"latency_ms\":3000,\"count\":1}") == 201,
          "fault");
    waiter_init(&w);
    runbeam_cancel *cancel = NULL;
    CHECK(runbeam_client_changes_async(gateway, NULL, on_json, &w, &cancel) == RUNBEAM_OK, "%s", last());
    sleep_ms(200);
    CHECK(runbeam_cancel_request(cancel) == RUNBEAM_OK, "%s", last());
    expect_failure(&w, RUNBEAM_STATUS_CANCELLED, __LINE__);
    runbeam_cancel_free(cancel);
    waiter_destroy(&w);

    /* The last client handle freed with a delete and a list_all pending: both CANCELLED
     * before the free returns, without waiting for the slow requests. */
    CHECK(dev_post("/_dev/faults", "{\"path\":\"" SERVICES_PATH "*\",\"latency_ms\":3000,\"count\":2}") == 201,
          "fault");
    runbeam_client *own = new_client(BOB);
    waiter_init(&w);
    CHECK(runbeam_client_delete_async(own, RUNBEAM_COLLECTION_SERVICES, "no-such-id", on_status, &w, NULL) ==
              RUNBEAM_OK, "%s", last());
    CHECK(runbeam_client_list_all_async(own, RUNBEAM_COLLECTION_SERVICES, 10, on_json, &w, NULL) == RUNBEAM_OK,
          "%s", last());
    sleep_ms(200);
    runbeam_client_free(own);
    CHECK(waiter_sync_count(&w.sync) == 2, "completed by the free: %d", waiter_sync_count(&w.sync));
    CHECK(w.status == RUNBEAM_STATUS_CANCELLED, "%s", runbeam_status_str(w.status));
    waiter_destroy(&w);
    dev_delete("/_dev/faults");
}

/* ------------------------------------------------------------------------------- revoke */

static void test_revoke(void) {
    struct waiter w;
    waiter_init(&w);
    CHECK(runbeam_client_revoke_async(user, BOB_GW, on_json, &w, NULL) == RUNBEAM_OK, "%s", last());
    expect_ok(&w, 1, __LINE__);
    CHECK(strstr(w.json, "\"success\":true") != NULL, "%s", w.json);
    waiter_destroy(&w);

    waiter_init(&w);
    CHECK(runbeam_client_base_url_async(gateway, on_json, &w, NULL) == RUNBEAM_OK, "%s", last());
    expect_failure(&w, RUNBEAM_STATUS_UNAUTHORIZED, __LINE__);
    CHECK(w.http_status == 401, "%u", w.http_status);
    CHECK(strstr(w.message, machine_token) == NULL, "token in the message: %s", w.message);
    waiter_destroy(&w);
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
    user = new_client(BOB);
    char *json = NULL;
    CHECK(user != NULL && runbeam_client_authorize(user, BOB_GW, NULL, &json) == RUNBEAM_OK, "%s", last());
    json_string(json, "machine_token", machine_token, sizeof machine_token);
    runbeam_string_free(json);
    CHECK(machine_token[0] != '\0', "no machine token");
    if (machine_token[0] != '\0' && runbeam_client_with_token(user, machine_token, &gateway) == RUNBEAM_OK) {
        test_gateway_endpoints();
        test_resources();
        services_total = fill_services(5);
        CHECK(services_total >= 5, "services: %ld", services_total);
        test_list_all_async();
        test_cursor_blocking();
        test_cursor_async();
        test_cancellation();
        test_revoke();
    }
    runbeam_client_free(gateway);
    runbeam_client_free(user);
    devcloud_stop();
    return check_summary();
}
