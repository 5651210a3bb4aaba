/*
 * Host logging through the C ABI (runbeam_set_log_callback) against a runbeam-devcloud
 * subprocess over real HTTP: the records a host relies on (the token store chosen, a stale
 * answer served, a machine-token renewal that failed, a JWKS refresh that failed) arrive with
 * their level, target, message and fields; no record of a whole flow carries the machine
 * token, the user JWT, a mesh token or a credential; the callback is never re-entered nor
 * called twice at once; a callback may call librunbeam (blocking calls and
 * runbeam_set_log_callback included) without a deadlock; levels filter; off stops delivery and
 * waits for a delivery running on another thread; invalid levels are refused.
 *
 * Usage: test_logging <path-to-runbeam-devcloud>
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "devcloud.h"
#include "runbeam.h"
#include "gateway_main.h"

#define BOB "2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f"
#define BOB_GW "analytics-gw-1"
#define ALICE "alice@radiology.example.com"
#define ALICE_SANCTUM "1|rad-dev-7f3c9a2e5b14d6a8c0e1f2a3b4c5d6e7"
#define DICOMWEB "runbeam.radiology-dept.ingress.name.dicomweb"
#define DICOM_URL "https://dicom.radiology.example.com"
#define MESH "imaging-integration"
#define TOKEN_CAP 8192

static const char *or_null(const char *s) { return s ? s : "(null)"; }
static const char *last(void) { return runbeam_last_error_message(); }

/* ------------------------------------------------------------------ the captured records */

struct record {
    int level;
    char *level_name;
    char *target;
    char *message;
    char *fields_json;
};

#define MAX_RECORDS 8192

static struct {
    pthread_mutex_t mu;
    struct record items[MAX_RECORDS];
    int count;
    int inside;      /* callbacks running now */
    int overlaps;    /* a callback entered while another ran */
    int bad_records; /* a NULL pointer or an unknown level */
} captured = {.mu = PTHREAD_MUTEX_INITIALIZER};

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static void clear_records(void) {
    pthread_mutex_lock(&captured.mu);
    for (int i = 0; i < captured.count; i++) {
        free(captured.items[i].level_name);
        free(captured.items[i].target);
        free(captured.items[i].message);
        free(captured.items[i].fields_json);
    }
    captured.count = 0;
    pthread_mutex_unlock(&captured.mu);
}

static int record_count(void) {
    pthread_mutex_lock(&captured.mu);
    int n = captured.count;
    pthread_mutex_unlock(&captured.mu);
    return n;
}

/* Copies the record; counts overlapping calls (the ABI promises there are none). */
static void keep(const runbeam_log_record *r) {
    pthread_mutex_lock(&captured.mu);
    if (captured.inside > 0) captured.overlaps++;
    captured.inside++;
    if (r == NULL || r->level_name == NULL || r->target == NULL || r->message == NULL ||
        r->fields_json == NULL || r->level < RUNBEAM_LOG_ERROR || r->level > RUNBEAM_LOG_TRACE) {
        captured.bad_records++;
    } else if (captured.count < MAX_RECORDS) {
        struct record *k = &captured.items[captured.count++];
        k->level = r->level;
        k->level_name = dup_or_null(r->level_name);
        k->target = dup_or_null(r->target);
        k->message = dup_or_null(r->message);
        k->fields_json = dup_or_null(r->fields_json);
    }
    pthread_mutex_unlock(&captured.mu);
}

static void left(void) {
    pthread_mutex_lock(&captured.mu);
    captured.inside--;
    pthread_mutex_unlock(&captured.mu);
}

static void capture(void *user_data, const runbeam_log_record *record) {
    (void)user_data;
    keep(record);
    left();
}

/* The first record at `level` whose message contains `part`; NULL if none (a copy of its
 * fields into `fields`, its target into `target`). */
static bool find(int level, const char *part, char *fields, size_t len, char *target,
                 size_t target_len) {
    bool found = false;
    pthread_mutex_lock(&captured.mu);
    for (int i = 0; i < captured.count && !found; i++) {
        const struct record *k = &captured.items[i];
        if (k->level == level && strstr(k->message, part) != NULL) {
            found = true;
            if (fields) snprintf(fields, len, "%s", k->fields_json);
            if (target) snprintf(target, target_len, "%s", k->target);
        }
    }
    pthread_mutex_unlock(&captured.mu);
    if (!found) {
        fprintf(stderr, "  no level-%d record with '%s' among %d:\n", level, part, record_count());
        pthread_mutex_lock(&captured.mu);
        for (int i = 0; i < captured.count; i++)
            fprintf(stderr, "    %s %s %s %s\n", captured.items[i].level_name,
                    captured.items[i].target, captured.items[i].message,
                    captured.items[i].fields_json);
        pthread_mutex_unlock(&captured.mu);
    }
    return found;
}

/* ---------------------------------------------------------------------------- helpers */

static runbeam_client *client;

static runbeam_mesh_config *analytics_config(unsigned ttl) {
    char toml[1024];
    snprintf(toml, sizeof toml,
             "[proxy]\nid = \"" BOB_GW "\"\n\n"
             "[provider.runbeam]\napi = \"https://api.runbeam.io\"\ncache_ttl_secs = %u\n\n"
             "[mesh.imaging-integration]\ntype = \"http3\"\nprovider = \"runbeam\"\n"
             "egress = [\"" DICOMWEB "\"]\n",
             ttl);
    runbeam_mesh_config *file = NULL, *dev = NULL;
    if (runbeam_mesh_config_from_toml(toml, &file) != RUNBEAM_OK) return NULL;
    runbeam_mesh_config_with_provider_api(file, "runbeam", api_url, &dev);
    runbeam_mesh_config_free(file);
    return dev;
}

/* A token manager on a memory store; `window_ms` 0 for the default window. */
static runbeam_token_manager *new_manager(const char *instance, const char *credential,
                                          uint64_t window_ms) {
    runbeam_token_store *store = NULL;
    runbeam_token_manager_config *mc = NULL;
    runbeam_token_manager *m = NULL;
    runbeam_token_store_memory_new(&store);
    runbeam_token_manager_config_new(instance, &mc);
    runbeam_token_manager_config_set_api_url(mc, api_url);
    if (credential != NULL) runbeam_token_manager_config_set_credential_token(mc, credential);
    if (window_ms > 0) runbeam_token_manager_config_set_renewal_window_ms(mc, window_ms);
    CHECK(runbeam_token_manager_new(mc, store, &m) == RUNBEAM_OK, "manager: %s", last());
    runbeam_token_manager_config_free(mc);
    runbeam_token_store_free(store);
    return m;
}

static runbeam_resolver *new_resolver(unsigned ttl) {
    runbeam_mesh_config *config = analytics_config(ttl);
    runbeam_token_manager *m = new_manager(BOB_GW, BOB, 0);
    runbeam_resolver_config *opts = NULL;
    runbeam_resolver_config_new(&opts);
    runbeam_resolver_config_set_max_stale_ms(opts, 600000);
    runbeam_resolver *r = NULL;
    CHECK(runbeam_resolver_new(config, client, m, opts, &r) == RUNBEAM_OK, "resolver: %s", last());
    runbeam_resolver_config_free(opts);
    runbeam_token_manager_free(m);
    runbeam_mesh_config_free(config);
    return r;
}

static runbeam_validator *new_validator(void) {
    char issuer[300];
    snprintf(issuer, sizeof issuer, "%s/api", api_url);
    runbeam_validator_config *cfg = NULL;
    runbeam_validator *v = NULL;
    runbeam_validator_config_new(&cfg);
    runbeam_validator_config_add_trusted_issuer(cfg, issuer);
    CHECK(runbeam_validator_new(cfg, &v) == RUNBEAM_OK, "validator: %s", last());
    runbeam_validator_config_free(cfg);
    return v;
}

/* POST /_dev/jwt for ALICE; the token into `out`. */
static bool mint(char *out, size_t len) {
    char response[TOKEN_CAP + 1024];
    int status = dev_request("POST", "/_dev/jwt", "{\"email\":\"" ALICE "\"}", response,
                             sizeof response);
    out[0] = '\0';
    if (status != 200) return false;
    json_string(strstr(response, "\r\n\r\n"), "token", out, len);
    return strchr(out, '.') != NULL;
}

/* Opens the file token store (logs the backend chosen, INFO) and closes it. */
static runbeam_status open_file_store(void) {
    runbeam_token_store *store = NULL;
    runbeam_status s = runbeam_token_store_open("file", &store);
    runbeam_token_store_free(store);
    return s;
}

/* ------------------------------------------------------------------------------ tests */

static void test_invalid_levels(void) {
    CHECK(runbeam_set_log_callback(6, capture, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "level 6: %s", runbeam_status_str(runbeam_last_error_status()));
    CHECK(strstr(last(), "level") != NULL, "the message names the argument: %s", last());
    CHECK(runbeam_set_log_callback(-1, capture, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "level -1");
    CHECK(runbeam_set_log_callback(1000, NULL, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "level 1000 with NULL");
    /* Nothing was installed by the refused calls. */
    CHECK(open_file_store() == RUNBEAM_OK, "%s", last());
    CHECK(record_count() == 0, "%d records while off", record_count());
    /* Off, twice, is fine; so is a NULL callback with a level. */
    CHECK(runbeam_set_log_callback(RUNBEAM_LOG_OFF, NULL, NULL) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_set_log_callback(RUNBEAM_LOG_INFO, NULL, NULL) == RUNBEAM_OK, "%s", last());
    CHECK(open_file_store() == RUNBEAM_OK && record_count() == 0, "a NULL callback is off");
}

static void test_levels_and_backend_selection(void) {
    clear_records();
    CHECK(runbeam_set_log_callback(RUNBEAM_LOG_WARN, capture, NULL) == RUNBEAM_OK, "%s", last());
    CHECK(open_file_store() == RUNBEAM_OK, "%s", last());
    CHECK(record_count() == 0, "an INFO record at WARN: %d", record_count());

    CHECK(runbeam_set_log_callback(RUNBEAM_LOG_INFO, capture, NULL) == RUNBEAM_OK, "%s", last());
    CHECK(open_file_store() == RUNBEAM_OK, "%s", last());
    char fields[512], target[256];
    CHECK(find(RUNBEAM_LOG_INFO, "token store selected", fields, sizeof fields, target,
               sizeof target),
          "backend selection");
    CHECK(strstr(fields, "\"backend\":\"file\"") != NULL, "fields %s", fields);
    CHECK(strncmp(target, "runbeam", 7) == 0, "target %s", target);
    pthread_mutex_lock(&captured.mu);
    bool names = captured.count > 0 && strcmp(captured.items[0].level_name, "info") == 0;
    pthread_mutex_unlock(&captured.mu);
    CHECK(names, "level name");

    /* Off: nothing more arrives. */
    CHECK(runbeam_set_log_callback(RUNBEAM_LOG_OFF, NULL, NULL) == RUNBEAM_OK, "%s", last());
    int before = record_count();
    CHECK(open_file_store() == RUNBEAM_OK, "%s", last());
    CHECK(record_count() == before, "off: %d then %d", before, record_count());
}

static void test_records_of_a_flow(void) {
    clear_records();
    CHECK(runbeam_set_log_callback(RUNBEAM_LOG_TRACE, capture, NULL) == RUNBEAM_OK, "%s", last());

    /* A whole flow: authorize, resolve, a mesh token, a user JWT validated. */
    runbeam_resolver *r = new_resolver(1);
    runbeam_resolution *res = NULL;
    CHECK(runbeam_resolver_resolve(r, DICOMWEB, &res) == RUNBEAM_OK, "resolve: %s", last());
    runbeam_resolution_free(res);
    runbeam_issued_mesh_token *mt = NULL;
    CHECK(runbeam_resolver_mesh_token(r, MESH, DICOM_URL "/studies", &mt) == RUNBEAM_OK,
          "mesh token: %s", last());
    char mesh_token[TOKEN_CAP];
    snprintf(mesh_token, sizeof mesh_token, "%s", or_null(runbeam_issued_mesh_token_secret(mt)));
    runbeam_issued_mesh_token_free(mt);
    char user_jwt[TOKEN_CAP];
    CHECK(mint(user_jwt, sizeof user_jwt), "mint");
    runbeam_validator *users = new_validator();
    runbeam_claims *claims = NULL;
    CHECK(runbeam_validator_validate(users, user_jwt, strlen(user_jwt), &claims) == RUNBEAM_OK,
          "validate: %s", last());
    runbeam_claims_free(claims);

    /* A stale answer: the provider fails after the TTL. */
    CHECK(dev_post("/_dev/faults", "{\"path\":\"/api/harmony/resources/resolve\",\"status\":503,"
                                   "\"count\":10}") == 201,
          "fault");
    sleep_ms(1100);
    res = NULL;
    CHECK(runbeam_resolver_resolve(r, DICOMWEB, &res) == RUNBEAM_OK &&
              runbeam_resolution_is_stale(res),
          "stale: %s", last());
    runbeam_resolution_free(res);
    char fields[1024];
    CHECK(find(RUNBEAM_LOG_WARN, "stale", fields, sizeof fields, NULL, 0), "stale record");
    CHECK(strstr(fields, "\"reference\":\"dicomweb\"") != NULL, "reference in %s", fields);
    CHECK(strstr(fields, "\"error\":") != NULL && strstr(fields, "503") != NULL, "error in %s",
          fields);
    dev_delete("/_dev/faults");

    /* A renewal that fails while the current token stays valid. */
    CHECK(dev_post("/_dev/machine-token-lifetime", "{\"secs\":30}") == 200, "lifetime 30 s");
    runbeam_token_manager *m = new_manager("radiology-gw-1", ALICE_SANCTUM, 3600 * 1000);
    runbeam_machine_token *first = NULL, *again = NULL;
    CHECK(runbeam_token_manager_ensure_token(m, &first) == RUNBEAM_OK, "ensure: %s", last());
    char machine[512];
    snprintf(machine, sizeof machine, "%s", or_null(runbeam_machine_token_secret(first)));
    CHECK(dev_post("/_dev/faults",
                   "{\"path\":\"/api/harmony/authorize\",\"status\":503,\"count\":5}") == 201,
          "fault");
    CHECK(runbeam_token_manager_ensure_token(m, &again) == RUNBEAM_OK, "ensure: %s", last());
    CHECK(strcmp(machine, or_null(runbeam_machine_token_secret(again))) == 0,
          "the current token stays in use");
    runbeam_machine_token_free(first);
    runbeam_machine_token_free(again);
    CHECK(find(RUNBEAM_LOG_WARN, "renewal failed", fields, sizeof fields, NULL, 0),
          "renewal record");
    CHECK(strstr(fields, "\"error\":") != NULL, "error in %s", fields);
    dev_delete("/_dev/faults");
    CHECK(dev_post("/_dev/machine-token-lifetime", "{\"secs\":2592000}") == 200, "lifetime 30 d");
    runbeam_token_manager_free(m);

    /* A JWKS refresh that fails: a validator without keys yet. */
    runbeam_validator *fresh = new_validator();
    CHECK(dev_post("/_dev/faults",
                   "{\"path\":\"/api/.well-known/jwks.json\",\"status\":503,\"count\":10}") == 201,
          "fault");
    claims = NULL;
    CHECK(runbeam_validator_validate(fresh, user_jwt, strlen(user_jwt), &claims) ==
              RUNBEAM_STATUS_SERVER_ERROR,
          "%s", runbeam_status_str(runbeam_last_error_status()));
    CHECK(find(RUNBEAM_LOG_WARN, "jwks refresh failed", fields, sizeof fields, NULL, 0),
          "jwks record");
    CHECK(strstr(fields, "/.well-known/jwks.json\"") != NULL, "url in %s", fields);
    dev_delete("/_dev/faults");
    runbeam_validator_free(fresh);

    /* No record carries a secret; none overlapped; every record was well-formed. */
    const char *secrets[] = {machine, mesh_token, user_jwt, BOB, ALICE_SANCTUM};
    pthread_mutex_lock(&captured.mu);
    int leaks = 0;
    for (int i = 0; i < captured.count; i++) {
        const struct record *k = &captured.items[i];
        for (size_t j = 0; j < sizeof secrets / sizeof secrets[0]; j++) {
            if (strlen(secrets[j]) < 8) continue;
            if (strstr(k->message, secrets[j]) || strstr(k->fields_json, secrets[j]) ||
                strstr(k->target, secrets[j])) {
                leaks++;
                fprintf(stderr, "  secret %zu in: %s %s\n", j, k->message, k->fields_json);
            }
        }
    }
    int count = captured.count, overlaps = captured.overlaps, bad = captured.bad_records;
    pthread_mutex_unlock(&captured.mu);
    CHECK(strlen(machine) > 8 && strlen(mesh_token) > 40, "the secrets were read");
    CHECK(count >= 5, "%d records", count);
    CHECK(leaks == 0, "%d records carry a secret", leaks);
    CHECK(overlaps == 0, "the callback ran twice at once %d times", overlaps);
    CHECK(bad == 0, "%d malformed records", bad);

    CHECK(runbeam_set_log_callback(RUNBEAM_LOG_OFF, NULL, NULL) == RUNBEAM_OK, "%s", last());
    runbeam_validator_free(users);
    runbeam_resolver_free(r);
}

/* A callback that calls librunbeam: cached and blocking calls, a call that logs itself, and
 * finally turning logging off from inside. The blocking call and the switch happen only in
 * calls on the main thread (records of runtime threads may be delivered in between). */
struct reentrant {
    pthread_mutex_t mu;
    pthread_t main;
    runbeam_resolver *resolver;
    int calls;
    bool blocking_done;
    runbeam_status blocking;
    runbeam_status off;
    bool turned_off;
    int after_off;
};

static void calls_librunbeam(void *user_data, const runbeam_log_record *record) {
    struct reentrant *c = user_data;
    keep(record);
    pthread_mutex_lock(&c->mu);
    if (c->turned_off) c->after_off++;
    c->calls++;
    pthread_mutex_unlock(&c->mu);
    runbeam_resolver_stats st;
    (void)runbeam_resolver_stats_get(c->resolver, &st);
    (void)runbeam_status_str(RUNBEAM_STATUS_NOT_FOUND);
    runbeam_resolution *res = NULL;
    (void)runbeam_resolver_resolve_cached(c->resolver, DICOMWEB, &res);
    runbeam_resolution_free(res);
    if (pthread_equal(pthread_self(), c->main) &&
        strstr(record->message, "token store selected") != NULL) {
        /* Logs itself (its record is not delivered: no re-entrance). */
        (void)open_file_store();
        if (!c->blocking_done) {
            /* A blocking call that needs the network while this thread delivers: the
             * runtime's threads log meanwhile and must not wait for this callback. */
            runbeam_resolver_invalidate_all(c->resolver);
            runbeam_resolution *fresh = NULL;
            c->blocking = runbeam_resolver_resolve(c->resolver, DICOMWEB, &fresh);
            runbeam_resolution_free(fresh);
            c->blocking_done = true;
        } else if (!c->turned_off) {
            runbeam_status off = runbeam_set_log_callback(RUNBEAM_LOG_OFF, NULL, NULL);
            pthread_mutex_lock(&c->mu);
            c->off = off;
            c->turned_off = true;
            pthread_mutex_unlock(&c->mu);
        }
    }
    left();
}

static void test_a_callback_that_calls_librunbeam(void) {
    clear_records();
    struct reentrant c;
    memset(&c, 0, sizeof c);
    pthread_mutex_init(&c.mu, NULL);
    c.main = pthread_self();
    c.resolver = new_resolver(300);
    c.blocking = -1;
    c.off = -1;
    CHECK(runbeam_set_log_callback(RUNBEAM_LOG_TRACE, calls_librunbeam, &c) == RUNBEAM_OK, "%s",
          last());
    /* Delivered on this thread (unless a runtime thread is delivering: then try again): the
     * callback resolves (blocking) from inside, then turns logging off from inside. */
    for (int i = 0; i < 100 && !c.blocking_done; i++) (void)open_file_store();
    CHECK(c.blocking_done && c.blocking == RUNBEAM_OK, "blocking resolve in the callback: %s",
          runbeam_status_str(c.blocking));
    for (int i = 0; i < 100 && !c.turned_off; i++) (void)open_file_store();
    pthread_mutex_lock(&c.mu);
    bool turned_off = c.turned_off;
    runbeam_status off = c.off;
    int calls = c.calls;
    pthread_mutex_unlock(&c.mu);
    CHECK(turned_off && off == RUNBEAM_OK, "off from inside: %s", runbeam_status_str(off));
    /* The callback that turned it off was the last call. */
    CHECK(open_file_store() == RUNBEAM_OK, "%s", last());
    runbeam_resolution *res = NULL;
    runbeam_resolver_invalidate_all(c.resolver);
    CHECK(runbeam_resolver_resolve(c.resolver, DICOMWEB, &res) == RUNBEAM_OK, "%s", last());
    runbeam_resolution_free(res);
    pthread_mutex_lock(&c.mu);
    CHECK(c.calls == calls && c.after_off == 0, "called after off: %d -> %d", calls, c.calls);
    pthread_mutex_unlock(&c.mu);
    pthread_mutex_lock(&captured.mu);
    int overlaps = captured.overlaps, bad = captured.bad_records;
    pthread_mutex_unlock(&captured.mu);
    CHECK(overlaps == 0, "overlapping calls: %d", overlaps);
    CHECK(bad == 0, "malformed records: %d", bad);
    runbeam_resolver_free(c.resolver);
    pthread_mutex_destroy(&c.mu);
}

/* Off waits for a delivery running on another thread. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int entered;
    int returned;
    int calls;
} slow = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};

static void slow_callback(void *user_data, const runbeam_log_record *record) {
    (void)user_data;
    (void)record;
    pthread_mutex_lock(&slow.mu);
    slow.calls++;
    slow.entered = 1;
    pthread_cond_broadcast(&slow.cv);
    pthread_mutex_unlock(&slow.mu);
    sleep_ms(300); /* long enough for the main thread to be inside runbeam_set_log_callback */
    pthread_mutex_lock(&slow.mu);
    slow.returned = 1;
    pthread_mutex_unlock(&slow.mu);
}

static void *log_once(void *arg) {
    (void)arg;
    (void)open_file_store();
    return NULL;
}

static void test_off_waits_for_a_running_delivery(void) {
    CHECK(runbeam_set_log_callback(RUNBEAM_LOG_INFO, slow_callback, NULL) == RUNBEAM_OK, "%s",
          last());
    pthread_t thread;
    pthread_create(&thread, NULL, log_once, NULL);
    pthread_mutex_lock(&slow.mu);
    while (!slow.entered) pthread_cond_wait(&slow.cv, &slow.mu);
    pthread_mutex_unlock(&slow.mu);
    CHECK(runbeam_set_log_callback(RUNBEAM_LOG_OFF, NULL, NULL) == RUNBEAM_OK, "%s", last());
    pthread_mutex_lock(&slow.mu);
    int returned = slow.returned, calls = slow.calls;
    pthread_mutex_unlock(&slow.mu);
    CHECK(returned == 1, "off returned while the callback still ran");
    pthread_join(thread, NULL);
    (void)open_file_store();
    pthread_mutex_lock(&slow.mu);
    CHECK(slow.calls == calls, "called after off");
    pthread_mutex_unlock(&slow.mu);
}

/* Many threads log at once: every record arrives, one at a time. */
#define THREADS 8
#define PER_THREAD 25

static void *log_many(void *arg) {
    (void)arg;
    for (int i = 0; i < PER_THREAD; i++) (void)open_file_store();
    return NULL;
}

static void test_concurrent_records_are_serialised(void) {
    clear_records();
    pthread_mutex_lock(&captured.mu);
    captured.overlaps = 0;
    pthread_mutex_unlock(&captured.mu);
    CHECK(runbeam_set_log_callback(RUNBEAM_LOG_INFO, capture, NULL) == RUNBEAM_OK, "%s", last());
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&threads[i], NULL, log_many, NULL);
    for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
    /* Records queued behind a running delivery are delivered before that thread's call
     * returns, so all are in when the threads are joined. */
    CHECK(runbeam_set_log_callback(RUNBEAM_LOG_OFF, NULL, NULL) == RUNBEAM_OK, "%s", last());
    int selected = 0;
    pthread_mutex_lock(&captured.mu);
    for (int i = 0; i < captured.count; i++)
        if (strstr(captured.items[i].message, "token store selected")) selected++;
    int overlaps = captured.overlaps;
    pthread_mutex_unlock(&captured.mu);
    CHECK(selected == THREADS * PER_THREAD, "%d of %d records", selected, THREADS * PER_THREAD);
    CHECK(overlaps == 0, "overlapping calls: %d", overlaps);
}

int main(int argc, char **argv) {
    unsetenv("RUNBEAM_TOKEN_STORE");
    char home[] = "/tmp/runbeam-c-logging-XXXXXX";
    if (mkdtemp(home) == NULL) return 2;
    setenv("RUNBEAM_HOME", home, 1);
    int status = gateway_main_setup(argc, argv, &client);
    if (status != 0) return status;

    test_invalid_levels();
    test_levels_and_backend_selection();
    test_records_of_a_flow();
    test_a_callback_that_calls_librunbeam();
    test_off_waits_for_a_running_delivery();
    test_concurrent_records_are_serialised();

    runbeam_set_log_callback(RUNBEAM_LOG_OFF, NULL, NULL);
    clear_records();
    runbeam_client_free(client);
    devcloud_stop();
    char cleanup[300];
    snprintf(cleanup, sizeof cleanup, "rm -rf '%s'", home);
    if (system(cleanup) != 0) fprintf(stderr, "could not remove %s\n", home);
    return check_summary();
}
