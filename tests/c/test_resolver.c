/*
 * The resolver through the C ABI (docs/spec.md §6) against a runbeam-devcloud subprocess over real
 * HTTP: single-flight of 1000 concurrent cold resolves (callback form and 8 threads of the
 * blocking form) proven by the devcloud's request counters, refetch after the TTL, stale
 * answers while the Cloud fails, 404 not cached, reload and invalidate, refusals without a
 * request, mesh tokens reused and verified by the receiving gateway's resolver, cancellation,
 * a token manager's credential callback called by its resolver after the manager was freed,
 * and argument errors (NULL, invalid UTF-8) that never crash. The C counterpart of
 * tests/e2e/tests/resolver.rs.
 *
 * Usage: test_resolver <path-to-runbeam-devcloud>
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
#include "waiter.h"

#define BOB "2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f"
#define BOB_GW "analytics-gw-1"
#define ALICE_GW "radiology-gw-1"
#define DICOMWEB "runbeam.radiology-dept.ingress.name.dicomweb"
#define RETIRED "runbeam.radiology-dept.ingress.name.retired-api"
#define DICOM_URL "https://dicom.radiology.example.com"
#define MESH "imaging-integration"
#define RESOLVE "GET /api/harmony/resources/resolve"
#define RESOLVE_PATH "/api/harmony/resources/resolve"
#define MESH_TOKEN "POST /api/harmony/mesh/token"
#define AUTHORIZE "POST /api/harmony/authorize"

static const char *or_null(const char *s) { return s ? s : "(null)"; }
static const char *last(void) { return runbeam_last_error_message(); }

/* The HTTP settings template every resolver of this suite shares (its runtime too). */
static runbeam_client *client;

/* ai-analytics.toml's mesh part (the sender) with `cache_ttl_secs = ttl`, also listing a
 * reference the Cloud does not know, pointed at the devcloud with
 * runbeam_mesh_config_with_provider_api(). */
static runbeam_mesh_config *analytics_config(unsigned ttl) {
    char toml[1024];
    snprintf(toml, sizeof toml,
             "[proxy]\nid = \"" BOB_GW "\"\n\n"
             "[provider.runbeam]\napi = \"https://api.runbeam.io\"\ncache_ttl_secs = %u\n\n"
             "[pipelines.research.mesh.egress.imaging-out]\n"
             "type = \"http3\"\nbackend = \"dicom-archive\"\nmode = \"mesh\"\n\n"
             "[mesh.imaging-integration]\ntype = \"http3\"\nprovider = \"runbeam\"\n"
             "egress = [\"imaging-out\", \"" DICOMWEB "\", \"" RETIRED "\"]\n",
             ttl);
    runbeam_mesh_config *file = NULL, *dev = NULL;
    if (runbeam_mesh_config_from_toml(toml, &file) != RUNBEAM_OK) return NULL;
    runbeam_mesh_config_with_provider_api(file, "runbeam", api_url, &dev);
    runbeam_mesh_config_free(file);
    return dev;
}

/* radiology-dept.toml's mesh part (the receiver), pointed at the devcloud. */
static runbeam_mesh_config *radiology_config(void) {
    const char *toml =
        "[provider.runbeam]\napi = \"https://api.runbeam.io\"\n\n"
        "[pipelines.dicom-api.mesh.ingress.dicomweb]\n"
        "type = \"http3\"\nurls = [\"" DICOM_URL "\"]\nmode = \"mesh\"\n\n"
        "[mesh.imaging-integration]\ntype = \"http3\"\nprovider = \"runbeam\"\n"
        "ingress = [\"dicomweb\"]\n";
    runbeam_mesh_config *file = NULL, *dev = NULL;
    if (runbeam_mesh_config_from_toml(toml, &file) != RUNBEAM_OK) return NULL;
    runbeam_mesh_config_with_provider_api(file, "runbeam", api_url, &dev);
    runbeam_mesh_config_free(file);
    return dev;
}

/* A token manager on a memory store; `credential` NULL for none (a receiver needs none). */
static runbeam_token_manager *new_manager(const char *instance, const char *credential) {
    runbeam_token_store *store = NULL;
    runbeam_token_manager_config *mc = NULL;
    runbeam_token_manager *m = NULL;
    runbeam_token_store_memory_new(&store);
    runbeam_token_manager_config_new(instance, &mc);
    runbeam_token_manager_config_set_api_url(mc, api_url);
    if (credential != NULL) runbeam_token_manager_config_set_credential_token(mc, credential);
    runbeam_token_manager_new(mc, store, &m);
    runbeam_token_manager_config_free(mc);
    runbeam_token_store_free(store); /* the manager keeps its own reference */
    return m;
}

/* A resolver for `config` (consumed) as gateway `instance`; the config, manager and options
 * are freed right after: the resolver keeps what it needs. */
static runbeam_resolver *new_resolver(runbeam_mesh_config *config, const char *instance,
                                      const char *credential, runbeam_resolver_config *opts) {
    runbeam_token_manager *m = new_manager(instance, credential);
    runbeam_resolver *r = NULL;
    runbeam_status s = runbeam_resolver_new(config, client, m, opts, &r);
    CHECK(s == RUNBEAM_OK && r != NULL, "resolver_new: %s", last());
    runbeam_token_manager_free(m);
    runbeam_mesh_config_free(config);
    return r;
}

static runbeam_resolver *sender(unsigned ttl) {
    return new_resolver(analytics_config(ttl), BOB_GW, BOB, NULL);
}

static runbeam_resolver_stats stats_of(const runbeam_resolver *r) {
    runbeam_resolver_stats st;
    memset(&st, 0, sizeof st);
    CHECK(runbeam_resolver_stats_get(r, &st) == RUNBEAM_OK, "stats: %s", last());
    return st;
}

/* Resolves `ref` (blocking) and returns whether the answer is DICOMweb; `*stale` gets its flag. */
static bool resolve_dicom(const runbeam_resolver *r, bool *stale) {
    runbeam_resolution *res = NULL;
    runbeam_status s = runbeam_resolver_resolve(r, DICOMWEB, &res);
    bool ok = s == RUNBEAM_OK && res != NULL &&
              strcmp(or_null(runbeam_resolution_url(res, 0)), DICOM_URL) == 0;
    if (!ok) fprintf(stderr, "  resolve: %s: %s\n", runbeam_status_str(s), last());
    if (stale != NULL) *stale = runbeam_resolution_is_stale(res);
    runbeam_resolution_free(res);
    return ok;
}

/* ------------------------------------------------------------------------ async waiters */

struct waiter {
    struct waiter_sync sync;
    int ok;
    int stale;
    runbeam_status status;
    runbeam_status inner; /* status of a blocking call made inside the callback */
    const runbeam_resolver *resolver;
    char jti[128];
};

static void waiter_init(struct waiter *w) {
    memset(w, 0, sizeof *w);
    waiter_sync_init(&w->sync);
    w->inner = -1;
}

static void waiter_destroy(struct waiter *w) { waiter_sync_destroy(&w->sync); }

/* Waits (at most 60 s) until `calls` callbacks arrived; returns how many did. */
static int waiter_wait(struct waiter *w, int calls) {
    return waiter_sync_wait(&w->sync, calls, 60);
}

static void waiter_done(struct waiter *w, runbeam_status status, bool ok, bool stale) {
    waiter_sync_lock(&w->sync);
    w->status = status;
    if (ok) w->ok++;
    if (stale) w->stale++;
    waiter_sync_signal(&w->sync);
}

static void on_resolution(void *user_data, runbeam_status status, runbeam_resolution *res,
                          const char *message) {
    (void)message;
    struct waiter *w = user_data;
    bool ok = status == RUNBEAM_OK && res != NULL &&
              strcmp(or_null(runbeam_resolution_url(res, 0)), DICOM_URL) == 0;
    bool stale = runbeam_resolution_is_stale(res);
    runbeam_resolution_free(res);
    waiter_done(w, status, ok, stale);
}

/* A callback that tries a blocking call needing the network (refused on runtime threads). */
static void on_resolution_then_block(void *user_data, runbeam_status status,
                                     runbeam_resolution *res, const char *message) {
    (void)message;
    struct waiter *w = user_data;
    runbeam_resolution *other = NULL;
    w->inner = runbeam_resolver_resolve(w->resolver, RETIRED, &other);
    runbeam_resolution_free(other);
    /* The cached form is fine here: the answer just arrived. */
    runbeam_resolution *hit = NULL;
    bool ok = status == RUNBEAM_OK &&
              runbeam_resolver_resolve_cached(w->resolver, DICOMWEB, &hit) == RUNBEAM_OK &&
              hit != NULL;
    runbeam_resolution_free(hit);
    runbeam_resolution_free(res);
    waiter_done(w, status, ok, false);
}

static void on_mesh_token(void *user_data, runbeam_status status, runbeam_issued_mesh_token *token,
                          const char *message) {
    (void)message;
    struct waiter *w = user_data;
    runbeam_claims *claims = NULL;
    if (token != NULL && runbeam_issued_mesh_token_claims(token, &claims) == RUNBEAM_OK)
        snprintf(w->jti, sizeof w->jti, "%s", or_null(runbeam_claims_jti(claims)));
    runbeam_claims_free(claims);
    runbeam_issued_mesh_token_free(token);
    waiter_done(w, status, status == RUNBEAM_OK, false);
}

static void on_claims(void *user_data, runbeam_status status, runbeam_claims *claims,
                      const char *message) {
    (void)message;
    struct waiter *w = user_data;
    bool ok = claims != NULL && strcmp(or_null(runbeam_claims_mesh_id(claims)), MESH) == 0;
    runbeam_claims_free(claims);
    waiter_done(w, status, ok, false);
}

/* ------------------------------------------------------------------------------- tests */

#define ASYNC_CALLS 1000
#define THREADS 8
#define PER_THREAD 125

struct worker {
    const runbeam_resolver *resolver;
    int ok;
};

static void *resolve_in_thread(void *arg) {
    struct worker *wk = arg;
    for (int i = 0; i < PER_THREAD; i++)
        if (resolve_dicom(wk->resolver, NULL)) wk->ok++;
    return NULL;
}

/* Every id getter says what the JSON form says: the value, or NULL where the JSON has null. */
static void check_ids_match_json(const runbeam_resolution *res, const char *what) {
    const char *json = or_null(runbeam_resolution_json(res));
    const struct {
        const char *field;
        const char *value;
    } ids[] = {
        {"gateway_id", runbeam_resolution_gateway_id(res)},
        {"pipeline_id", runbeam_resolution_pipeline_id(res)},
        {"mesh_id", runbeam_resolution_mesh_id(res)},
        {"backend_id", runbeam_resolution_backend_id(res)},
        {"endpoint_id", runbeam_resolution_endpoint_id(res)},
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        char expected[256];
        if (ids[i].value != NULL)
            snprintf(expected, sizeof expected, "\"%s\":\"%s\"", ids[i].field, ids[i].value);
        else
            snprintf(expected, sizeof expected, "\"%s\":null", ids[i].field);
        CHECK(strstr(json, expected) != NULL, "%s: %s is not in %s", what, expected, json);
    }
}

static void test_single_flight(void) {
    /* 1000 callback-form resolves of one cold reference: one upstream request. */
    runbeam_resolver *r = sender(300);
    CHECK(runbeam_resolver_validate_startup(r) == RUNBEAM_OK, "%s", last());
    dev_delete("/_dev/counters");
    struct waiter w;
    waiter_init(&w);
    int accepted = 0;
    for (int i = 0; i < ASYNC_CALLS; i++)
        if (runbeam_resolver_resolve_async(r, DICOMWEB, on_resolution, &w, NULL) == RUNBEAM_OK)
            accepted++;
    CHECK(accepted == ASYNC_CALLS, "accepted %d: %s", accepted, last());
    CHECK(waiter_wait(&w, ASYNC_CALLS) == ASYNC_CALLS, "callbacks: %d", w.sync.calls);
    CHECK(w.ok == ASYNC_CALLS && w.stale == 0, "ok %d, stale %d", w.ok, w.stale);
    CHECK(dev_count(RESOLVE) == 1, "async: %ld resolve requests", dev_count(RESOLVE));
    CHECK(dev_count(AUTHORIZE) == 1, "%ld authorizations", dev_count(AUTHORIZE));
    runbeam_resolver_stats st = stats_of(r);
    CHECK(st.upstream_requests == 1, "upstream %llu", (unsigned long long)st.upstream_requests);
    CHECK(st.hits + st.misses == ASYNC_CALLS, "hits %llu + misses %llu",
          (unsigned long long)st.hits, (unsigned long long)st.misses);
    CHECK(st.cached_references == 1, "cached %llu", (unsigned long long)st.cached_references);

    /* Later calls are hits without I/O, with every getter filled. */
    runbeam_resolution *hit = NULL;
    CHECK(runbeam_resolver_resolve_cached(r, DICOMWEB, &hit) == RUNBEAM_OK && hit != NULL,
          "cached: %s", last());
    CHECK(strcmp(or_null(runbeam_resolution_type(hit)), "ingress") == 0, "type");
    CHECK(strcmp(or_null(runbeam_resolution_name(hit)), "dicomweb") == 0, "name");
    CHECK(runbeam_resolution_id(hit) != NULL && runbeam_resolution_team_id(hit) != NULL, "ids");
    CHECK(runbeam_resolution_gateway_id(hit) != NULL && runbeam_resolution_pipeline_id(hit) != NULL &&
              runbeam_resolution_mesh_id(hit) != NULL && runbeam_resolution_endpoint_id(hit) != NULL,
          "the ingress's gateway, pipeline, mesh and endpoint ids");
    check_ids_match_json(hit, "remote ingress");
    CHECK(strcmp(or_null(runbeam_resolution_provider(hit)), "runbeam") == 0, "provider");
    CHECK(runbeam_resolution_url_count(hit) == 1, "urls %zu", runbeam_resolution_url_count(hit));
    CHECK(runbeam_resolution_url(hit, 1) == NULL, "url out of range");
    CHECK(runbeam_resolution_protocol(hit) != NULL && runbeam_resolution_mode(hit) != NULL,
          "protocol %s mode %s", or_null(runbeam_resolution_protocol(hit)),
          or_null(runbeam_resolution_mode(hit)));
    CHECK(!runbeam_resolution_is_stale(hit) && !runbeam_resolution_is_local(hit), "flags");
    CHECK(runbeam_resolution_resolved_at(hit) > 1700000000, "resolved_at");
    const char *json = or_null(runbeam_resolution_json(hit));
    CHECK(strstr(json, "\"stale\":false") && strstr(json, "\"name\":\"dicomweb\"") &&
              strstr(json, "\"provider\":\"runbeam\""),
          "json %s", json);
    runbeam_resolution_free(hit);
    CHECK(dev_count(RESOLVE) == 1, "hits made no request");
    waiter_destroy(&w);
    runbeam_resolver_free(r);

    /* 8 threads x 125 blocking resolves on another cold resolver: one request too. */
    r = sender(300);
    dev_delete("/_dev/counters");
    pthread_t threads[THREADS];
    struct worker workers[THREADS];
    for (int i = 0; i < THREADS; i++) {
        workers[i].resolver = r;
        workers[i].ok = 0;
        pthread_create(&threads[i], NULL, resolve_in_thread, &workers[i]);
    }
    int ok = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        ok += workers[i].ok;
    }
    CHECK(ok == THREADS * PER_THREAD, "blocking ok %d", ok);
    CHECK(dev_count(RESOLVE) == 1, "threads: %ld resolve requests", dev_count(RESOLVE));
    st = stats_of(r);
    CHECK(st.hits + st.misses == THREADS * PER_THREAD, "hits + misses");
    runbeam_resolver_free(r);
}

static void test_ttl_and_stale(void) {
    runbeam_resolver *r = sender(1);
    dev_delete("/_dev/counters");
    bool stale = true;
    CHECK(resolve_dicom(r, &stale) && !stale, "first");
    CHECK(resolve_dicom(r, NULL), "second");
    CHECK(dev_count(RESOLVE) == 1, "within the TTL: %ld", dev_count(RESOLVE));
    sleep_ms(1100);
    runbeam_resolution *res = (runbeam_resolution *)&res; /* must become NULL */
    CHECK(runbeam_resolver_resolve_cached(r, DICOMWEB, &res) == RUNBEAM_OK && res == NULL,
          "expired: a request is needed");
    CHECK(resolve_dicom(r, &stale) && !stale, "refetched");
    CHECK(dev_count(RESOLVE) == 2, "after the TTL: %ld", dev_count(RESOLVE));

    /* The Cloud fails after the TTL: the last answer, flagged stale. */
    sleep_ms(1100);
    CHECK(dev_post("/_dev/faults",
                   "{\"path\": \"" RESOLVE_PATH "\", \"status\": 503, \"count\": 10}") == 201,
          "fault");
    res = NULL;
    CHECK(runbeam_resolver_resolve(r, DICOMWEB, &res) == RUNBEAM_OK && res != NULL,
          "stale answer: %s", last());
    CHECK(runbeam_resolution_is_stale(res), "flagged stale");
    CHECK(strcmp(or_null(runbeam_resolution_url(res, 0)), DICOM_URL) == 0, "same answer");
    CHECK(strstr(or_null(runbeam_resolution_json(res)), "\"stale\":true") != NULL, "json %s",
          or_null(runbeam_resolution_json(res)));
    runbeam_resolution_free(res);
    CHECK(stats_of(r).stale_served == 1, "stale_served");
    /* The callback form serves it too. */
    struct waiter w;
    waiter_init(&w);
    CHECK(runbeam_resolver_resolve_async(r, DICOMWEB, on_resolution, &w, NULL) == RUNBEAM_OK,
          "%s", last());
    CHECK(waiter_wait(&w, 1) == 1 && w.ok == 1 && w.stale == 1, "async stale: %s",
          runbeam_status_str(w.status));
    waiter_destroy(&w);
    dev_delete("/_dev/faults");
    CHECK(resolve_dicom(r, &stale) && !stale, "the Cloud is back");
    runbeam_resolver_free(r);
}

static void test_not_found_is_not_cached(void) {
    runbeam_resolver *r = sender(300);
    dev_delete("/_dev/counters");
    for (long expected = 1; expected <= 2; expected++) {
        runbeam_resolution *res = NULL;
        CHECK(runbeam_resolver_resolve(r, RETIRED, &res) == RUNBEAM_STATUS_NOT_FOUND,
              "%s", runbeam_status_str(runbeam_last_error_status()));
        CHECK(res == NULL, "no answer written");
        CHECK(runbeam_last_error_http_status() == 404, "http %u",
              runbeam_last_error_http_status());
        CHECK(strcmp(runbeam_last_error_kind(), "NotFound") == 0, "kind %s",
              runbeam_last_error_kind());
        CHECK(dev_count(RESOLVE) == expected, "not cached: %ld", dev_count(RESOLVE));
    }
    runbeam_resolution *res = (runbeam_resolution *)&res;
    CHECK(runbeam_resolver_resolve_cached(r, RETIRED, &res) == RUNBEAM_OK && res == NULL,
          "nothing cached");
    runbeam_resolver_free(r);
}

static void test_reload_and_invalidate(void) {
    runbeam_resolver *r = sender(300);
    dev_delete("/_dev/counters");
    CHECK(resolve_dicom(r, NULL), "first");
    bool dropped = false;
    CHECK(runbeam_resolver_invalidate(r, DICOMWEB, &dropped) == RUNBEAM_OK && dropped,
          "invalidate: %s", last());
    CHECK(runbeam_resolver_invalidate(r, DICOMWEB, &dropped) == RUNBEAM_OK && !dropped,
          "nothing left to drop");
    CHECK(resolve_dicom(r, NULL), "after invalidate");
    CHECK(dev_count(RESOLVE) == 2, "invalidate forgets: %ld", dev_count(RESOLVE));

    /* The same configuration again keeps the answer. */
    runbeam_mesh_config *same = analytics_config(300);
    CHECK(runbeam_resolver_reload(r, same) == RUNBEAM_OK, "%s", last());
    runbeam_mesh_config_free(same);
    runbeam_resolution *res = NULL;
    CHECK(runbeam_resolver_resolve_cached(r, DICOMWEB, &res) == RUNBEAM_OK && res != NULL,
          "kept");
    runbeam_resolution_free(res);

    /* A changed TTL invalidates. */
    runbeam_mesh_config *changed = analytics_config(120);
    CHECK(runbeam_resolver_reload(r, changed) == RUNBEAM_OK, "%s", last());
    runbeam_mesh_config_free(changed);
    res = (runbeam_resolution *)&res;
    CHECK(runbeam_resolver_resolve_cached(r, DICOMWEB, &res) == RUNBEAM_OK && res == NULL,
          "dropped by the reload");
    CHECK(resolve_dicom(r, NULL), "after reload");
    CHECK(dev_count(RESOLVE) == 3, "reload refetches: %ld", dev_count(RESOLVE));

    /* A configuration with problems is refused; the old one stays. */
    runbeam_mesh_config *broken = NULL;
    CHECK(runbeam_mesh_config_from_toml("[mesh.m]\ntype = \"http\"\nprovider = \"runbeam\"\n"
                                   "egress = [\"runbeam.a.ingress.name.b\"]\n",
                                   &broken) == RUNBEAM_OK,
          "%s", last());
    CHECK(runbeam_resolver_reload(r, broken) == RUNBEAM_STATUS_CONFIG, "%s",
          runbeam_status_str(runbeam_last_error_status()));
    CHECK(strstr(last(), "Unknown provider") != NULL, "message: %s", last());
    runbeam_problem_list *problems = NULL;
    CHECK(runbeam_last_error_problems(&problems) == RUNBEAM_OK &&
              runbeam_problem_list_count(problems) >= 1,
          "problems listed");
    runbeam_problem_list_free(problems);
    runbeam_mesh_config_free(broken);
    res = NULL;
    CHECK(runbeam_resolver_resolve_cached(r, DICOMWEB, &res) == RUNBEAM_OK && res != NULL,
          "old configuration still in use");
    runbeam_resolution_free(res);

    CHECK(runbeam_resolver_invalidate(r, "runbeam..x", NULL) == RUNBEAM_STATUS_INVALID_REFERENCE,
          "invalidate checks the reference");
    CHECK(runbeam_resolver_invalidate_all(r) == RUNBEAM_OK, "%s", last());
    CHECK(stats_of(r).cached_references == 0, "all forgotten");
    runbeam_resolver_free(r);
}

static void test_refusals_and_local(void) {
    runbeam_resolver *r = sender(300);
    dev_delete("/_dev/counters");
    runbeam_resolution *res = NULL;
    CHECK(runbeam_resolver_resolve(r, "runbeam.acme.ingress.name.api", &res) ==
              RUNBEAM_STATUS_NOT_IN_MESH,
          "%s", runbeam_status_str(runbeam_last_error_status()));
    CHECK(strstr(last(), "runbeam.acme.ingress.name.api") != NULL, "names it: %s", last());
    CHECK(runbeam_resolver_resolve_cached(r, "runbeam.acme.ingress.name.api", &res) ==
              RUNBEAM_STATUS_NOT_IN_MESH,
          "known without I/O");
    CHECK(runbeam_resolver_resolve(r, "elsewhere.acme.ingress.name.api", &res) ==
              RUNBEAM_STATUS_UNKNOWN_PROVIDER,
          "%s", last());
    CHECK(runbeam_resolver_resolve(r, "runbeam..ingress", &res) ==
              RUNBEAM_STATUS_INVALID_REFERENCE,
          "%s", last());
    CHECK(res == NULL, "no answer written");

    /* Local references come from the configuration. */
    CHECK(runbeam_resolver_resolve(r, "imaging-out", &res) == RUNBEAM_OK && res != NULL, "%s",
          last());
    CHECK(runbeam_resolution_is_local(res), "local");
    CHECK(strcmp(or_null(runbeam_resolution_type(res)), "egress") == 0, "egress");
    CHECK(strcmp(or_null(runbeam_resolution_provider(res)), "local") == 0, "provider local");
    CHECK(runbeam_resolution_pipeline_id(res) != NULL, "a local egress names its pipeline");
    check_ids_match_json(res, "local egress");
    runbeam_resolution_free(res);
    res = NULL;
    CHECK(runbeam_resolver_resolve(r, "no-such-ingress", &res) == RUNBEAM_STATUS_NOT_FOUND,
          "%s", last());

    CHECK(dev_count(RESOLVE) == 0, "no resolve request: %ld", dev_count(RESOLVE));
    CHECK(dev_count(AUTHORIZE) == 0, "no machine token needed: %ld", dev_count(AUTHORIZE));
    runbeam_resolver_stats st = stats_of(r);
    CHECK(st.cached_references == 0, "nothing outside the mesh is kept");
    CHECK(st.local == 2, "local %llu", (unsigned long long)st.local);
    runbeam_resolver_free(r);
}

static void test_mesh_tokens(void) {
    runbeam_resolver *r = sender(300);
    dev_delete("/_dev/counters");
    const char *destination = DICOM_URL "/studies";
    runbeam_issued_mesh_token *first = NULL, *again = NULL;
    CHECK(runbeam_resolver_mesh_token(r, MESH, destination, &first) == RUNBEAM_OK && first,
          "mesh token: %s", last());
    CHECK(runbeam_resolver_mesh_token(r, MESH, destination, &again) == RUNBEAM_OK && again,
          "again: %s", last());
    CHECK(dev_count(MESH_TOKEN) == 1, "reused: %ld requests", dev_count(MESH_TOKEN));
    CHECK(stats_of(r).mesh_token_requests == 1, "stats");
    const char *secret = or_null(runbeam_issued_mesh_token_secret(first));
    CHECK(strlen(secret) > 40 && strchr(secret, '.') != NULL, "a JWT");
    CHECK(strcmp(secret, or_null(runbeam_issued_mesh_token_secret(again))) == 0, "the same token");
    CHECK(runbeam_issued_mesh_token_expires_at(first) > (int64_t)time(NULL), "expires later");
    CHECK(runbeam_issued_mesh_token_expires_at_rfc3339(first) != NULL, "rfc3339");
    CHECK(strcmp(or_null(runbeam_issued_mesh_token_mesh(first)), MESH) == 0, "mesh name");
    CHECK(runbeam_issued_mesh_token_mesh_id(first) != NULL, "mesh id");
    runbeam_claims *claims = NULL;
    CHECK(runbeam_issued_mesh_token_claims(first, &claims) == RUNBEAM_OK && claims, "%s", last());
    CHECK(strncmp(or_null(runbeam_claims_sub(claims)), "gateway:", 8) == 0, "sub %s",
          or_null(runbeam_claims_sub(claims)));
    CHECK(strcmp(or_null(runbeam_claims_aud(claims, 0)), "mesh:" MESH) == 0, "aud %s",
          or_null(runbeam_claims_aud(claims, 0)));
    CHECK(strcmp(or_null(runbeam_claims_dest_url(claims)), destination) == 0, "dest_url");
    char jti[128];
    snprintf(jti, sizeof jti, "%s", or_null(runbeam_claims_jti(claims)));
    runbeam_claims_free(claims);

    /* The callback form gets the same cached token. */
    struct waiter w;
    waiter_init(&w);
    CHECK(runbeam_resolver_mesh_token_async(r, MESH, destination, on_mesh_token, &w, NULL) ==
              RUNBEAM_OK,
          "%s", last());
    CHECK(waiter_wait(&w, 1) == 1 && w.ok == 1, "async: %s", runbeam_status_str(w.status));
    CHECK(strcmp(w.jti, jti) == 0, "same jti");
    CHECK(dev_count(MESH_TOKEN) == 1, "still one request");
    waiter_destroy(&w);

    /* Errors are clear and not cached. */
    runbeam_issued_mesh_token *none = NULL;
    CHECK(runbeam_resolver_mesh_token(r, MESH, "https://elsewhere.example.com/", &none) ==
              RUNBEAM_STATUS_PERMISSION_DENIED,
          "%s", runbeam_status_str(runbeam_last_error_status()));
    CHECK(runbeam_resolver_mesh_token(r, "no-such-mesh", DICOM_URL, &none) ==
              RUNBEAM_STATUS_NOT_IN_MESH,
          "%s", last());
    CHECK(runbeam_resolver_mesh_token(r, MESH, "not a url", &none) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT,
          "%s", last());
    CHECK(none == NULL, "no token written");

    /* The receiving gateway verifies it (no machine token needed). */
    runbeam_resolver *receiver = new_resolver(radiology_config(), ALICE_GW, NULL, NULL);
    CHECK(runbeam_resolver_validate_startup(receiver) == RUNBEAM_OK, "%s", last());
    size_t len = strlen(secret);
    claims = (runbeam_claims *)&claims;
    CHECK(runbeam_resolver_verify_mesh_token_cached(receiver, secret, len, MESH, NULL,
                                                    &claims) == RUNBEAM_OK &&
              claims == NULL,
          "keys not fetched yet");
    claims = NULL;
    CHECK(runbeam_resolver_verify_mesh_token(receiver, secret, len, MESH,
                                             DICOM_URL "/studies/123", &claims) == RUNBEAM_OK &&
              claims,
          "verify: %s", last());
    char *team = NULL;
    CHECK(runbeam_claims_get_json(claims, "source_team", &team) == RUNBEAM_OK && team &&
              strcmp(team, "\"ai-analytics\"") == 0,
          "source_team %s", or_null(team));
    runbeam_string_free(team);
    runbeam_claims_free(claims);
    claims = NULL;
    CHECK(runbeam_resolver_verify_mesh_token_cached(receiver, secret, len, MESH, destination,
                                                    &claims) == RUNBEAM_OK &&
              claims,
          "keys cached now: %s", last());
    runbeam_claims_free(claims);
    claims = NULL;
    CHECK(runbeam_resolver_verify_mesh_token(receiver, secret, len, MESH,
                                             "https://pacs.radiology.example.com/",
                                             &claims) == RUNBEAM_STATUS_JWT_INVALID,
          "another destination: %s", runbeam_status_str(runbeam_last_error_status()));
    CHECK(strstr(last(), secret) == NULL, "the message never quotes the token");
    CHECK(runbeam_resolver_verify_mesh_token(receiver, secret, len, "other-mesh", NULL,
                                             &claims) == RUNBEAM_STATUS_NOT_IN_MESH,
          "%s", last());
    CHECK(runbeam_resolver_verify_mesh_token(receiver, secret, len - 1, MESH, NULL, &claims) !=
              RUNBEAM_OK,
          "tampered token refused");
    CHECK(claims == NULL, "no claims written");
    waiter_init(&w);
    CHECK(runbeam_resolver_verify_mesh_token_async(receiver, secret, len, MESH, destination,
                                                   on_claims, &w, NULL) == RUNBEAM_OK,
          "%s", last());
    CHECK(waiter_wait(&w, 1) == 1 && w.ok == 1, "async verify: %s",
          runbeam_status_str(w.status));
    waiter_destroy(&w);
    runbeam_resolver_free(receiver);

    runbeam_issued_mesh_token_free(again);
    runbeam_issued_mesh_token_free(first);
    runbeam_resolver_free(r);
}

static void test_callbacks_and_cancel(void) {
    /* A blocking call needing the network is refused inside a callback; cached forms work. */
    runbeam_resolver *r = sender(300);
    struct waiter w;
    waiter_init(&w);
    w.resolver = r;
    CHECK(runbeam_resolver_resolve_async(r, DICOMWEB, on_resolution_then_block, &w, NULL) ==
              RUNBEAM_OK,
          "%s", last());
    CHECK(waiter_wait(&w, 1) == 1 && w.ok == 1, "callback: %s", runbeam_status_str(w.status));
    CHECK(w.inner == RUNBEAM_STATUS_INVALID_ARGUMENT, "blocking in a callback: %s",
          runbeam_status_str(w.inner));
    waiter_destroy(&w);

    /* Cancelling a slow call completes it with CANCELLED, exactly once. */
    runbeam_resolver_invalidate_all(r);
    CHECK(dev_post("/_dev/faults", "{\"path\": \"" RESOLVE_PATH
                                   "\", \"latency_ms\": 1500, \"count\": 1}") == 201,
          "fault");
    waiter_init(&w);
    runbeam_cancel *cancel = NULL;
    CHECK(runbeam_resolver_resolve_async(r, DICOMWEB, on_resolution, &w, &cancel) == RUNBEAM_OK &&
              cancel,
          "%s", last());
    CHECK(runbeam_cancel_request(cancel) == RUNBEAM_OK, "%s", last());
    CHECK(waiter_wait(&w, 1) == 1 && w.status == RUNBEAM_STATUS_CANCELLED, "cancelled: %s",
          runbeam_status_str(w.status));
    runbeam_cancel_free(cancel);
    /* The shared request was not cancelled: the next resolve joins or reuses it. */
    CHECK(resolve_dicom(r, NULL), "after cancel");
    dev_delete("/_dev/faults");
    CHECK(w.sync.calls == 1, "one callback, got %d", w.sync.calls);
    waiter_destroy(&w);
    runbeam_resolver_free(r);
}

/* The user_data of a credential callback: heap-allocated so that ASan and valgrind catch a
 * call after it was freed. */
struct credential_source {
    pthread_mutex_t lock;
    int calls;
};

static runbeam_status supply_bob(void *user_data, runbeam_credential *out) {
    struct credential_source *src = user_data;
    pthread_mutex_lock(&src->lock);
    src->calls++;
    pthread_mutex_unlock(&src->lock);
    return runbeam_credential_set_token(out, BOB);
}

static void test_manager_callbacks_outlive_the_manager(void) {
    /* The resolver renews through the manager's credential callback after
     * runbeam_token_manager_free() returned; its user_data is released only once the resolver
     * (the last handle holding the callback) is freed too. */
    struct credential_source *src = malloc(sizeof *src);
    CHECK(src != NULL, "malloc");
    if (src == NULL) return;
    pthread_mutex_init(&src->lock, NULL);
    src->calls = 0;
    runbeam_token_store *store = NULL;
    runbeam_token_manager_config *mc = NULL;
    runbeam_token_manager *m = NULL;
    runbeam_token_store_memory_new(&store);
    runbeam_token_manager_config_new(BOB_GW, &mc);
    runbeam_token_manager_config_set_api_url(mc, api_url);
    CHECK(runbeam_token_manager_config_set_credential_callback(mc, supply_bob, src) == RUNBEAM_OK,
          "%s", last());
    CHECK(runbeam_token_manager_new(mc, store, &m) == RUNBEAM_OK && m, "%s", last());
    runbeam_token_manager_config_free(mc);
    runbeam_token_store_free(store);
    runbeam_resolver *r = NULL;
    runbeam_mesh_config *config = analytics_config(300);
    CHECK(runbeam_resolver_new(config, client, m, NULL, &r) == RUNBEAM_OK && r, "%s", last());
    runbeam_mesh_config_free(config);
    runbeam_token_manager_free(m);

    /* Nothing stored: the first resolve authorizes with the callback's credential. */
    CHECK(resolve_dicom(r, NULL), "resolve after the manager was freed");
    pthread_mutex_lock(&src->lock);
    int calls = src->calls;
    pthread_mutex_unlock(&src->lock);
    CHECK(calls == 1, "credential callback calls: %d", calls);

    runbeam_resolver_free(r);
    /* No callback can run any more: its user_data may go. */
    pthread_mutex_destroy(&src->lock);
    free(src);
}

static void test_arguments(void) {
    const char bad_utf8[] = {'r', 'u', 'n', (char)0xff, (char)0xfe, '\0'};
    runbeam_resolver *r = sender(300);
    runbeam_resolution *res = NULL;
    runbeam_issued_mesh_token *mt = NULL;
    runbeam_claims *claims = NULL;

    CHECK(runbeam_resolver_resolve(NULL, DICOMWEB, &res) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL resolver");
    CHECK(runbeam_resolver_resolve(r, NULL, &res) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL ref");
    CHECK(strstr(last(), "reference") != NULL, "names the argument: %s", last());
    CHECK(runbeam_resolver_resolve(r, DICOMWEB, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL out");
    CHECK(runbeam_resolver_resolve(r, bad_utf8, &res) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "invalid UTF-8: %s", last());
    CHECK(strstr(last(), "UTF-8") != NULL, "says UTF-8: %s", last());
    CHECK(runbeam_resolver_resolve_cached(r, bad_utf8, &res) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "cached, invalid UTF-8");
    CHECK(runbeam_resolver_resolve_cached(NULL, DICOMWEB, &res) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT,
          "cached, NULL");
    CHECK(runbeam_resolver_resolve_async(r, DICOMWEB, NULL, NULL, NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL callback");
    CHECK(runbeam_resolver_resolve_async(r, bad_utf8, on_resolution, NULL, NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT,
          "async, invalid UTF-8");
    CHECK(runbeam_resolver_resolve(r, "", &res) == RUNBEAM_STATUS_INVALID_REFERENCE,
          "empty reference: %s", last());
    CHECK(res == NULL, "nothing written");

    CHECK(runbeam_resolver_mesh_token(r, NULL, DICOM_URL, &mt) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL mesh");
    CHECK(runbeam_resolver_mesh_token(r, MESH, bad_utf8, &mt) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "invalid UTF-8 URL");
    CHECK(runbeam_resolver_mesh_token_async(r, MESH, DICOM_URL, NULL, NULL, NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL callback");
    CHECK(mt == NULL, "nothing written");
    CHECK(runbeam_resolver_verify_mesh_token(r, NULL, 10, MESH, NULL, &claims) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL token");
    CHECK(runbeam_resolver_verify_mesh_token(r, bad_utf8, 5, MESH, NULL, &claims) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT,
          "invalid UTF-8 token");
    CHECK(runbeam_resolver_verify_mesh_token_cached(r, "a.b.c", 5, NULL, NULL, &claims) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL mesh");
    CHECK(runbeam_resolver_verify_mesh_token_async(r, "a.b.c", 5, MESH, NULL, NULL, NULL, NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL callback");
    CHECK(claims == NULL, "nothing written");

    CHECK(runbeam_resolver_invalidate(r, NULL, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL");
    CHECK(runbeam_resolver_invalidate_all(NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL");
    CHECK(runbeam_resolver_reload(r, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL config");
    CHECK(runbeam_resolver_validate_startup(NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL");
    runbeam_resolver_stats st;
    CHECK(runbeam_resolver_stats_get(r, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL out");
    CHECK(runbeam_resolver_stats_get(NULL, &st) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL");

    /* Getters and frees accept NULL. */
    CHECK(runbeam_resolution_name(NULL) == NULL && runbeam_resolution_url(NULL, 0) == NULL &&
              runbeam_resolution_url_count(NULL) == 0 && !runbeam_resolution_is_stale(NULL) &&
              runbeam_resolution_json(NULL) == NULL && runbeam_resolution_resolved_at(NULL) == 0 &&
              runbeam_resolution_gateway_id(NULL) == NULL && runbeam_resolution_endpoint_id(NULL) == NULL,
          "resolution getters");
    CHECK(runbeam_issued_mesh_token_secret(NULL) == NULL && runbeam_issued_mesh_token_expires_at(NULL) == 0 &&
              runbeam_issued_mesh_token_mesh_id(NULL) == NULL,
          "mesh token getters");
    CHECK(runbeam_issued_mesh_token_claims(NULL, &claims) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL");
    runbeam_resolution_free(NULL);
    runbeam_issued_mesh_token_free(NULL);
    runbeam_resolver_free(NULL);
    runbeam_resolver_config_free(NULL);

    /* Construction. */
    runbeam_resolver *other = NULL;
    runbeam_mesh_config *cfg = analytics_config(300);
    runbeam_token_manager *m = new_manager(BOB_GW, BOB);
    CHECK(runbeam_resolver_new(NULL, client, m, NULL, &other) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL config");
    CHECK(runbeam_resolver_new(cfg, NULL, m, NULL, &other) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL client");
    CHECK(runbeam_resolver_new(cfg, client, NULL, NULL, &other) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL manager");
    CHECK(runbeam_resolver_new(cfg, client, m, NULL, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL out");
    CHECK(other == NULL, "nothing written");
    runbeam_resolver_config *opts = NULL;
    CHECK(runbeam_resolver_config_new(&opts) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_resolver_config_set_mesh_token_capacity(opts, 0) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT,
          "capacity 0");
    CHECK(runbeam_resolver_config_set_max_stale_ms(NULL, 1) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL options");
    CHECK(runbeam_resolver_config_set_validator_config(opts, NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL validator config");
    runbeam_validator_config *vc = NULL;
    runbeam_validator_config_new(&vc);
    runbeam_validator_config_set_leeway_ms(vc, 5000);
    CHECK(runbeam_resolver_config_set_validator_config(opts, vc) == RUNBEAM_OK, "%s", last());
    runbeam_validator_config_free(vc);
    CHECK(runbeam_resolver_config_set_max_stale_ms(opts, 60000) == RUNBEAM_OK &&
              runbeam_resolver_config_set_mesh_token_margin_ms(opts, 60000) == RUNBEAM_OK &&
              runbeam_resolver_config_set_mesh_token_capacity(opts, 16) == RUNBEAM_OK,
          "%s", last());
    CHECK(runbeam_resolver_new(cfg, client, m, opts, &other) == RUNBEAM_OK && other, "%s",
          last());
    runbeam_resolver_config_free(opts);
    runbeam_resolver_free(other);
    runbeam_token_manager_free(m);

    /* runbeam_mesh_config_with_provider_api. */
    runbeam_mesh_config *dev = NULL;
    CHECK(runbeam_mesh_config_with_provider_api(cfg, "partner", api_url, &dev) ==
              RUNBEAM_STATUS_UNKNOWN_PROVIDER,
          "unknown provider: %s", last());
    CHECK(runbeam_mesh_config_with_provider_api(cfg, "local", api_url, &dev) ==
              RUNBEAM_STATUS_UNKNOWN_PROVIDER,
          "local has no API");
    CHECK(runbeam_mesh_config_with_provider_api(cfg, "runbeam", bad_utf8, &dev) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT,
          "invalid UTF-8");
    CHECK(runbeam_mesh_config_with_provider_api(cfg, NULL, api_url, &dev) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL provider");
    CHECK(runbeam_mesh_config_with_provider_api(NULL, "runbeam", api_url, &dev) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL config");
    CHECK(runbeam_mesh_config_with_provider_api(cfg, "runbeam", "", &dev) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT,
          "empty URL");
    CHECK(dev == NULL, "nothing written");
    runbeam_mesh_config_free(cfg);
    runbeam_resolver_free(r);
}

int main(int argc, char **argv) {
    int status = gateway_main_setup(argc, argv, &client);
    if (status != 0) return status;

    test_single_flight();
    test_ttl_and_stale();
    test_not_found_is_not_cached();
    test_reload_and_invalidate();
    test_refusals_and_local();
    test_mesh_tokens();
    test_callbacks_and_cancel();
    test_manager_callbacks_outlive_the_manager();
    test_arguments();

    runbeam_client_free(client); /* the last handle of the runtime: joins its threads */
    devcloud_stop();
    return check_summary();
}
