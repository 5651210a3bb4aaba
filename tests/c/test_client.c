/*
 * C test suite of the Runbeam Cloud client ABI (runbeam_client_*), against a runbeam-devcloud
 * subprocess over real HTTP. Compiled with -Wall -Wextra -Werror -pedantic against
 * include/runbeam.h, run under AddressSanitizer + UBSan and under valgrind (see tests/c/c.mk).
 *
 * Usage: test_client <path-to-runbeam-devcloud>
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
#define ALICE_GW "radiology-gw-1"
#define DICOMWEB "runbeam.radiology-dept.ingress.name.dicomweb"
#define DICOM_URL "https://dicom.radiology.example.com"
#define MESH "imaging-integration"

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

struct waiter {
    struct waiter_sync sync;
    runbeam_status status;
    char json[16384];
    char message[512];
    uint16_t http_status;
    int message_and_json_exclusive;
    /* When set, the callback tries a blocking call (must be refused). */
    const runbeam_client *nested_client;
    runbeam_status nested_status;
    /* When set, the callback frees this client (the last handle of its runtime). */
    runbeam_client *free_in_callback;
};

static void waiter_init(struct waiter *w) {
    memset(w, 0, sizeof *w);
    waiter_sync_init(&w->sync);
    w->nested_status = -1;
}

static void waiter_destroy(struct waiter *w) { waiter_sync_destroy(&w->sync); }

static void on_json(void *user_data, runbeam_status status, const char *json,
                    const char *error_message) {
    struct waiter *w = user_data;
    runbeam_status nested = -1;
    if (w->nested_client != NULL) {
        char *out = NULL;
        nested = runbeam_client_base_url(w->nested_client, &out);
        runbeam_string_free(out);
    }
    uint16_t http = status == RUNBEAM_OK ? 0 : runbeam_last_error_http_status();
    if (w->free_in_callback != NULL) {
        runbeam_client_free(w->free_in_callback);
        w->free_in_callback = NULL;
    }
    waiter_sync_lock(&w->sync);
    w->status = status;
    w->nested_status = nested;
    w->http_status = http;
    w->message_and_json_exclusive = (status == RUNBEAM_OK) == (json != NULL && error_message == NULL);
    snprintf(w->json, sizeof w->json, "%s", json ? json : "");
    snprintf(w->message, sizeof w->message, "%s", error_message ? error_message : "");
    waiter_sync_signal(&w->sync);
}

/* Waits until `calls` callbacks arrived (at most 20 s); returns the count. */
static int waiter_wait(struct waiter *w, int calls) {
    return waiter_sync_wait(&w->sync, calls, 20);
}

static int waiter_calls(struct waiter *w) { return waiter_sync_count(&w->sync); }

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

static runbeam_reference *parse(const char *text) {
    runbeam_reference *ref = NULL;
    runbeam_reference_parse(text, &ref);
    return ref;
}

/* --------------------------------------------------------------------------------- tests */

static runbeam_client *user;    /* bob's Sanctum token */
static runbeam_client *gateway; /* analytics-gw-1's machine token, derived from `user` */
static char machine_token[256];

static void test_config_and_new(void) {
    runbeam_client_config *cfg = NULL;
    runbeam_client *client = NULL;

    CHECK(runbeam_client_config_new(NULL, &cfg) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL url");
    CHECK(cfg == NULL, "out untouched");
    CHECK(runbeam_client_config_new("http://api.example.com", NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL out");

    /* http:// to a non-loopback host is refused by runbeam_client_new, unless allowed. */
    CHECK(runbeam_client_config_new("http://api.example.com", &cfg) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_client_new(cfg, &client) == RUNBEAM_STATUS_INVALID_ARGUMENT, "insecure http");
    CHECK(client == NULL, "out untouched");
    CHECK(strstr(last(), "http") != NULL, "%s", last());
    CHECK(runbeam_client_config_set_allow_insecure_http(cfg, true) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_client_new(cfg, &client) == RUNBEAM_OK, "%s", last());
    char *root = runbeam_client_api_root(client);
    CHECK(root != NULL && strcmp(root, "http://api.example.com/api") == 0, "%s", or_null(root));
    runbeam_string_free(root);
    runbeam_client_free(client);
    client = NULL;

    /* Setters refuse what cannot work. */
    CHECK(runbeam_client_config_set_connect_timeout_ms(cfg, 0) == RUNBEAM_STATUS_INVALID_ARGUMENT, "0 ms");
    CHECK(runbeam_client_config_set_request_timeout_ms(cfg, 0) == RUNBEAM_STATUS_INVALID_ARGUMENT, "0 ms");
    CHECK(runbeam_client_config_set_deadline_ms(cfg, 0) == RUNBEAM_STATUS_INVALID_ARGUMENT, "0 ms");
    CHECK(runbeam_client_config_set_max_attempts(cfg, 0) == RUNBEAM_STATUS_INVALID_ARGUMENT, "0 attempts");
    CHECK(strstr(last(), "max_attempts") != NULL, "%s", last());
    CHECK(runbeam_client_config_set_max_attempts(cfg, 101) == RUNBEAM_STATUS_INVALID_ARGUMENT, "101 attempts");
    CHECK(runbeam_client_config_set_max_attempts(cfg, 100) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_client_config_set_max_body_bytes(cfg, 0) == RUNBEAM_STATUS_INVALID_ARGUMENT, "0 bytes");
    CHECK(runbeam_client_config_set_token(cfg, "") == RUNBEAM_STATUS_INVALID_ARGUMENT, "empty token");
    CHECK(runbeam_client_config_set_token(cfg, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL token");
    CHECK(runbeam_client_config_set_token(cfg, "\xff\xfe") == RUNBEAM_STATUS_INVALID_ARGUMENT, "bad UTF-8");
    CHECK(runbeam_client_config_set_connect_timeout_ms(NULL, 10) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL cfg");
    CHECK(runbeam_client_config_set_connect_timeout_ms(cfg, 2000) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_client_config_set_deadline_ms(cfg, 20000) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_client_config_set_max_attempts(cfg, 2) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_client_config_set_max_body_bytes(cfg, 1 << 20) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_client_config_set_language(cfg, "bad language!") == RUNBEAM_OK, "checked later");
    CHECK(runbeam_client_new(cfg, &client) == RUNBEAM_STATUS_INVALID_ARGUMENT, "bad language");
    CHECK(strstr(last(), "language") != NULL, "%s", last());
    CHECK(runbeam_client_config_set_language(cfg, "c") == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_client_config_set_ca_bundle_file(cfg, "/nonexistent/ca.pem") == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_client_new(cfg, &client) == RUNBEAM_STATUS_INVALID_ARGUMENT, "unreadable CA");
    CHECK(strstr(last(), "/nonexistent/ca.pem") != NULL, "%s", last());
    runbeam_client_config_free(cfg);

    CHECK(runbeam_client_new(NULL, &client) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL config");
    runbeam_client_config_free(NULL);
    runbeam_client_free(NULL);
    runbeam_cancel_free(NULL);
}

static void test_authorize(void) {
    char *json = NULL;
    user = new_client(BOB);
    CHECK(user != NULL, "client: %s", last());
    if (user == NULL) return;

    CHECK(runbeam_client_authorize(user, BOB_GW, "[\"site=lab\"]", &json) == RUNBEAM_OK, "%s", last());
    json_string(json, "machine_token", machine_token, sizeof machine_token);
    CHECK(machine_token[0] != '\0', "%s", or_null(json));
    CHECK(json != NULL && strstr(json, "\"code\":\"" BOB_GW "\"") != NULL, "%s", or_null(json));
    CHECK(json != NULL && strstr(json, "\"expires_at\":\"") != NULL, "%s", or_null(json));
    runbeam_string_free(json);
    json = NULL;
    CHECK(runbeam_last_error_http_status() == 0, "cleared");

    /* Another team's gateway: 403. */
    CHECK(runbeam_client_authorize(user, ALICE_GW, NULL, &json) == RUNBEAM_STATUS_PERMISSION_DENIED,
          "%s", last());
    CHECK(json == NULL, "out untouched");
    CHECK(runbeam_last_error_http_status() == 403, "%u", runbeam_last_error_http_status());
    CHECK(strcmp(runbeam_last_error_kind(), "PermissionDenied") == 0, "%s", runbeam_last_error_kind());
    CHECK(strstr(last(), "ai-dev-") == NULL, "no token in the message: %s", last());
    CHECK(runbeam_last_error_retry_after_ms() == -1, "no retry-after");
    CHECK(strcmp(runbeam_last_error_field_errors_json(), "{}") == 0, "%s",
          runbeam_last_error_field_errors_json());

    /* Bad arguments. */
    CHECK(runbeam_client_authorize(user, BOB_GW, "{not json", &json) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "bad metadata");
    CHECK(runbeam_client_authorize(user, BOB_GW, "{\"a\":1}", &json) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "metadata not an array");
    CHECK(runbeam_client_authorize(NULL, BOB_GW, NULL, &json) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL client");
    CHECK(runbeam_client_authorize(user, NULL, NULL, &json) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL code");
    CHECK(runbeam_client_authorize(user, BOB_GW, NULL, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL out");
    CHECK(json == NULL, "out untouched");

    /* No token: NoToken. */
    runbeam_client *anonymous = new_client(NULL);
    CHECK(runbeam_client_authorize(anonymous, BOB_GW, NULL, &json) == RUNBEAM_STATUS_NO_TOKEN, "%s", last());
    runbeam_client_free(anonymous);

    CHECK(runbeam_client_with_token(user, machine_token, &gateway) == RUNBEAM_OK, "%s", last());
    runbeam_client *dummy = NULL;
    CHECK(runbeam_client_with_token(user, "", &dummy) == RUNBEAM_STATUS_INVALID_ARGUMENT, "empty");
    CHECK(runbeam_client_with_token(NULL, "x", &dummy) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL");
    CHECK(dummy == NULL, "out untouched");
}

static void test_gateway_calls(void) {
    char *json = NULL;
    if (gateway == NULL) return;

    runbeam_reference *ref = parse(DICOMWEB);
    CHECK(runbeam_client_resolve(gateway, ref, &json) == RUNBEAM_OK, "%s", last());
    CHECK(json != NULL && strstr(json, "\"name\":\"dicomweb\"") != NULL, "%s", or_null(json));
    CHECK(json != NULL && strstr(json, "\"urls\":[\"" DICOM_URL "\"]") != NULL, "%s", or_null(json));
    CHECK(json != NULL && strstr(json, "\"provider\":\"runbeam\"") != NULL, "%s", or_null(json));
    runbeam_string_free(json);
    json = NULL;
    runbeam_reference_free(ref);

    ref = parse("runbeam.radiology-dept.ingress.name.no-such-ingress");
    CHECK(runbeam_client_resolve(gateway, ref, &json) == RUNBEAM_STATUS_NOT_FOUND, "%s", last());
    CHECK(runbeam_last_error_http_status() == 404, "%u", runbeam_last_error_http_status());
    CHECK(strstr(last(), "no-such-ingress") != NULL, "%s", last());
    CHECK(json == NULL, "out untouched");
    runbeam_reference_free(ref);

    ref = parse("local.name.x");
    CHECK(runbeam_client_resolve(gateway, ref, &json) == RUNBEAM_STATUS_INVALID_ARGUMENT, "local");
    runbeam_reference_free(ref);
    CHECK(runbeam_client_resolve(gateway, NULL, &json) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL ref");

    CHECK(runbeam_client_mesh_token(gateway, MESH, DICOM_URL "/studies", &json) == RUNBEAM_OK, "%s", last());
    char token[2048];
    json_string(json, "token", token, sizeof token);
    CHECK(strchr(token, '.') != NULL, "a JWT: %s", or_null(json));
    runbeam_string_free(json);
    json = NULL;
    CHECK(runbeam_client_mesh_token(gateway, MESH, "https://evil.example.com/studies", &json) ==
              RUNBEAM_STATUS_PERMISSION_DENIED, "%s", last());
    CHECK(runbeam_last_error_http_status() == 403, "%u", runbeam_last_error_http_status());
    CHECK(runbeam_client_mesh_token(gateway, NULL, DICOM_URL, &json) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL");

    CHECK(runbeam_client_base_url(gateway, &json) == RUNBEAM_OK, "%s", last());
    CHECK(json != NULL && strstr(json, "\"base_url\":") != NULL, "%s", or_null(json));
    runbeam_string_free(json);
    json = NULL;

    CHECK(runbeam_client_jwks(gateway, &json) == RUNBEAM_OK, "%s", last());
    CHECK(json != NULL && strstr(json, "\"keys\":[") != NULL, "%s", or_null(json));
    runbeam_string_free(json);
    json = NULL;

    CHECK(runbeam_client_changes(gateway, NULL, &json) == RUNBEAM_OK, "%s", last());
    CHECK(json != NULL && json[0] == '[', "%s", or_null(json));
    runbeam_string_free(json);
    json = NULL;

    CHECK(runbeam_client_change(gateway, "no-such-change", &json) == RUNBEAM_STATUS_NOT_FOUND, "%s", last());
    CHECK(runbeam_client_acknowledge_changes(gateway, NULL, 1, &json) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL ids");
    const char *ids[] = {"a", NULL};
    CHECK(runbeam_client_acknowledge_changes(gateway, ids, 2, &json) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL element");
    CHECK(strstr(last(), "ids[1]") != NULL, "%s", last());
    CHECK(runbeam_client_change_failed(gateway, "x", "boom", "{bad", &json) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "bad details");
    CHECK(runbeam_client_update_config(gateway, "{\"type\":\"nope\",\"config\":\"\"}", &json) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "bad type");
    CHECK(json == NULL, "out untouched");
}

static void test_collections(void) {
    char *json = NULL;
    if (user == NULL) return;

    CHECK(runbeam_client_list(user, RUNBEAM_COLLECTION_GATEWAYS, 1, 1, &json) == RUNBEAM_OK, "%s", last());
    CHECK(json != NULL && strstr(json, "\"data\":[{") != NULL, "%s", or_null(json));
    CHECK(json != NULL && strstr(json, "\"per_page\":1") != NULL, "%s", or_null(json));
    CHECK(json != NULL && strstr(json, "\"links\":{") != NULL, "%s", or_null(json));
    runbeam_string_free(json);
    json = NULL;
    CHECK(runbeam_client_list(user, RUNBEAM_COLLECTION_GATEWAYS, 0, 10, &json) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "page 0");
    CHECK(runbeam_client_list(user, 99, 1, 10, &json) == RUNBEAM_STATUS_INVALID_ARGUMENT, "collection 99");

    /* list_all walks every page (core's rule): one item per page, as many items as the total. */
    for (int i = 0; i < 2; i++) {
        const char *body = i == 0 ? "{\"name\":\"c-test-page-a\",\"url\":\"https://a.example.com\"}"
                                  : "{\"name\":\"c-test-page-b\",\"url\":\"https://b.example.com\"}";
        CHECK(runbeam_client_create(user, RUNBEAM_COLLECTION_SERVICES, body, &json) == RUNBEAM_OK, "%s", last());
        runbeam_string_free(json);
        json = NULL;
    }
    long total = -1;
    CHECK(runbeam_client_list(user, RUNBEAM_COLLECTION_SERVICES, 1, 1, &json) == RUNBEAM_OK, "%s", last());
    const char *at = json != NULL ? strstr(json, "\"total\":") : NULL;
    CHECK(at != NULL && sscanf(at, "\"total\":%ld", &total) == 1 && total >= 2, "%s", or_null(json));
    runbeam_string_free(json);
    json = NULL;
    CHECK(runbeam_client_list_all(user, RUNBEAM_COLLECTION_SERVICES, 1, &json) == RUNBEAM_OK, "%s", last());
    CHECK(json != NULL && json[0] == '[', "%s", or_null(json));
    CHECK(json != NULL && json_array_length(json) == total, "%ld items, total %ld: %s",
          json != NULL ? json_array_length(json) : -1L, total, or_null(json));
    CHECK(json != NULL && strstr(json, "c-test-page-b") != NULL, "%s", or_null(json));
    runbeam_string_free(json);
    json = NULL;
    CHECK(runbeam_client_list_all(user, RUNBEAM_COLLECTION_INGRESSES, 0, &json) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "per_page 0");
    CHECK(runbeam_client_list_all(user, RUNBEAM_COLLECTION_INGRESSES, 1001, &json) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "per_page 1001");
    CHECK(json == NULL, "out untouched");

    /* Create, read, update, delete. */
    CHECK(runbeam_client_create(user, RUNBEAM_COLLECTION_SERVICES,
                                "{\"name\":\"c-test-svc\",\"url\":\"https://svc.example.com\"}", &json) ==
              RUNBEAM_OK, "%s", last());
    char id[128];
    json_string(json, "id", id, sizeof id);
    CHECK(id[0] != '\0', "%s", or_null(json));
    runbeam_string_free(json);
    json = NULL;

    CHECK(runbeam_client_get(user, RUNBEAM_COLLECTION_SERVICES, id, &json) == RUNBEAM_OK, "%s", last());
    CHECK(json != NULL && strstr(json, "\"name\":\"c-test-svc\"") != NULL, "%s", or_null(json));
    runbeam_string_free(json);
    json = NULL;

    CHECK(runbeam_client_update_resource(user, RUNBEAM_COLLECTION_SERVICES, id,
                                         "{\"description\":\"from C\"}", &json) == RUNBEAM_OK, "%s", last());
    CHECK(json != NULL && strstr(json, "\"description\":\"from C\"") != NULL, "%s", or_null(json));
    runbeam_string_free(json);
    json = NULL;

    CHECK(runbeam_client_create(user, RUNBEAM_COLLECTION_SERVICES, "{\"name\":\"c-test-svc\"}", &json) ==
              RUNBEAM_STATUS_CONFLICT, "%s", last());
    CHECK(runbeam_client_create(user, RUNBEAM_COLLECTION_SERVICES, "{\"url\":\"https://x.example\"}", &json) ==
              RUNBEAM_STATUS_VALIDATION, "%s", last());
    CHECK(runbeam_last_error_http_status() == 422, "%u", runbeam_last_error_http_status());
    CHECK(strstr(runbeam_last_error_field_errors_json(), "\"name\":[") != NULL, "%s",
          runbeam_last_error_field_errors_json());
    CHECK(json == NULL, "out untouched");

    CHECK(runbeam_client_delete(user, RUNBEAM_COLLECTION_SERVICES, id) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_client_get(user, RUNBEAM_COLLECTION_SERVICES, id, &json) == RUNBEAM_STATUS_NOT_FOUND, "%s",
          last());
    CHECK(runbeam_client_delete(user, RUNBEAM_COLLECTION_SERVICES, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL id");
}

#define RESEARCH_PIPELINE "01JDW0YP57RCYBVN5SXS5AA819" /* analytics-gw-1's, from the seed */

static void test_change_feed(void) {
    char *json = NULL;
    char id[128];
    if (user == NULL || gateway == NULL) return;

    /* Editing a pipeline of the gateway queues a change for it. */
    CHECK(runbeam_client_update_resource(user, RUNBEAM_COLLECTION_PIPELINES, RESEARCH_PIPELINE,
                                         "{\"description\":\"changed from C\"}", &json) == RUNBEAM_OK,
          "%s", last());
    runbeam_string_free(json);
    json = NULL;
    CHECK(runbeam_client_changes(gateway, NULL, &json) == RUNBEAM_OK, "%s", last());
    /* The first "id" of the feed; runbeam_client_change() below proves it is a change id. */
    json_string(json, "id", id, sizeof id);
    CHECK(id[0] != '\0', "%s", json ? json : "(null)");
    runbeam_string_free(json);
    json = NULL;

    CHECK(runbeam_client_change(gateway, id, &json) == RUNBEAM_OK, "%s: %s", id, last());
    CHECK(json != NULL && strstr(json, id) != NULL, "%s", or_null(json));
    runbeam_string_free(json);
    json = NULL;

    const char *ids[] = {id};
    CHECK(runbeam_client_acknowledge_changes(gateway, ids, 1, &json) == RUNBEAM_OK, "%s", last());
    CHECK(json != NULL && strstr(json, "\"success\":true") != NULL, "%s", or_null(json));
    runbeam_string_free(json);
    json = NULL;
    CHECK(runbeam_client_change_failed(gateway, id, "cannot apply", "{\"line\":3}", &json) == RUNBEAM_OK,
          "%s", last());
    runbeam_string_free(json);
    json = NULL;
    CHECK(runbeam_client_change_applied(gateway, id, &json) == RUNBEAM_STATUS_CONFLICT, "already failed: %s",
          last());
    CHECK(runbeam_last_error_http_status() == 409, "%u", runbeam_last_error_http_status());

    /* POST /harmony/update creates a pipeline from TOML. */
    CHECK(runbeam_client_update_config(gateway, "{\"type\":\"pipeline\",\"config\":\"[pipeline]\\nname = \\\"c-p\\\"\\n\"}",
                                &json) == RUNBEAM_OK, "%s", last());
    CHECK(json != NULL && strstr(json, "\"action\":\"created\"") != NULL, "%s", or_null(json));
    runbeam_string_free(json);
    json = NULL;
}

static void test_callbacks(void) {
    struct waiter w;
    if (gateway == NULL || user == NULL) return;

    /* resolve: success, exactly once, and a blocking call from the callback is refused. */
    waiter_init(&w);
    w.nested_client = gateway;
    runbeam_reference *ref = parse(DICOMWEB);
    CHECK(runbeam_client_resolve_async(gateway, ref, on_json, &w, NULL) == RUNBEAM_OK, "%s", last());
    runbeam_reference_free(ref); /* copied: may be freed at once */
    CHECK(waiter_wait(&w, 1) == 1, "called");
    CHECK(w.status == RUNBEAM_OK, "%d %s", w.status, w.message);
    CHECK(strstr(w.json, "\"name\":\"dicomweb\"") != NULL, "%s", w.json);
    CHECK(w.message_and_json_exclusive, "json xor message");
    CHECK(w.nested_status == RUNBEAM_STATUS_INVALID_ARGUMENT, "nested blocking call: %d", w.nested_status);
    sleep_ms(100);
    CHECK(waiter_calls(&w) == 1, "exactly once");
    waiter_destroy(&w);

    /* resolve: failure with its HTTP status available in the callback. */
    waiter_init(&w);
    ref = parse("runbeam.radiology-dept.ingress.name.no-such-ingress");
    CHECK(runbeam_client_resolve_async(gateway, ref, on_json, &w, NULL) == RUNBEAM_OK, "%s", last());
    runbeam_reference_free(ref);
    CHECK(waiter_wait(&w, 1) == 1, "called");
    CHECK(w.status == RUNBEAM_STATUS_NOT_FOUND, "%d", w.status);
    CHECK(w.http_status == 404, "%u", w.http_status);
    CHECK(strstr(w.message, "no-such-ingress") != NULL, "%s", w.message);
    CHECK(w.message_and_json_exclusive, "json xor message");
    waiter_destroy(&w);

    /* Several calls in flight on one waiter: authorize, mesh token, list, get. */
    waiter_init(&w);
    CHECK(runbeam_client_authorize_async(user, BOB_GW, NULL, on_json, &w, NULL) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_client_mesh_token_async(gateway, MESH, DICOM_URL "/x", on_json, &w, NULL) == RUNBEAM_OK,
          "%s", last());
    CHECK(runbeam_client_list_async(user, RUNBEAM_COLLECTION_MESHES, 1, 5, on_json, &w, NULL) == RUNBEAM_OK,
          "%s", last());
    CHECK(runbeam_client_get_async(user, RUNBEAM_COLLECTION_GATEWAYS, "no-such-id", on_json, &w, NULL) ==
              RUNBEAM_OK, "%s", last());
    CHECK(waiter_wait(&w, 4) == 4, "four callbacks");
    sleep_ms(100);
    CHECK(waiter_calls(&w) == 4, "each exactly once: %d", waiter_calls(&w));
    waiter_destroy(&w);

    /* Argument errors are reported at once and the callback is never called. */
    waiter_init(&w);
    ref = parse(DICOMWEB);
    runbeam_cancel *cancel = NULL;
    CHECK(runbeam_client_resolve_async(gateway, ref, NULL, &w, &cancel) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL callback");
    CHECK(cancel == NULL, "out untouched");
    CHECK(runbeam_client_resolve_async(NULL, ref, on_json, &w, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL");
    CHECK(runbeam_client_get_async(user, 0, "x", on_json, &w, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "coll 0");
    CHECK(runbeam_client_mesh_token_async(gateway, MESH, NULL, on_json, &w, NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL url");
    runbeam_reference_free(ref);
    sleep_ms(50);
    CHECK(waiter_calls(&w) == 0, "never called");
    CHECK(runbeam_cancel_request(NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL cancel");
    waiter_destroy(&w);
}

static void test_cancellation(void) {
    struct waiter w;
    if (gateway == NULL) return;
    const char *fault = "{\"path\":\"/api/harmony/resources/resolve\",\"latency_ms\":3000}";

    /* runbeam_cancel_request on a slow call: CANCELLED at once, callback exactly once. */
    CHECK(dev_post("/_dev/faults", fault) == 201, "fault injected");
    waiter_init(&w);
    runbeam_reference *ref = parse(DICOMWEB);
    runbeam_cancel *cancel = NULL;
    double start = now_s();
    CHECK(runbeam_client_resolve_async(gateway, ref, on_json, &w, &cancel) == RUNBEAM_OK, "%s", last());
    runbeam_reference_free(ref);
    CHECK(cancel != NULL, "cancel handle");
    sleep_ms(200);
    CHECK(runbeam_cancel_request(cancel) == RUNBEAM_OK, "%s", last());
    CHECK(waiter_wait(&w, 1) == 1, "called");
    double elapsed = now_s() - start;
    CHECK(w.status == RUNBEAM_STATUS_CANCELLED, "%d %s", w.status, w.message);
    CHECK(elapsed < 2.5, "cancelled before the 3 s latency: %.2f s", elapsed);
    CHECK(runbeam_cancel_request(cancel) == RUNBEAM_OK, "cancel after completion is a no-op");
    runbeam_cancel_free(cancel);
    sleep_ms(50);
    CHECK(waiter_calls(&w) == 1, "exactly once");
    waiter_destroy(&w);

    /* Freeing the cancel handle does not cancel the call. */
    waiter_init(&w);
    ref = parse(DICOMWEB);
    cancel = NULL;
    CHECK(runbeam_client_resolve_async(gateway, ref, on_json, &w, &cancel) == RUNBEAM_OK, "%s", last());
    runbeam_reference_free(ref);
    runbeam_cancel_free(cancel);
    CHECK(waiter_wait(&w, 1) == 1, "called");
    CHECK(w.status == RUNBEAM_OK, "%d %s", w.status, w.message);
    waiter_destroy(&w);

    /* Freeing the last handle of a client with a call in flight: the call completes with
     * CANCELLED (exactly once) and runbeam_client_free returns without waiting 3 s. */
    CHECK(dev_post("/_dev/faults", fault) == 201, "fault injected");
    runbeam_client *own = new_client(machine_token);
    waiter_init(&w);
    ref = parse(DICOMWEB);
    start = now_s();
    CHECK(runbeam_client_resolve_async(own, ref, on_json, &w, NULL) == RUNBEAM_OK, "%s", last());
    runbeam_reference_free(ref);
    sleep_ms(200);
    runbeam_client_free(own);
    elapsed = now_s() - start;
    CHECK(waiter_calls(&w) == 1, "completed by the free: %d", waiter_calls(&w));
    CHECK(w.status == RUNBEAM_STATUS_CANCELLED, "%d %s", w.status, w.message);
    CHECK(elapsed < 2.5, "free did not wait for the call: %.2f s", elapsed);
    waiter_destroy(&w);

    /* Freeing the last handle from inside its own callback neither deadlocks nor crashes
     * (the runtime stops in the background once the callback returns). */
    own = new_client(machine_token);
    waiter_init(&w);
    w.free_in_callback = own;
    ref = parse(DICOMWEB);
    CHECK(runbeam_client_resolve_async(own, ref, on_json, &w, NULL) == RUNBEAM_OK, "%s", last());
    runbeam_reference_free(ref);
    CHECK(waiter_wait(&w, 1) == 1, "called");
    CHECK(w.status == RUNBEAM_OK, "%d %s", w.status, w.message);
    sleep_ms(200); /* let the background shutdown finish before the leak check at exit */
    waiter_destroy(&w);
}

static void test_revoke(void) {
    char *json = NULL;
    if (user == NULL || gateway == NULL) return;
    CHECK(runbeam_client_revoke(user, BOB_GW, &json) == RUNBEAM_OK, "%s", last());
    CHECK(json != NULL && strstr(json, "\"success\":true") != NULL, "%s", or_null(json));
    runbeam_string_free(json);
    json = NULL;
    CHECK(runbeam_client_base_url(gateway, &json) == RUNBEAM_STATUS_UNAUTHORIZED, "%s", last());
    CHECK(runbeam_last_error_http_status() == 401, "%u", runbeam_last_error_http_status());
    CHECK(json == NULL, "out untouched");
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
    test_config_and_new();
    test_authorize();
    test_gateway_calls();
    test_collections();
    test_change_feed();
    test_callbacks();
    test_cancellation();
    test_revoke();
    runbeam_client_free(gateway);
    runbeam_client_free(user);
    devcloud_stop();
    return check_summary();
}
