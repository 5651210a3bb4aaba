/*
 * The panic boundary of the C ABI, against a runbeam-devcloud subprocess: a panic forced
 * inside librunbeam (test-only fault injection, `runbeam_fault_arm`, compiled in with the
 * `fault-injection` feature of workspace builds and absent from runbeam.h) at each site —
 * "reference", "jwt", "jwks", "resolve", "storage" — through the blocking, cached and callback
 * forms gives RUNBEAM_STATUS_INTERNAL whose runbeam_last_error_message() (or callback message)
 * names the panic, leaves the handle usable, and prints NOTHING on stderr, even with
 * RUST_BACKTRACE=1 (fd 2 is redirected to a temporary file around the calls and checked empty).
 *
 * Usage: test_panic <path-to-runbeam-devcloud>
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "devcloud.h"
#include "runbeam.h"
#include "waiter.h"

/* Test-only export (feature `fault-injection`): the next `count` calls passing `site` panic. */
runbeam_status runbeam_fault_arm(const char *site, uint32_t count);

#define ALICE "alice@radiology.example.com"
#define BOB "2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f"
#define BOB_GW "analytics-gw-1"
#define DICOMWEB "runbeam.radiology-dept.ingress.name.dicomweb"
#define TOKEN_CAP 8192

static const char *last(void) { return runbeam_last_error_message(); }
static bool has(const char *text, const char *part) {
    return text != NULL && strstr(text, part) != NULL;
}

/* ------------------------------------------------------------------ stderr capture */

static FILE *captured;  /* where fd 2 points between quiet_begin and quiet_end */
static int saved_stderr = -1;

static void quiet_begin(void) {
    fflush(stderr);
    saved_stderr = dup(2);
    dup2(fileno(captured), 2);
}

/* Restores fd 2 and checks that nothing was written to it since quiet_begin (a failed CHECK
 * in between also lands there: it is printed then). */
static void quiet_end(const char *what) {
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    fseek(captured, 0, SEEK_END);
    long size = ftell(captured);
    CHECK(size == 0, "%s: %ld bytes written to stderr", what, size);
    if (size > 0) {
        char buf[4096];
        rewind(captured);
        size_t n = fread(buf, 1, sizeof buf - 1, captured);
        buf[n] = '\0';
        fprintf(stderr, "---- captured stderr (%s) ----\n%s\n----\n", what, buf);
    }
    if (ftruncate(fileno(captured), 0) != 0) perror("ftruncate");
    rewind(captured);
}

/* Checks `status` is INTERNAL and `message` names the injected panic at `site`. */
#define CHECK_PANIC(status, message, site)                                                   \
    do {                                                                                     \
        CHECK((status) == RUNBEAM_STATUS_INTERNAL, "%s: status %d", site, (int)(status));    \
        CHECK(has((message), "fault injected at '" site "'"), "%s: message '%s'", site,       \
              (message) ? (message) : "(null)");                                             \
    } while (0)

/* ------------------------------------------------------------------ callback waiters */

struct waiter {
    struct waiter_sync sync;
    runbeam_status status;
    char message[512];
};

static void waiter_init(struct waiter *w) {
    memset(w, 0, sizeof *w);
    waiter_sync_init(&w->sync);
}

static void record(struct waiter *w, runbeam_status status, const char *message) {
    waiter_sync_lock(&w->sync);
    w->status = status;
    snprintf(w->message, sizeof w->message, "%s", message ? message : "");
    waiter_sync_signal(&w->sync);
}

static void on_claims(void *user_data, runbeam_status status, runbeam_claims *claims,
                      const char *message) {
    runbeam_claims_free(claims);
    record(user_data, status, message);
}

static void on_resolution(void *user_data, runbeam_status status, runbeam_resolution *res,
                          const char *message) {
    runbeam_resolution_free(res);
    record(user_data, status, message);
}

static void on_token(void *user_data, runbeam_status status, runbeam_machine_token *token,
                     const char *message) {
    runbeam_machine_token_free(token);
    record(user_data, status, message);
}

/* ------------------------------------------------------------------ fixtures */

static char issuer[300];

static int mint(char *out, size_t len) {
    char response[TOKEN_CAP + 1024];
    int status = dev_request("POST", "/_dev/jwt", "{\"email\":\"" ALICE "\"}", response,
                             sizeof response);
    out[0] = '\0';
    if (status != 200) return 0;
    json_string(strstr(response, "\r\n\r\n"), "token", out, len);
    return strchr(out, '.') != NULL;
}

/* A validator of the devcloud's tokens; `min_refresh_ms` 0 keeps the default interval. */
static runbeam_validator *validator_with(uint64_t min_refresh_ms) {
    runbeam_validator_config *cfg = NULL;
    runbeam_validator *v = NULL;
    if (runbeam_validator_config_new(&cfg) != RUNBEAM_OK) return NULL;
    runbeam_validator_config_add_trusted_issuer(cfg, issuer);
    runbeam_validator_config_set_deadline_ms(cfg, 10000);
    if (min_refresh_ms > 0) runbeam_validator_config_set_min_refresh_interval_ms(cfg, min_refresh_ms);
    if (runbeam_validator_new(cfg, &v) != RUNBEAM_OK) fprintf(stderr, "validator: %s\n", last());
    runbeam_validator_config_free(cfg);
    return v;
}

static runbeam_validator *new_validator(void) { return validator_with(0); }

static runbeam_token_manager *new_manager(runbeam_token_store *store) {
    runbeam_token_manager_config *mc = NULL;
    runbeam_token_manager *m = NULL;
    runbeam_token_manager_config_new(BOB_GW, &mc);
    runbeam_token_manager_config_set_api_url(mc, api_url);
    runbeam_token_manager_config_set_credential_token(mc, BOB);
    if (runbeam_token_manager_new(mc, store, &m) != RUNBEAM_OK) fprintf(stderr, "manager: %s\n", last());
    runbeam_token_manager_config_free(mc);
    return m;
}

/* ------------------------------------------------------------------ tests */

static void test_reference(void) {
    runbeam_reference *ref = NULL;
    quiet_begin();
    CHECK(runbeam_fault_arm("reference", 1) == RUNBEAM_OK, "arm");
    runbeam_status s = runbeam_reference_parse(DICOMWEB, &ref);
    CHECK_PANIC(s, last(), "reference");
    CHECK(has(last(), "runbeam_reference_parse"), "names the function: %s", last());
    CHECK(ref == NULL, "out untouched");
    CHECK(runbeam_last_error_status() == RUNBEAM_STATUS_INTERNAL, "last status");
    CHECK(runbeam_reference_parse(DICOMWEB, &ref) == RUNBEAM_OK, "works afterwards: %s", last());
    runbeam_reference_free(ref);
    quiet_end("reference");
}

static void test_jwt_and_jwks(void) {
    static char token[TOKEN_CAP];
    CHECK(mint(token, sizeof token), "minted");
    size_t len = strlen(token);
    runbeam_validator *v = new_validator();
    CHECK(v != NULL, "validator");
    if (v == NULL) return;
    runbeam_claims *claims = NULL;
    CHECK(runbeam_validator_validate(v, token, len, &claims) == RUNBEAM_OK, "%s", last());
    runbeam_claims_free(claims);
    claims = NULL;

    quiet_begin();
    /* Blocking form. */
    runbeam_fault_arm("jwt", 1);
    runbeam_status s = runbeam_validator_validate(v, token, len, &claims);
    CHECK_PANIC(s, last(), "jwt");
    CHECK(claims == NULL, "out untouched");
    CHECK(runbeam_validator_validate(v, token, len, &claims) == RUNBEAM_OK, "after: %s", last());
    runbeam_claims_free(claims);
    claims = NULL;

    /* Cached form. */
    runbeam_fault_arm("jwt", 1);
    s = runbeam_validator_validate_cached(v, token, len, &claims);
    CHECK_PANIC(s, last(), "jwt");
    CHECK(runbeam_validator_validate_cached(v, token, len, &claims) == RUNBEAM_OK, "after: %s", last());
    runbeam_claims_free(claims);
    claims = NULL;

    /* Callback form: the token's size is checked on the calling thread, so the panic refuses
     * the call (INTERNAL, no callback); the next call is answered normally. */
    struct waiter w;
    waiter_init(&w);
    runbeam_fault_arm("jwt", 1);
    s = runbeam_validator_validate_async(v, token, len, on_claims, &w, NULL);
    CHECK_PANIC(s, last(), "jwt");
    CHECK(runbeam_validator_validate_async(v, token, len, on_claims, &w, NULL) == RUNBEAM_OK, "%s", last());
    CHECK(waiter_sync_wait(&w.sync, 1, 30) == 1, "answered");
    CHECK(w.status == RUNBEAM_OK, "%d %s", w.status, w.message);
    sleep_ms(50);
    CHECK(waiter_sync_count(&w.sync) == 1, "the refused call never called back");
    waiter_sync_destroy(&w.sync);

    /* A panic inside the task (the JWKS fetch of a fresh validator) reaches the callback. */
    runbeam_validator *fresh = new_validator();
    waiter_init(&w);
    runbeam_fault_arm("jwks", 1);
    CHECK(runbeam_validator_validate_async(fresh, token, len, on_claims, &w, NULL) == RUNBEAM_OK, "%s", last());
    CHECK(waiter_sync_wait(&w.sync, 1, 30) == 1, "called back");
    CHECK_PANIC(w.status, w.message, "jwks");
    waiter_sync_destroy(&w.sync);
    runbeam_validator_free(fresh);

    /* jwks: the key refresh of another fresh validator (blocking). */
    fresh = new_validator();
    runbeam_fault_arm("jwks", 1);
    s = runbeam_validator_refresh_keys(fresh);
    CHECK_PANIC(s, last(), "jwks");
    quiet_end("jwt");
    runbeam_validator_free(fresh);
    runbeam_validator_free(v);
}

static void test_jwks_recovers(void) {
    static char token[TOKEN_CAP];
    CHECK(mint(token, sizeof token), "minted");
    runbeam_validator *v = validator_with(100);
    if (v == NULL) return;
    quiet_begin();
    runbeam_fault_arm("jwks", 1);
    runbeam_claims *claims = NULL;
    runbeam_status s = runbeam_validator_validate(v, token, strlen(token), &claims);
    CHECK_PANIC(s, last(), "jwks");
    quiet_end("jwks");
    /* The same validator fetches its keys on a later call, once its minimum refresh
     * interval (100 ms here) has passed since the failed attempt. */
    bool ok = false;
    for (int i = 0; i < 40 && !ok; i++) {
        ok = runbeam_validator_validate(v, token, strlen(token), &claims) == RUNBEAM_OK;
        runbeam_claims_free(claims);
        claims = NULL;
        if (!ok) sleep_ms(250);
    }
    CHECK(ok, "the validator works after the panic: %s", last());
    runbeam_validator_free(v);
}

static void test_resolve(runbeam_client *client) {
    runbeam_token_store *store = NULL;
    runbeam_token_store_memory_new(&store);
    runbeam_token_manager *m = new_manager(store);
    runbeam_token_store_free(store);
    const char *toml =
        "[proxy]\nid = \"" BOB_GW "\"\n\n"
        "[provider.runbeam]\napi = \"https://api.runbeam.io\"\n\n"
        "[pipelines.research.mesh.egress.imaging-out]\n"
        "type = \"http3\"\nbackend = \"dicom-archive\"\nmode = \"mesh\"\n\n"
        "[mesh.imaging-integration]\ntype = \"http3\"\nprovider = \"runbeam\"\n"
        "egress = [\"imaging-out\", \"" DICOMWEB "\"]\n";
    runbeam_mesh_config *file = NULL, *cfg = NULL;
    CHECK(runbeam_mesh_config_from_toml(toml, &file) == RUNBEAM_OK, "%s", last());
    runbeam_mesh_config_with_provider_api(file, "runbeam", api_url, &cfg);
    runbeam_resolver *r = NULL;
    CHECK(runbeam_resolver_new(cfg, client, m, NULL, &r) == RUNBEAM_OK, "%s", last());
    runbeam_mesh_config_free(file);
    runbeam_mesh_config_free(cfg);
    runbeam_token_manager_free(m);
    if (r == NULL) return;

    runbeam_resolution *res = NULL;
    CHECK(runbeam_resolver_resolve(r, DICOMWEB, &res) == RUNBEAM_OK, "warm: %s", last());
    runbeam_resolution_free(res);
    res = NULL;

    quiet_begin();
    runbeam_fault_arm("resolve", 1);
    runbeam_status s = runbeam_resolver_resolve_cached(r, DICOMWEB, &res);
    CHECK_PANIC(s, last(), "resolve");
    CHECK(res == NULL, "out untouched");

    runbeam_fault_arm("resolve", 1);
    s = runbeam_resolver_resolve(r, DICOMWEB, &res);
    CHECK_PANIC(s, last(), "resolve");

    struct waiter w;
    waiter_init(&w);
    runbeam_fault_arm("resolve", 1);
    CHECK(runbeam_resolver_resolve_async(r, DICOMWEB, on_resolution, &w, NULL) == RUNBEAM_OK, "%s", last());
    CHECK(waiter_sync_wait(&w.sync, 1, 30) == 1, "called back");
    CHECK_PANIC(w.status, w.message, "resolve");
    waiter_sync_destroy(&w.sync);

    /* The same resolver answers afterwards, in every form. */
    CHECK(runbeam_resolver_resolve_cached(r, DICOMWEB, &res) == RUNBEAM_OK && res != NULL, "%s", last());
    runbeam_resolution_free(res);
    res = NULL;
    CHECK(runbeam_resolver_resolve(r, DICOMWEB, &res) == RUNBEAM_OK, "%s", last());
    runbeam_resolution_free(res);
    waiter_init(&w);
    CHECK(runbeam_resolver_resolve_async(r, DICOMWEB, on_resolution, &w, NULL) == RUNBEAM_OK, "%s", last());
    CHECK(waiter_sync_wait(&w.sync, 1, 30) == 1 && w.status == RUNBEAM_OK, "%d %s", w.status, w.message);
    waiter_sync_destroy(&w.sync);
    quiet_end("resolve");
    runbeam_resolver_free(r);
}

static void test_storage(void) {
    runbeam_token_store *store = NULL;
    CHECK(runbeam_token_store_memory_new(&store) == RUNBEAM_OK, "%s", last());
    runbeam_token_manager *m = new_manager(store);
    runbeam_machine_token *token = NULL;

    quiet_begin();
    runbeam_fault_arm("storage", 1);
    runbeam_status s = runbeam_token_store_load_machine_token(store, BOB_GW, &token);
    CHECK_PANIC(s, last(), "storage");
    CHECK(runbeam_token_store_load_machine_token(store, BOB_GW, &token) == RUNBEAM_OK, "%s", last());
    CHECK(token == NULL, "nothing stored yet");

    /* The manager loads on its runtime's blocking pool. */
    runbeam_fault_arm("storage", 1);
    s = runbeam_token_manager_ensure_token(m, &token);
    CHECK_PANIC(s, last(), "storage");
    CHECK(token == NULL, "out untouched");

    struct waiter w;
    waiter_init(&w);
    runbeam_fault_arm("storage", 1);
    CHECK(runbeam_token_manager_ensure_token_async(m, on_token, &w, NULL) == RUNBEAM_OK, "%s", last());
    CHECK(waiter_sync_wait(&w.sync, 1, 30) == 1, "called back");
    CHECK_PANIC(w.status, w.message, "storage");
    waiter_sync_destroy(&w.sync);

    /* The store's own _async form: the panic on its blocking thread reaches the callback. */
    waiter_init(&w);
    runbeam_fault_arm("storage", 1);
    CHECK(runbeam_token_store_load_machine_token_async(store, BOB_GW, on_token, &w, NULL) == RUNBEAM_OK, "%s",
          last());
    CHECK(waiter_sync_wait(&w.sync, 1, 30) == 1, "called back");
    CHECK_PANIC(w.status, w.message, "storage");
    waiter_sync_destroy(&w.sync);

    CHECK(runbeam_token_manager_ensure_token(m, &token) == RUNBEAM_OK && token != NULL, "after: %s", last());
    runbeam_machine_token_free(token);
    quiet_end("storage");
    runbeam_token_manager_free(m);
    runbeam_token_store_free(store);
}

static void test_fault_arm_arguments(void) {
    CHECK(runbeam_fault_arm(NULL, 1) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL site");
    CHECK(runbeam_fault_arm("reference", 0) == RUNBEAM_OK, "disarm");
    runbeam_reference *ref = NULL;
    CHECK(runbeam_reference_parse(DICOMWEB, &ref) == RUNBEAM_OK, "disarmed: %s", last());
    runbeam_reference_free(ref);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s <path-to-runbeam-devcloud>\n", argv[0]);
        return 2;
    }
    /* Before the first librunbeam call: a backtrace would be printed if the hook let it. */
    setenv("RUST_BACKTRACE", "1", 1);
    unsetenv("RUNBEAM_MACHINE_TOKEN");
    signal(SIGPIPE, SIG_IGN);
    captured = tmpfile();
    if (captured == NULL) {
        perror("tmpfile");
        return 2;
    }
    if (devcloud_start(argv[1]) != 0) {
        fprintf(stderr, "cannot start %s\n", argv[1]);
        devcloud_stop();
        return 2;
    }
    snprintf(issuer, sizeof issuer, "%s/api", api_url);
    runbeam_client_config *cc = NULL;
    runbeam_client *client = NULL;
    if (runbeam_client_config_new(api_url, &cc) != RUNBEAM_OK || runbeam_client_new(cc, &client) != RUNBEAM_OK) {
        fprintf(stderr, "client: %s\n", last());
        devcloud_stop();
        return 2;
    }
    runbeam_client_config_free(cc);

    test_reference();
    test_jwt_and_jwks();
    test_jwks_recovers();
    test_resolve(client);
    test_storage();
    test_fault_arm_arguments();

    runbeam_client_free(client);
    devcloud_stop();
    fclose(captured);
    return check_summary();
}
