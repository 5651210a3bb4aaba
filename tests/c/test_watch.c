/*
 * Live configuration through the C ABI (runbeam_resolver_watch) against a runbeam-devcloud
 * subprocess over real HTTP: changes published with POST /_dev/changes reach a watching
 * resolver; a mesh change is applied (the reference that left the mesh is refused, the one
 * that entered resolves) and marked applied in the Cloud; an invalid one is marked failed with
 * every problem (readable through runbeam_last_error_problems() in the callback) and changes
 * nothing; a change for the gateway is handed over as skipped; stop (from outside and from
 * inside the callback) and free end polling and callbacks; the watcher outlives its resolver
 * handle; argument errors.
 *
 * Usage: test_watch <path-to-runbeam-devcloud>
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "devcloud.h"
#include "runbeam.h"
#include "gateway_main.h"
#include "waiter.h"

#define BOB "2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f"
#define BOB_GW "analytics-gw-1"
#define DICOMWEB "runbeam.radiology-dept.ingress.name.dicomweb"
#define DICOMWEB_BY_ID "runbeam.id.01JDW14DR9GPQY77ZXYYK596NG"
#define DICOM_URL "https://dicom.radiology.example.com"
#define MESH "imaging-integration"
#define CHANGES "GET /api/harmony/changes"
/* Long enough for a few 1 s polls on a loaded machine; only a bound, never asserted. */
#define PATIENCE_SECS 30

static const char *or_null(const char *s) { return s ? s : "(null)"; }
static const char *last(void) { return runbeam_last_error_message(); }

static runbeam_client *client;

/* ------------------------------------------------------------------ the received events */

struct event {
    int kind;
    char kind_name[32];
    char provider[64];
    char change_id[64];
    char change_type[80];
    char action[80];
    char message[2048];
    char meshes[256]; /* joined with ',' */
    size_t mesh_count;
    uint64_t references_dropped;
    uint64_t mesh_tokens_dropped;
    runbeam_status error_status;
    char error_kind[64];
    size_t problems; /* runbeam_last_error_problems() during the callback */
    char first_problem_path[128];
    int64_t retry_in_ms;
};

#define MAX_EVENTS 256

struct events {
    struct waiter_sync sync;
    struct event items[MAX_EVENTS];
    int overlaps;
    int inside;
    runbeam_watcher *stop_from_inside; /* stopped by the first callback when set */
    runbeam_status inside_stop;
    runbeam_status inside_blocking;
    runbeam_resolver *resolver;
};

static void events_init(struct events *e) {
    memset(e, 0, sizeof *e);
    waiter_sync_init(&e->sync);
    e->inside_stop = -1;
    e->inside_blocking = -1;
}

static void on_event(void *user_data, const runbeam_watch_event *ev) {
    struct events *e = user_data;
    struct event copy;
    memset(&copy, 0, sizeof copy);
    copy.kind = ev->kind;
    snprintf(copy.kind_name, sizeof copy.kind_name, "%s", or_null(ev->kind_name));
    snprintf(copy.provider, sizeof copy.provider, "%s", or_null(ev->provider));
    snprintf(copy.change_id, sizeof copy.change_id, "%s", or_null(ev->change_id));
    snprintf(copy.change_type, sizeof copy.change_type, "%s", or_null(ev->change_type));
    snprintf(copy.action, sizeof copy.action, "%s", or_null(ev->action));
    snprintf(copy.message, sizeof copy.message, "%s", or_null(ev->message));
    for (size_t i = 0; i < ev->mesh_count; i++) {
        size_t used = strlen(copy.meshes);
        snprintf(copy.meshes + used, sizeof copy.meshes - used, "%s%s", i ? "," : "",
                 or_null(ev->meshes[i]));
    }
    copy.mesh_count = ev->mesh_count;
    copy.references_dropped = ev->references_dropped;
    copy.mesh_tokens_dropped = ev->mesh_tokens_dropped;
    copy.error_status = ev->error_status;
    snprintf(copy.error_kind, sizeof copy.error_kind, "%s", or_null(ev->error_kind));
    copy.retry_in_ms = ev->retry_in_ms;
    runbeam_problem_list *problems = NULL;
    if (runbeam_last_error_problems(&problems) == RUNBEAM_OK) {
        copy.problems = runbeam_problem_list_count(problems);
        if (copy.problems > 0)
            snprintf(copy.first_problem_path, sizeof copy.first_problem_path, "%s",
                     or_null(runbeam_problem_list_path(problems, 0)));
    }
    runbeam_problem_list_free(problems);

    waiter_sync_lock(&e->sync);
    if (e->inside > 0) e->overlaps++;
    e->inside++;
    runbeam_watcher *stopper = e->inside_stop == -1 ? e->stop_from_inside : NULL;
    pthread_mutex_unlock(&e->sync.mu);
    if (e->resolver != NULL && e->inside_blocking == -1) {
        /* A blocking call that needs the network is refused on a librunbeam thread. */
        runbeam_resolution *res = NULL;
        runbeam_resolver_invalidate_all(e->resolver);
        e->inside_blocking = runbeam_resolver_resolve(e->resolver, DICOMWEB, &res);
        runbeam_resolution_free(res);
    }
    runbeam_status stopped = stopper != NULL ? runbeam_watcher_stop(stopper) : -1;
    pthread_mutex_lock(&e->sync.mu);
    e->inside--;
    if (stopper != NULL) e->inside_stop = stopped;
    if (e->sync.calls < MAX_EVENTS) e->items[e->sync.calls] = copy;
    waiter_sync_signal(&e->sync);
}

/* The event of change `id`; waits for it (at most PATIENCE_SECS). NULL if it never came. */
static const struct event *event_for(struct events *e, const char *id) {
    double deadline = now_s() + PATIENCE_SECS;
    int seen = 0;
    while (now_s() < deadline) {
        int calls = waiter_sync_wait(&e->sync, seen + 1, 1);
        for (; seen < calls && seen < MAX_EVENTS; seen++)
            if (strcmp(e->items[seen].change_id, id) == 0) return &e->items[seen];
    }
    fprintf(stderr, "  no event for change %s (%d events)\n", id, seen);
    return NULL;
}

/* ---------------------------------------------------------------------------- helpers */

static runbeam_mesh_config *analytics_config(unsigned poll_interval_secs) {
    char toml[1024];
    snprintf(toml, sizeof toml,
             "[proxy]\nid = \"" BOB_GW "\"\n\n"
             "[provider.runbeam]\napi = \"https://api.runbeam.io\"\npoll_interval_secs = %u\n\n"
             "[pipelines.research.mesh.egress.imaging-out]\n"
             "type = \"http3\"\nbackend = \"dicom-archive\"\nmode = \"mesh\"\n\n"
             "[mesh.imaging-integration]\ntype = \"http3\"\nprovider = \"runbeam\"\n"
             "egress = [\"imaging-out\", \"" DICOMWEB "\"]\n",
             poll_interval_secs);
    runbeam_mesh_config *file = NULL, *dev = NULL;
    if (runbeam_mesh_config_from_toml(toml, &file) != RUNBEAM_OK) return NULL;
    runbeam_mesh_config_with_provider_api(file, "runbeam", api_url, &dev);
    runbeam_mesh_config_free(file);
    return dev;
}

static runbeam_resolver *new_resolver(unsigned poll_interval_secs) {
    runbeam_token_store *store = NULL;
    runbeam_token_manager_config *mc = NULL;
    runbeam_token_manager *m = NULL;
    runbeam_token_store_memory_new(&store);
    runbeam_token_manager_config_new(BOB_GW, &mc);
    runbeam_token_manager_config_set_api_url(mc, api_url);
    runbeam_token_manager_config_set_credential_token(mc, BOB);
    runbeam_token_manager_new(mc, store, &m);
    runbeam_token_manager_config_free(mc);
    runbeam_token_store_free(store);
    runbeam_mesh_config *config = analytics_config(poll_interval_secs);
    runbeam_resolver *r = NULL;
    CHECK(runbeam_resolver_new(config, client, m, NULL, &r) == RUNBEAM_OK, "resolver: %s", last());
    CHECK(runbeam_resolver_validate_startup(r) == RUNBEAM_OK, "%s", last());
    runbeam_mesh_config_free(config);
    runbeam_token_manager_free(m);
    return r;
}

/* POST /_dev/changes for the analytics gateway with the JSON members `members`; the new
 * change's id into `id`. */
static bool publish(const char *members, char *id, size_t len) {
    char body[2048], response[4096];
    snprintf(body, sizeof body, "{\"gateway_code\":\"" BOB_GW "\",%s}", members);
    int status = dev_request("POST", "/_dev/changes", body, response, sizeof response);
    id[0] = '\0';
    if (status != 201) {
        fprintf(stderr, "  publish: HTTP %d\n", status);
        return false;
    }
    json_string(strstr(response, "\r\n\r\n"), "id", id, len);
    return id[0] != '\0';
}

/* The change's status as the devcloud holds it ("pending", "applied", "failed", …), read with
 * the analytics gateway's own machine token. */
static void stored_status(const char *id, char *status, size_t len) {
    status[0] = '\0';
    char *auth = NULL;
    runbeam_client *user = NULL;
    runbeam_status s = runbeam_client_with_token(client, BOB, &user);
    if (s == RUNBEAM_OK) s = runbeam_client_authorize(user, BOB_GW, NULL, &auth);
    runbeam_client_free(user);
    if (s != RUNBEAM_OK) {
        fprintf(stderr, "  authorize: %s\n", last());
        return;
    }
    char token[1024];
    json_string(auth, "machine_token", token, sizeof token);
    runbeam_string_free(auth);
    runbeam_client *gateway = NULL;
    char *json = NULL;
    if (runbeam_client_with_token(client, token, &gateway) == RUNBEAM_OK &&
        runbeam_client_change(gateway, id, &json) == RUNBEAM_OK)
        json_string(json, "status", status, len);
    else
        fprintf(stderr, "  change %s: %s\n", id, last());
    runbeam_string_free(json);
    runbeam_client_free(gateway);
}

static runbeam_status resolve(runbeam_resolver *r, const char *reference) {
    runbeam_resolution *res = NULL;
    runbeam_status s = runbeam_resolver_resolve(r, reference, &res);
    runbeam_resolution_free(res);
    return s;
}

static void wait_for_polls(long n) {
    double deadline = now_s() + PATIENCE_SECS;
    while (dev_count(CHANGES) < n && now_s() < deadline) sleep_ms(100);
}

/* ------------------------------------------------------------------------------ tests */

static void test_a_mesh_change_is_applied(void) {
    runbeam_resolver *r = new_resolver(1);
    CHECK(resolve(r, DICOMWEB) == RUNBEAM_OK, "%s", last());
    CHECK(resolve(r, DICOMWEB_BY_ID) == RUNBEAM_STATUS_NOT_IN_MESH, "%s", last());
    runbeam_issued_mesh_token *mt = NULL;
    CHECK(runbeam_resolver_mesh_token(r, MESH, DICOM_URL, &mt) == RUNBEAM_OK, "%s", last());
    runbeam_issued_mesh_token_free(mt);

    struct events *e = calloc(1, sizeof *e);
    events_init(e);
    runbeam_watcher *w = NULL;
    CHECK(runbeam_resolver_watch(r, on_event, e, &w) == RUNBEAM_OK && w != NULL, "%s", last());
    CHECK(runbeam_watcher_provider_count(w) == 1, "providers %zu",
          runbeam_watcher_provider_count(w));
    CHECK(strcmp(or_null(runbeam_watcher_provider(w, 0)), "runbeam") == 0, "provider %s",
          or_null(runbeam_watcher_provider(w, 0)));
    CHECK(runbeam_watcher_provider(w, 1) == NULL, "out of range");
    CHECK(!runbeam_watcher_is_stopped(w), "running");

    /* DICOMWEB leaves the mesh, the same ingress by id enters it. */
    char id[64];
    CHECK(publish("\"type\":\"mesh\",\"action\":\"updated\",\"config\":"
                  "\"[mesh.imaging-integration]\\ntype = \\\"http3\\\"\\nprovider = \\\"runbeam\\\"\\n"
                  "egress = [\\\"imaging-out\\\", \\\"" DICOMWEB_BY_ID "\\\"]\\n\"",
                  id, sizeof id),
          "publish");
    const struct event *ev = event_for(e, id);
    CHECK(ev != NULL, "an event for the change");
    if (ev != NULL) {
        CHECK(ev->kind == RUNBEAM_WATCH_APPLIED, "kind %d: %s", ev->kind, ev->message);
        CHECK(strcmp(ev->kind_name, "applied") == 0, "%s", ev->kind_name);
        CHECK(strcmp(ev->provider, "runbeam") == 0, "%s", ev->provider);
        CHECK(strcmp(ev->change_type, "mesh") == 0 && strcmp(ev->action, "updated") == 0,
              "%s %s", ev->change_type, ev->action);
        CHECK(ev->mesh_count == 1 && strcmp(ev->meshes, MESH) == 0, "meshes %s", ev->meshes);
        CHECK(ev->references_dropped == 1 && ev->mesh_tokens_dropped == 1,
              "dropped %llu references, %llu mesh tokens",
              (unsigned long long)ev->references_dropped,
              (unsigned long long)ev->mesh_tokens_dropped);
        CHECK(ev->error_status == RUNBEAM_OK && ev->error_kind[0] == '\0' && ev->problems == 0,
              "no error");
        CHECK(ev->retry_in_ms == -1, "retry_in_ms %lld", (long long)ev->retry_in_ms);
    }
    /* The reference that left is refused, the one that entered resolves. */
    CHECK(resolve(r, DICOMWEB) == RUNBEAM_STATUS_NOT_IN_MESH, "%s", last());
    CHECK(resolve(r, DICOMWEB_BY_ID) == RUNBEAM_OK, "%s", last());
    char status[32];
    stored_status(id, status, sizeof status);
    CHECK(strcmp(status, "applied") == 0, "stored status '%s'", status);

    /* The watcher outlives its resolver handle: a deletion still arrives and applies. */
    runbeam_resolver_free(r);
    CHECK(publish("\"type\":\"mesh\",\"action\":\"deleted\",\"name\":\"" MESH "\"", id, sizeof id),
          "publish");
    ev = event_for(e, id);
    CHECK(ev != NULL && ev->kind == RUNBEAM_WATCH_APPLIED, "deleted: %s",
          ev ? ev->message : "no event");
    stored_status(id, status, sizeof status);
    CHECK(strcmp(status, "applied") == 0, "stored status '%s'", status);
    CHECK(e->overlaps == 0, "overlapping callbacks");

    runbeam_watcher_free(w); /* stops it: the callback is not called any more */
    waiter_sync_destroy(&e->sync);
    free(e);
}

static void test_an_invalid_change_fails(void) {
    runbeam_resolver *r = new_resolver(1);
    struct events *e = calloc(1, sizeof *e);
    events_init(e);
    e->resolver = r;
    runbeam_watcher *w = NULL;
    CHECK(runbeam_resolver_watch(r, on_event, e, &w) == RUNBEAM_OK, "%s", last());
    char id[64];
    CHECK(publish("\"type\":\"mesh\",\"action\":\"updated\",\"config\":"
                  "\"[mesh.imaging-integration]\\ntype = \\\"http3\\\"\\nprovider = \\\"runbeam\\\"\\n"
                  "egress = [\\\"runbeam.acme.widget.name.x\\\", "
                  "\\\"partner.team.ingress.name.api\\\"]\\n\"",
                  id, sizeof id),
          "publish");
    const struct event *ev = event_for(e, id);
    CHECK(ev != NULL, "an event for the change");
    if (ev != NULL) {
        CHECK(ev->kind == RUNBEAM_WATCH_FAILED, "kind %d: %s", ev->kind, ev->message);
        CHECK(strcmp(ev->kind_name, "failed") == 0, "%s", ev->kind_name);
        CHECK(strstr(ev->message, "mesh.imaging-integration.egress[0]") != NULL, "%s",
              ev->message);
        CHECK(strstr(ev->message, "Unknown provider 'partner'") != NULL, "%s", ev->message);
        CHECK(ev->error_status == RUNBEAM_STATUS_CONFIG, "%s",
              runbeam_status_str(ev->error_status));
        CHECK(strcmp(ev->error_kind, "Config") == 0, "%s", ev->error_kind);
        CHECK(ev->problems == 2, "%zu problems in the callback", ev->problems);
        CHECK(strcmp(ev->first_problem_path, "mesh.imaging-integration.egress[0]") == 0, "%s",
              ev->first_problem_path);
    }
    CHECK(e->inside_blocking == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "a blocking call in the callback: %s", runbeam_status_str(e->inside_blocking));
    /* Nothing changed. */
    CHECK(resolve(r, DICOMWEB) == RUNBEAM_OK, "the old configuration stays: %s", last());
    char status[32];
    stored_status(id, status, sizeof status);
    CHECK(strcmp(status, "failed") == 0, "stored status '%s'", status);

    /* A change for the gateway itself: handed over, not marked. */
    CHECK(publish("\"type\":\"pipeline\",\"action\":\"updated\",\"resource_id\":\"p-1\"", id,
                  sizeof id),
          "publish");
    ev = event_for(e, id);
    CHECK(ev != NULL && ev->kind == RUNBEAM_WATCH_SKIPPED, "skipped: %s",
          ev ? ev->kind_name : "no event");
    CHECK(ev != NULL && strcmp(ev->change_type, "pipeline") == 0, "type");
    runbeam_watcher_free(w);
    runbeam_resolver_free(r);
    waiter_sync_destroy(&e->sync);
    free(e);
}

static void test_stop_stops(void) {
    runbeam_resolver *r = new_resolver(1);
    struct events *e = calloc(1, sizeof *e);
    events_init(e);
    runbeam_watcher *w = NULL;
    dev_delete("/_dev/counters");
    CHECK(runbeam_resolver_watch(r, on_event, e, &w) == RUNBEAM_OK, "%s", last());
    wait_for_polls(2);
    CHECK(dev_count(CHANGES) >= 2, "polls %ld", dev_count(CHANGES));
    CHECK(runbeam_watcher_stop(w) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_watcher_is_stopped(w), "stopped");
    CHECK(runbeam_watcher_stop(w) == RUNBEAM_OK, "idempotent");
    int calls = waiter_sync_count(&e->sync);
    long polls = dev_count(CHANGES);
    char id[64];
    CHECK(publish("\"type\":\"pipeline\",\"action\":\"updated\",\"resource_id\":\"p-2\"", id,
                  sizeof id),
          "publish");
    sleep_ms(2500);
    CHECK(dev_count(CHANGES) == polls, "no poll after stop: %ld then %ld", polls,
          dev_count(CHANGES));
    CHECK(waiter_sync_count(&e->sync) == calls, "no callback after stop");
    runbeam_watcher_free(w);
    waiter_sync_destroy(&e->sync);
    free(e);

    /* Stopped from inside the callback: that call is the last. */
    e = calloc(1, sizeof *e);
    events_init(e);
    w = NULL;
    /* The callback reads `stop_from_inside` under this lock: it sees the watcher even when
     * it runs before runbeam_resolver_watch() returned. */
    pthread_mutex_lock(&e->sync.mu);
    CHECK(runbeam_resolver_watch(r, on_event, e, &w) == RUNBEAM_OK, "%s", last());
    e->stop_from_inside = w;
    pthread_mutex_unlock(&e->sync.mu);
    CHECK(publish("\"type\":\"pipeline\",\"action\":\"updated\",\"resource_id\":\"p-3\"", id,
                  sizeof id),
          "publish");
    CHECK(waiter_sync_wait(&e->sync, 1, PATIENCE_SECS) >= 1, "a first event");
    calls = waiter_sync_count(&e->sync);
    CHECK(e->inside_stop == RUNBEAM_OK, "stop from inside: %s", runbeam_status_str(e->inside_stop));
    CHECK(runbeam_watcher_is_stopped(w), "stopped");
    polls = dev_count(CHANGES);
    CHECK(publish("\"type\":\"pipeline\",\"action\":\"updated\",\"resource_id\":\"p-4\"", id,
                  sizeof id),
          "publish");
    sleep_ms(2500);
    CHECK(waiter_sync_count(&e->sync) == calls, "no callback after the one that stopped: %d then %d",
          calls, waiter_sync_count(&e->sync));
    CHECK(dev_count(CHANGES) == polls, "no poll after stop");
    runbeam_watcher_free(w);
    runbeam_resolver_free(r);
    waiter_sync_destroy(&e->sync);
    free(e);
}

static void test_arguments(void) {
    runbeam_resolver *r = new_resolver(0);
    runbeam_watcher *w = NULL;
    int dummy = 0;
    CHECK(runbeam_resolver_watch(NULL, on_event, &dummy, &w) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL resolver");
    CHECK(runbeam_resolver_watch(r, NULL, &dummy, &w) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL callback");
    CHECK(runbeam_resolver_watch(r, on_event, &dummy, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL out");
    CHECK(w == NULL, "nothing written");
    /* poll_interval_secs = 0: nothing is polled, the callback is never called. */
    CHECK(runbeam_resolver_watch(r, on_event, &dummy, &w) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_watcher_provider_count(w) == 0, "no provider polled");
    CHECK(runbeam_watcher_stop(NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL stop");
    CHECK(runbeam_watcher_provider_count(NULL) == 0 && runbeam_watcher_provider(NULL, 0) == NULL &&
              !runbeam_watcher_is_stopped(NULL),
          "NULL getters");
    runbeam_watcher_free(w);
    runbeam_watcher_free(NULL);
    runbeam_resolver_free(r);
}

int main(int argc, char **argv) {
    int status = gateway_main_setup(argc, argv, &client);
    if (status != 0) return status;

    test_a_mesh_change_is_applied();
    test_an_invalid_change_fails();
    test_stop_stops();
    test_arguments();

    runbeam_client_free(client);
    devcloud_stop();
    return check_summary();
}
