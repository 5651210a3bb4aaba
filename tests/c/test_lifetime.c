/*
 * Handle lifetimes and argument limits of the C ABI, without a devcloud:
 * - `_free` returns only when no callback of the handle can run any more: a callback that is
 *   running (here for 6 s, longer than any old shutdown deadline) is waited for, calls still
 *   pending get RUNBEAM_STATUS_CANCELLED before it returns, and nothing is called afterwards
 *   (checked with a flag set right after the free, looked at inside every callback). For a
 *   validator (its own runtime) and for a client handle that shares its runtime with another.
 * - every count, length and capacity taken from C is capped (RUNBEAM_MAX_*): above it the call
 *   is RUNBEAM_STATUS_INVALID_ARGUMENT with a message naming the limit, and nothing is read or
 *   allocated from the number (the huge values below would crash otherwise).
 * Pending calls wait on a local TCP socket that accepts connections but never answers.
 *
 * Usage: test_lifetime
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "runbeam.h"
#include "waiter.h"

#define SLOW_CALLBACK_MS 6000
#define PENDING 4

static const char *last(void) { return runbeam_last_error_message(); }
static bool has(const char *text, const char *part) {
    return text != NULL && strstr(text, part) != NULL;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* ------------------------------------------------------------------ a silent server */

static int silent_fd = -1;
static char silent_url[64];

/* Listens on 127.0.0.1 and never accepts: connections succeed, requests hang. */
static int silent_start(void) {
    silent_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (silent_fd < 0 || bind(silent_fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(silent_fd, 64) != 0 || getsockname(silent_fd, (struct sockaddr *)&addr, &len) != 0)
        return -1;
    snprintf(silent_url, sizeof silent_url, "http://127.0.0.1:%d", ntohs(addr.sin_port));
    return 0;
}

/* ------------------------------------------------------------------ callbacks */

struct probe {
    struct waiter_sync sync;  /* counts callbacks */
    bool freed;               /* set right after the free returned */
    int after_free;           /* callbacks that started or ended after that */
    int started_slow;
    int finished_slow;
    int cancelled;
};

static struct probe probe;

static void probe_reset(void) {
    memset(&probe, 0, sizeof probe);
    waiter_sync_init(&probe.sync);
}

static void note(runbeam_status status) {
    waiter_sync_lock(&probe.sync);
    if (probe.freed) probe.after_free++;
    if (status == RUNBEAM_STATUS_CANCELLED) probe.cancelled++;
    waiter_sync_signal(&probe.sync);
}

static void slow(void) {
    pthread_mutex_lock(&probe.sync.mu);
    if (probe.freed) probe.after_free++;
    probe.started_slow = 1;
    pthread_cond_broadcast(&probe.sync.cv);
    pthread_mutex_unlock(&probe.sync.mu);
    sleep_ms(SLOW_CALLBACK_MS);
    pthread_mutex_lock(&probe.sync.mu);
    probe.finished_slow = 1;
    pthread_mutex_unlock(&probe.sync.mu);
}

static void on_claims_slow(void *user_data, runbeam_status status, runbeam_claims *claims,
                           const char *message) {
    (void)user_data;
    (void)message;
    runbeam_claims_free(claims);
    slow();
    note(status);
}

static void on_claims(void *user_data, runbeam_status status, runbeam_claims *claims,
                      const char *message) {
    (void)user_data;
    (void)message;
    runbeam_claims_free(claims);
    note(status);
}

static void on_json_slow(void *user_data, runbeam_status status, const char *json,
                         const char *message) {
    (void)user_data;
    (void)json;
    (void)message;
    slow();
    note(status);
}

static void on_json(void *user_data, runbeam_status status, const char *json,
                    const char *message) {
    (void)user_data;
    (void)json;
    (void)message;
    note(status);
}

static void wait_slow_started(void) {
    pthread_mutex_lock(&probe.sync.mu);
    while (!probe.started_slow) pthread_cond_wait(&probe.sync.cv, &probe.sync.mu);
    pthread_mutex_unlock(&probe.sync.mu);
}

/* What the freeing thread saw when the free returned. */
struct at_free {
    void (*free_it)(void *);
    void *handle;
    int finished_slow;
    int calls;
    int cancelled;
};

static void *free_in_thread(void *arg) {
    struct at_free *a = arg;
    a->free_it(a->handle);
    waiter_sync_lock(&probe.sync);
    probe.freed = true;
    a->finished_slow = probe.finished_slow;
    a->calls = probe.sync.calls;
    a->cancelled = probe.cancelled;
    pthread_mutex_unlock(&probe.sync.mu);
    return NULL;
}

static void free_validator(void *v) { runbeam_validator_free(v); }
static void free_client(void *c) { runbeam_client_free(c); }

/* Frees `handle` on another thread and checks what the guarantee promises. */
static void free_and_check(const char *what, void (*free_it)(void *), void *handle) {
    struct at_free a = {free_it, handle, 0, 0, 0};
    pthread_t t;
    pthread_create(&t, NULL, free_in_thread, &a);
    pthread_join(t, NULL);
    CHECK(a.finished_slow == 1, "%s: the free returned before the running callback did", what);
    CHECK(a.calls == 1 + PENDING, "%s: %d of %d callbacks before the free returned", what, a.calls,
          1 + PENDING);
    CHECK(a.cancelled == PENDING, "%s: %d pending calls cancelled", what, a.cancelled);
    sleep_ms(300);
    CHECK(waiter_sync_count(&probe.sync) == 1 + PENDING, "%s: no callback after the free", what);
    CHECK(probe.after_free == 0, "%s: %d callbacks ran after the free", what, probe.after_free);
    waiter_sync_destroy(&probe.sync);
}

/* ------------------------------------------------------------------ tests: _free */

static void test_validator_free_waits(void) {
    char issuer[128];
    snprintf(issuer, sizeof issuer, "%s/api", silent_url);
    runbeam_validator_config *cfg = NULL;
    runbeam_validator *v = NULL;
    CHECK(runbeam_validator_config_new(&cfg) == RUNBEAM_OK, "%s", last());
    runbeam_validator_config_add_trusted_issuer(cfg, issuer);
    runbeam_validator_config_set_deadline_ms(cfg, 120000);
    CHECK(runbeam_validator_new(cfg, &v) == RUNBEAM_OK, "%s", last());
    runbeam_validator_config_free(cfg);
    if (v == NULL) return;

    /* A well-formed token of the silent issuer: its validation waits for the JWKS forever.
     * {"alg":"RS256","kid":"k1"} . {"iss":"<issuer>","exp":4102444800} . "sig" */
    char payload[256], b64[512], token[1024];
    snprintf(payload, sizeof payload, "{\"iss\":\"%s\",\"exp\":4102444800}", issuer);
    static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = strlen(payload), o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t x = (uint32_t)(unsigned char)payload[i] << 16;
        if (i + 1 < n) x |= (uint32_t)(unsigned char)payload[i + 1] << 8;
        if (i + 2 < n) x |= (unsigned char)payload[i + 2];
        b64[o++] = T[(x >> 18) & 63];
        b64[o++] = T[(x >> 12) & 63];
        if (i + 1 < n) b64[o++] = T[(x >> 6) & 63];
        if (i + 2 < n) b64[o++] = T[x & 63];
    }
    b64[o] = '\0';
    snprintf(token, sizeof token, "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.%s.c2ln", b64);

    probe_reset();
    /* The running callback: a malformed token is answered at once, then its callback blocks. */
    CHECK(runbeam_validator_validate_async(v, "malformed", 9, on_claims_slow, NULL, NULL) == RUNBEAM_OK,
          "%s", last());
    wait_slow_started();
    for (int i = 0; i < PENDING; i++)
        CHECK(runbeam_validator_validate_async(v, token, strlen(token), on_claims, NULL, NULL) == RUNBEAM_OK,
              "%s", last());
    sleep_ms(100); /* the pending calls are inside their JWKS fetch */
    CHECK(waiter_sync_count(&probe.sync) == 0, "nothing answered yet");
    free_and_check("validator", free_validator, v);
}

static void test_shared_client_free_waits(void) {
    runbeam_client_config *cfg = NULL;
    runbeam_client *parent = NULL, *child = NULL;
    CHECK(runbeam_client_config_new(silent_url, &cfg) == RUNBEAM_OK, "%s", last());
    runbeam_client_config_set_request_timeout_ms(cfg, 120000);
    runbeam_client_config_set_max_attempts(cfg, 1);
    CHECK(runbeam_client_new(cfg, &parent) == RUNBEAM_OK, "%s", last());
    runbeam_client_config_free(cfg);
    if (parent == NULL) return;
    /* The child shares the parent's runtime; freeing it settles only its own calls. */
    CHECK(runbeam_client_with_token(parent, "1|child-token", &child) == RUNBEAM_OK, "%s", last());

    probe_reset();
    /* The running callback: page 0 is refused by the client before any request. */
    CHECK(runbeam_client_list_async(child, RUNBEAM_COLLECTION_GATEWAYS, 0, 10, on_json_slow, NULL, NULL) ==
              RUNBEAM_OK,
          "%s", last());
    wait_slow_started();
    for (int i = 0; i < PENDING; i++)
        CHECK(runbeam_client_list_async(child, RUNBEAM_COLLECTION_GATEWAYS, 1, 10, on_json, NULL, NULL) ==
                  RUNBEAM_OK,
              "%s", last());
    sleep_ms(100);
    free_and_check("client", free_client, child);
    runbeam_client_free(parent);
}

/* ------------------------------------------------------------------ tests: limits */

#define CHECK_LIMIT(call, limit)                                                              \
    do {                                                                                      \
        runbeam_status s_ = (call);                                                           \
        CHECK(s_ == RUNBEAM_STATUS_INVALID_ARGUMENT, "%s: %d", #call, (int)s_);               \
        CHECK(has(last(), limit), "%s: message '%s' names " limit, #call, last());            \
    } while (0)

static void test_limits(void) {
    const char *paths[1] = {"/nonexistent.toml"};
    runbeam_mesh_config *config = NULL;
    CHECK_LIMIT(runbeam_mesh_config_from_files(paths, RUNBEAM_MAX_CONFIG_FILES + 1, &config),
                "RUNBEAM_MAX_CONFIG_FILES");
    CHECK_LIMIT(runbeam_mesh_config_from_files(paths, SIZE_MAX, &config), "RUNBEAM_MAX_CONFIG_FILES");
    CHECK(runbeam_mesh_config_from_files(paths, 1, &config) == RUNBEAM_STATUS_CONFIG, "at the limit the files are read: %s",
          last());
    CHECK_LIMIT(runbeam_mesh_config_from_toml_len("a = 1", SIZE_MAX, &config), "RUNBEAM_MAX_DOCUMENT_BYTES");
    CHECK_LIMIT(runbeam_mesh_config_from_toml_len("a = 1", RUNBEAM_MAX_DOCUMENT_BYTES + 1, &config),
                "RUNBEAM_MAX_DOCUMENT_BYTES");
    CHECK(config == NULL, "out untouched");

    runbeam_reference *ref = NULL;
    CHECK_LIMIT(runbeam_reference_parse_len("runbeam.id.x", SIZE_MAX, &ref), "RUNBEAM_MAX_TEXT_BYTES");
    CHECK_LIMIT(runbeam_reference_parse_len("runbeam.id.x", RUNBEAM_MAX_TEXT_BYTES + 1, &ref),
                "RUNBEAM_MAX_TEXT_BYTES");
    CHECK(ref == NULL, "out untouched");

    const char *token = NULL;
    size_t token_len = 0;
    CHECK_LIMIT(runbeam_bearer_parse("Bearer x", SIZE_MAX, &token, &token_len), "RUNBEAM_MAX_TEXT_BYTES");

    runbeam_validator_config *vc = NULL;
    CHECK(runbeam_validator_config_new(&vc) == RUNBEAM_OK, "%s", last());
    const char *names[1] = {"RS256"};
    CHECK_LIMIT(runbeam_validator_config_set_algorithms(vc, names, SIZE_MAX), "RUNBEAM_MAX_ALGORITHMS");
    CHECK_LIMIT(runbeam_validator_config_set_algorithms(vc, names, RUNBEAM_MAX_ALGORITHMS + 1),
                "RUNBEAM_MAX_ALGORITHMS");
    CHECK(runbeam_validator_config_set_algorithms(vc, names, 1) == RUNBEAM_OK, "%s", last());
    CHECK_LIMIT(runbeam_validator_config_set_cache_capacity(vc, SIZE_MAX), "RUNBEAM_MAX_CACHE_ENTRIES");
    CHECK(runbeam_validator_config_set_cache_capacity(vc, RUNBEAM_MAX_CACHE_ENTRIES) == RUNBEAM_OK, "%s",
          last());
    CHECK_LIMIT(runbeam_validator_config_set_ca_bundle_pem(vc, "-----", SIZE_MAX), "RUNBEAM_MAX_PEM_BYTES");
    CHECK_LIMIT(runbeam_validator_config_set_ca_bundle_pem(vc, "-----", RUNBEAM_MAX_PEM_BYTES + 1),
                "RUNBEAM_MAX_PEM_BYTES");
    runbeam_validator_config_free(vc);

    runbeam_resolver_config *ro = NULL;
    CHECK(runbeam_resolver_config_new(&ro) == RUNBEAM_OK, "%s", last());
    CHECK_LIMIT(runbeam_resolver_config_set_mesh_token_capacity(ro, SIZE_MAX), "RUNBEAM_MAX_CACHE_ENTRIES");
    CHECK(runbeam_resolver_config_set_mesh_token_capacity(ro, RUNBEAM_MAX_CACHE_ENTRIES) == RUNBEAM_OK,
          "%s", last());
    runbeam_resolver_config_free(ro);

    runbeam_client_config *cc = NULL;
    runbeam_client *client = NULL;
    CHECK(runbeam_client_config_new(silent_url, &cc) == RUNBEAM_OK, "%s", last());
    CHECK_LIMIT(runbeam_client_config_set_max_body_bytes(cc, SIZE_MAX), "RUNBEAM_MAX_BODY_BYTES");
    CHECK(runbeam_client_config_set_max_body_bytes(cc, RUNBEAM_MAX_BODY_BYTES) == RUNBEAM_OK, "%s", last());
    runbeam_client_config_set_token(cc, "1|token");
    CHECK(runbeam_client_new(cc, &client) == RUNBEAM_OK, "%s", last());
    runbeam_client_config_free(cc);
    const char *ids[1] = {"1"};
    char *json = NULL;
    CHECK_LIMIT(runbeam_client_acknowledge_changes(client, ids, SIZE_MAX, &json), "RUNBEAM_MAX_CHANGE_IDS");
    CHECK_LIMIT(runbeam_client_acknowledge_changes(client, ids, RUNBEAM_MAX_CHANGE_IDS + 1, &json),
                "RUNBEAM_MAX_CHANGE_IDS");
    CHECK(json == NULL, "out untouched");
    runbeam_client_free(client);
}

int main(void) {
    if (silent_start() != 0) {
        perror("silent server");
        return 2;
    }
    test_limits();
    test_validator_free_waits();
    test_shared_client_free_waits();
    close(silent_fd);
    return check_summary();
}
