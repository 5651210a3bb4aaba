/*
 * C test suite of the collection calls for every one of the eight collections (the C side of
 * tests/e2e/tests/resources.rs), and of authorizing with a user JWT, against a
 * runbeam-devcloud subprocess over real HTTP. Compiled with -Wall -Wextra -Werror -pedantic
 * against include/runbeam.h, run under AddressSanitizer + UBSan and under valgrind (see
 * tests/c/c.mk).
 *
 * For each kind: runbeam_client_create with a body following the schema documented on its
 * RUNBEAM_COLLECTION_* constant, runbeam_client_get (the same JSON as the create), the
 * resource found by runbeam_client_list_all and by a page cursor, runbeam_client_update_resource
 * of its description, runbeam_client_delete, and a get that is then RUNBEAM_STATUS_NOT_FOUND.
 * Every member of the body sent must come back as sent, with "id", "team_id" (the caller's
 * team) and "created_at". A field the server adds that the header does not list ("metadata"
 * and "machine_public_key" of a gateway created by authorize) is passed through, and kept
 * through an update. runbeam_client_authorize has no machine public key argument (only
 * metadata), so the key itself cannot be sent from C: the gateway's null "machine_public_key"
 * is what is checked.
 *
 * The user JWT comes from the devcloud's POST /_dev/jwt (dev_request of devcloud.h); the machine
 * token it authorizes resolves a reference and reads the base URL.
 *
 * Usage: test_resources <path-to-runbeam-devcloud>
 * Prints one line per failed check and ends with "N passed, N failed".
 */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "devcloud.h"
#include "runbeam.h"

#define BOB "2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f"
#define BOB_TEAM "01JDWS3E28JT97KB6CQ643DZVM" /* ai-analytics */
#define BOB_GW "analytics-gw-1"
#define ALICE_EMAIL "alice@radiology.example.com"
#define ALICE_TEAM "01JDWM9S346Q3D25VT4F5V37E3" /* radiology-dept */
#define ALICE_GW "radiology-gw-1"
#define DICOMWEB "runbeam.radiology-dept.ingress.name.dicomweb"

static const char *or_null(const char *s) { return s ? s : "(null)"; }
static const char *last(void) { return runbeam_last_error_message(); }

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

/* Copies the string member `key` of the object starting at `object` (its '{'), not of the
 * objects nested in it, to `buf` (empty if absent). */
static void member_string(const char *object, const char *key, char *buf, size_t len) {
    char pattern[128];
    size_t plen = (size_t)snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    int depth = 0, in_string = 0;
    buf[0] = '\0';
    if (object == NULL) return;
    for (const char *p = object; *p != '\0'; p++) {
        if (in_string) {
            if (*p == '\\' && p[1] != '\0') p++;
            else if (*p == '"') in_string = 0;
            continue;
        }
        if (depth == 1 && strncmp(p, pattern, plen) == 0) {
            json_string(p, key, buf, len);
            return;
        }
        if (*p == '"') in_string = 1;
        else if (*p == '{' || *p == '[') depth++;
        else if (*p == '}' || *p == ']') {
            if (--depth == 0) return;
        }
    }
}

/* Whether `json` holds `"key":"<value>"`. */
static int has_string(const char *json, const char *key, const char *value) {
    char pattern[512];
    snprintf(pattern, sizeof pattern, "\"%s\":\"%s\"", key, value);
    return json != NULL && strstr(json, pattern) != NULL;
}

/* Whether `json` holds `"key":"<something non-empty>"`. */
static int has_nonempty(const char *json, const char *key) {
    char value[256];
    json_string(json, key, value, sizeof value);
    return value[0] != '\0';
}

/* Whether `json` holds the whole member `member` (followed by ',' or '}', so that a value is
 * not matched by its prefix). */
static int has_member(const char *json, const char *member) {
    size_t n = strlen(member);
    for (const char *p = json != NULL ? strstr(json, member) : NULL; p != NULL; p = strstr(p + 1, member)) {
        if (p[n] == ',' || p[n] == '}') return 1;
    }
    return 0;
}

/*
 * Checks that every top-level member `"key":value` of the compact JSON object `body` occurs,
 * as written, in `json` (the server's answer), except the member `skip` (NULL: none). Returns
 * how many members were checked.
 */
static int members_as_sent(const char *kind, const char *body, const char *json, const char *skip) {
    int members = 0;
    const char *start = body + 1; /* after '{' */
    int depth = 0, in_string = 0;
    for (const char *p = start; *p != '\0'; p++) {
        if (in_string) {
            if (*p == '\\' && p[1] != '\0') p++;
            else if (*p == '"') in_string = 0;
            continue;
        }
        if (*p == '"') in_string = 1;
        else if (*p == '[' || *p == '{') depth++;
        else if ((*p == ']' || *p == '}') && depth > 0) depth--;
        else if ((*p == ',' && depth == 0) || (*p == '}' && depth == 0)) {
            char member[512];
            size_t n = (size_t)(p - start);
            if (n >= sizeof member) n = sizeof member - 1;
            memcpy(member, start, n);
            member[n] = '\0';
            start = p + 1;
            char skipped[128];
            snprintf(skipped, sizeof skipped, "\"%s\":", skip != NULL ? skip : "");
            if (skip != NULL && strncmp(member, skipped, strlen(skipped)) == 0) {
                if (*p == '}') break;
                continue;
            }
            CHECK(has_member(json, member), "%s: %s not as sent: %s", kind, member, or_null(json));
            members++;
            if (*p == '}') break;
        }
    }
    return members;
}

/* Whether a page cursor over `collection` (2 items a page) meets `"id":"<id>"`; counts pages. */
static int found_by_cursor(const runbeam_client *client, runbeam_collection collection, const char *id,
                           int *pages_read) {
    runbeam_page_cursor *pages = NULL;
    char *items = NULL;
    char pattern[256];
    int found = 0;
    *pages_read = 0;
    snprintf(pattern, sizeof pattern, "\"id\":\"%s\"", id);
    if (runbeam_client_pages(client, collection, 2, &pages) != RUNBEAM_OK) return 0;
    while (runbeam_page_cursor_next(pages, &items) == RUNBEAM_OK && items != NULL) {
        (*pages_read)++;
        found = strstr(items, pattern) != NULL;
        runbeam_string_free(items);
        items = NULL;
        if (found) break; /* stop early: no further page is requested */
    }
    runbeam_page_cursor_free(pages);
    return found;
}

/* Whether runbeam_client_list_all(collection) holds `"id":"<id>"`. */
static int found_by_list_all(const runbeam_client *client, runbeam_collection collection, const char *id) {
    char *json = NULL;
    char pattern[256];
    snprintf(pattern, sizeof pattern, "\"id\":\"%s\"", id);
    runbeam_status status = runbeam_client_list_all(client, collection, 100, &json);
    CHECK(status == RUNBEAM_OK, "list_all %d: %s", collection, last());
    CHECK(json != NULL && json[0] == '[', "%s", or_null(json));
    int found = json != NULL && strstr(json, pattern) != NULL;
    runbeam_string_free(json);
    return found;
}

/*
 * Creates `body` in `collection`, reads it, finds it in the list, updates its description,
 * deletes it and checks it is gone. `team` is the caller's team id.
 */
static void crud(const runbeam_client *client, runbeam_collection collection, const char *kind,
                 const char *body, const char *team) {
    char *created = NULL, *json = NULL;
    char id[128] = {0};

    CHECK(runbeam_client_create(client, collection, body, &created) == RUNBEAM_OK, "%s: create: %s", kind,
          last());
    if (created == NULL) return;
    CHECK(strncmp(created, "{\"data\":{", 9) == 0, "%s: {\"data\": resource}: %s", kind, created);
    member_string(created + strlen("{\"data\":"), "id", id, sizeof id);
    CHECK(id[0] != '\0', "%s: id: %s", kind, created);
    CHECK(has_string(created, "team_id", team), "%s: team_id %s: %s", kind, team, created);
    CHECK(has_nonempty(created, "created_at"), "%s: created_at: %s", kind, created);
    CHECK(has_nonempty(created, "updated_at"), "%s: updated_at: %s", kind, created);
    CHECK(members_as_sent(kind, body, created, NULL) >= 2, "%s: the body's members were checked", kind);

    /* get: the same resource as the create answered. */
    CHECK(runbeam_client_get(client, collection, id, &json) == RUNBEAM_OK, "%s: get: %s", kind, last());
    CHECK(json != NULL && strcmp(json, created) == 0, "%s: get\n  %s\n  created\n  %s", kind, or_null(json),
          created);
    runbeam_string_free(json);
    json = NULL;

    /* list_all and the page cursor both find it. */
    CHECK(found_by_list_all(client, collection, id), "%s: %s not in list_all", kind, id);
    int pages_read = 0;
    CHECK(found_by_cursor(client, collection, id, &pages_read), "%s: %s not met by the cursor (%d pages)",
          kind, id, pages_read);

    /* update: the description changes, the rest stays. */
    char update[256];
    snprintf(update, sizeof update, "{\"description\":\"%s changed from C\"}", kind);
    CHECK(runbeam_client_update_resource(client, collection, id, update, &json) == RUNBEAM_OK,
          "%s: update: %s", kind, last());
    char description[128];
    snprintf(description, sizeof description, "%s changed from C", kind);
    CHECK(has_string(json, "description", description), "%s: %s", kind, or_null(json));
    CHECK(has_string(json, "id", id), "%s: same id: %s", kind, or_null(json));
    CHECK(has_string(json, "team_id", team), "%s: %s", kind, or_null(json));
    char before[64], after[64];
    json_string(created, "created_at", before, sizeof before);
    json_string(json, "created_at", after, sizeof after);
    CHECK(strcmp(before, after) == 0, "%s: created_at %s then %s", kind, before, after);
    members_as_sent(kind, body, json, "description"); /* the other fields are untouched */
    runbeam_string_free(json);
    json = NULL;
    CHECK(runbeam_client_get(client, collection, id, &json) == RUNBEAM_OK, "%s: get: %s", kind, last());
    CHECK(has_string(json, "description", description), "%s: stored: %s", kind, or_null(json));
    runbeam_string_free(json);
    json = NULL;

    /* delete: gone for get, list_all and a second delete. */
    CHECK(runbeam_client_delete(client, collection, id) == RUNBEAM_OK, "%s: delete: %s", kind, last());
    CHECK(runbeam_client_get(client, collection, id, &json) == RUNBEAM_STATUS_NOT_FOUND, "%s: get after delete: %s",
          kind, last());
    CHECK(runbeam_last_error_http_status() == 404, "%s: %u", kind, runbeam_last_error_http_status());
    CHECK(json == NULL, "out untouched");
    CHECK(!found_by_list_all(client, collection, id), "%s: %s still listed", kind, id);
    CHECK(runbeam_client_delete(client, collection, id) == RUNBEAM_STATUS_NOT_FOUND, "%s: second delete: %s", kind,
          last());
    runbeam_string_free(created);
}

/* Creates a resource that stays for the others to refer to; copies its id to `id`. */
static void create_kept(const runbeam_client *client, runbeam_collection collection, const char *body, char *id,
                        size_t len) {
    char *json = NULL;
    id[0] = '\0';
    CHECK(runbeam_client_create(client, collection, body, &json) == RUNBEAM_OK, "%s: %s", body, last());
    json_string(json, "id", id, len);
    CHECK(id[0] != '\0', "%s", or_null(json));
    runbeam_string_free(json);
}

/* --------------------------------------------------------------------------------- tests */

static void test_every_kind(void) {
    runbeam_client *bob = new_client(BOB);
    CHECK(bob != NULL, "client: %s", last());
    if (bob == NULL) return;
    char body[1024];

    crud(bob, RUNBEAM_COLLECTION_GATEWAYS, "gateway",
         "{\"code\":\"c-res-gw\",\"name\":\"C resources gateway\",\"description\":\"made in C\","
         "\"enabled\":true}",
         BOB_TEAM);

    /* The others refer to a gateway, a pipeline, a mesh, an endpoint and a backend that stay
     * until the end. */
    char gw[128], pipeline[128], mesh[128], endpoint[128], backend[128];
    create_kept(bob, RUNBEAM_COLLECTION_GATEWAYS, "{\"code\":\"c-res-gw-2\"}", gw, sizeof gw);
    snprintf(body, sizeof body, "{\"name\":\"c-res-pipeline\",\"gateway_id\":\"%s\"}", gw);
    create_kept(bob, RUNBEAM_COLLECTION_PIPELINES, body, pipeline, sizeof pipeline);
    create_kept(bob, RUNBEAM_COLLECTION_MESHES, "{\"name\":\"c-res-mesh\",\"protocol\":\"http\"}", mesh,
                sizeof mesh);
    snprintf(body, sizeof body, "{\"name\":\"c-res-endpoint-kept\",\"pipeline_id\":\"%s\",\"path\":\"/in\"}",
             pipeline);
    create_kept(bob, RUNBEAM_COLLECTION_ENDPOINTS, body, endpoint, sizeof endpoint);
    snprintf(body, sizeof body,
             "{\"name\":\"c-res-backend-kept\",\"pipeline_id\":\"%s\",\"url\":\"https://out.c-res.example\"}",
             pipeline);
    create_kept(bob, RUNBEAM_COLLECTION_BACKENDS, body, backend, sizeof backend);

    /* Every field of each schema is sent at least once. */
    crud(bob, RUNBEAM_COLLECTION_SERVICES, "service",
         "{\"name\":\"c-res-service\",\"url\":\"https://c-res.example.com\",\"description\":\"svc\","
         "\"enabled\":true}",
         BOB_TEAM);

    snprintf(body, sizeof body,
             "{\"name\":\"c-res-pipeline-2\",\"gateway_id\":\"%s\",\"description\":\"second\",\"enabled\":false}",
             gw);
    crud(bob, RUNBEAM_COLLECTION_PIPELINES, "pipeline", body, BOB_TEAM);

    snprintf(body, sizeof body,
             "{\"name\":\"c-res-endpoint\",\"pipeline_id\":\"%s\",\"path\":\"/studies\",\"description\":\"ep\","
             "\"enabled\":true}",
             pipeline);
    crud(bob, RUNBEAM_COLLECTION_ENDPOINTS, "endpoint", body, BOB_TEAM);

    snprintf(body, sizeof body,
             "{\"name\":\"c-res-backend\",\"pipeline_id\":\"%s\",\"url\":\"https://pacs.c-res.example\","
             "\"description\":\"pacs\",\"enabled\":false}",
             pipeline);
    crud(bob, RUNBEAM_COLLECTION_BACKENDS, "backend", body, BOB_TEAM);

    crud(bob, RUNBEAM_COLLECTION_MESHES, "mesh",
         "{\"name\":\"c-res-mesh-2\",\"protocol\":\"http3\",\"description\":\"quic\",\"enabled\":true}",
         BOB_TEAM);

    snprintf(body, sizeof body,
             "{\"name\":\"c-res-ingress\",\"urls\":[\"https://c-res.example.com/in\",\"https://c-res.example.com/in2\"],"
             "\"protocol\":\"http\",\"mode\":\"mesh\",\"mesh_id\":\"%s\",\"pipeline_id\":\"%s\",\"gateway_id\":\"%s\","
             "\"endpoint_id\":\"%s\",\"description\":\"in\",\"enabled\":true}",
             mesh, pipeline, gw, endpoint);
    crud(bob, RUNBEAM_COLLECTION_INGRESSES, "ingress", body, BOB_TEAM);
    snprintf(body, sizeof body, "{\"name\":\"c-res-ingress-default\",\"urls\":[\"https://c-res.example.com/d\"],"
             "\"protocol\":\"http3\",\"mode\":\"default\"}");
    crud(bob, RUNBEAM_COLLECTION_INGRESSES, "ingress (default mode)", body, BOB_TEAM);

    snprintf(body, sizeof body,
             "{\"name\":\"c-res-egress\",\"protocol\":\"http\",\"mode\":\"mesh\",\"mesh_id\":\"%s\","
             "\"pipeline_id\":\"%s\",\"gateway_id\":\"%s\",\"backend_id\":\"%s\",\"description\":\"out\","
             "\"enabled\":false}",
             mesh, pipeline, gw, backend);
    crud(bob, RUNBEAM_COLLECTION_EGRESSES, "egress", body, BOB_TEAM);

    /* The server's checks reach C unchanged: an ingress needs urls. */
    char *json = NULL;
    CHECK(runbeam_client_create(bob, RUNBEAM_COLLECTION_INGRESSES, "{\"name\":\"c-res-no-urls\"}", &json) ==
              RUNBEAM_STATUS_VALIDATION, "%s", last());
    CHECK(runbeam_last_error_http_status() == 422, "%u", runbeam_last_error_http_status());
    CHECK(strstr(runbeam_last_error_field_errors_json(), "\"urls\":[") != NULL, "%s",
          runbeam_last_error_field_errors_json());
    CHECK(json == NULL, "out untouched");

    /* A resource still referenced cannot be deleted: CONFLICT (the pipeline is the endpoint's
     * and the backend's, the gateway the pipeline's). */
    CHECK(runbeam_client_delete(bob, RUNBEAM_COLLECTION_PIPELINES, pipeline) == RUNBEAM_STATUS_CONFLICT, "%s",
          last());
    CHECK(runbeam_last_error_http_status() == 409, "%u", runbeam_last_error_http_status());
    CHECK(runbeam_client_delete(bob, RUNBEAM_COLLECTION_GATEWAYS, gw) == RUNBEAM_STATUS_CONFLICT, "%s", last());

    /* The kept ones go too, those that refer to others first. */
    CHECK(runbeam_client_delete(bob, RUNBEAM_COLLECTION_ENDPOINTS, endpoint) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_client_delete(bob, RUNBEAM_COLLECTION_BACKENDS, backend) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_client_delete(bob, RUNBEAM_COLLECTION_PIPELINES, pipeline) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_client_delete(bob, RUNBEAM_COLLECTION_MESHES, mesh) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_client_delete(bob, RUNBEAM_COLLECTION_GATEWAYS, gw) == RUNBEAM_OK, "%s", last());
    runbeam_client_free(bob);
}

/* A field the server adds which the header does not list comes through get and update. */
static void test_unlisted_fields_pass_through(void) {
    runbeam_client *bob = new_client(BOB);
    char *json = NULL;
    char id[128];
    if (bob == NULL) return;

    /* Authorizing a new code creates the gateway with "metadata" and "machine_public_key"
     * (null: runbeam_client_authorize cannot send a key). */
    CHECK(runbeam_client_authorize(bob, "c-res-keyed-gw", "[\"site=c-test\",\"rack=2\"]", &json) == RUNBEAM_OK,
          "%s", last());
    const char *gateway = json != NULL ? strstr(json, "\"gateway\":{") : NULL;
    member_string(gateway != NULL ? gateway + strlen("\"gateway\":") : NULL, "id", id, sizeof id);
    CHECK(id[0] != '\0', "%s", or_null(json));
    runbeam_string_free(json);
    json = NULL;

    CHECK(runbeam_client_get(bob, RUNBEAM_COLLECTION_GATEWAYS, id, &json) == RUNBEAM_OK, "%s", last());
    CHECK(has_string(json, "code", "c-res-keyed-gw"), "%s", or_null(json));
    CHECK(json != NULL && strstr(json, "\"metadata\":[\"site=c-test\",\"rack=2\"]") != NULL, "%s", or_null(json));
    CHECK(json != NULL && strstr(json, "\"machine_public_key\":null") != NULL, "%s", or_null(json));
    runbeam_string_free(json);
    json = NULL;

    /* Listed with it too. */
    CHECK(runbeam_client_list_all(bob, RUNBEAM_COLLECTION_GATEWAYS, 100, &json) == RUNBEAM_OK, "%s", last());
    CHECK(json != NULL && strstr(json, "\"metadata\":[\"site=c-test\",\"rack=2\"]") != NULL, "%s", or_null(json));
    runbeam_string_free(json);
    json = NULL;

    /* An update of a known field keeps it. */
    CHECK(runbeam_client_update_resource(bob, RUNBEAM_COLLECTION_GATEWAYS, id, "{\"description\":\"kept\"}",
                                         &json) == RUNBEAM_OK, "%s", last());
    CHECK(has_string(json, "description", "kept"), "%s", or_null(json));
    CHECK(json != NULL && strstr(json, "\"metadata\":[\"site=c-test\",\"rack=2\"]") != NULL, "%s", or_null(json));
    CHECK(json != NULL && strstr(json, "\"machine_public_key\":null") != NULL, "%s", or_null(json));
    runbeam_string_free(json);
    json = NULL;

    /* A second authorize with new metadata replaces it on the existing gateway. */
    CHECK(runbeam_client_authorize(bob, "c-res-keyed-gw", "[\"site=moved\"]", &json) == RUNBEAM_OK, "%s", last());
    runbeam_string_free(json);
    json = NULL;
    CHECK(runbeam_client_get(bob, RUNBEAM_COLLECTION_GATEWAYS, id, &json) == RUNBEAM_OK, "%s", last());
    CHECK(json != NULL && strstr(json, "\"metadata\":[\"site=moved\"]") != NULL, "%s", or_null(json));
    CHECK(has_string(json, "description", "kept"), "%s", or_null(json));
    runbeam_string_free(json);
    json = NULL;

    CHECK(runbeam_client_delete(bob, RUNBEAM_COLLECTION_GATEWAYS, id) == RUNBEAM_OK, "%s", last());
    runbeam_client_free(bob);
}

/* POST /_dev/jwt {"email": email}; copies the token to `out`. Returns 1 on success. */
static int mint_user_jwt(const char *email, char *out, size_t len) {
    char body[256];
    char response[16384];
    snprintf(body, sizeof body, "{\"email\":\"%s\"}", email);
    out[0] = '\0';
    int status = dev_request("POST", "/_dev/jwt", body, response, sizeof response);
    if (status != 200) {
        fprintf(stderr, "POST /_dev/jwt %s: HTTP %d\n", body, status);
        return 0;
    }
    json_string(strstr(response, "\r\n\r\n"), "token", out, len);
    return strchr(out, '.') != NULL;
}

static void test_authorize_with_user_jwt(void) {
    char jwt[8192];
    char machine_token[256];
    char *json = NULL;

    CHECK(mint_user_jwt(ALICE_EMAIL, jwt, sizeof jwt), "minted: %s", jwt);
    if (jwt[0] == '\0') return;
    runbeam_client *alice = new_client(jwt);
    CHECK(alice != NULL, "client: %s", last());
    if (alice == NULL) return;

    CHECK(runbeam_client_authorize(alice, ALICE_GW, "[\"authorized=c-jwt\"]", &json) == RUNBEAM_OK, "%s", last());
    json_string(json, "machine_token", machine_token, sizeof machine_token);
    CHECK(machine_token[0] != '\0', "%s", or_null(json));
    CHECK(json != NULL && strstr(json, "\"code\":\"" ALICE_GW "\"") != NULL, "%s", or_null(json));
    CHECK(json != NULL && strstr(json, "\"expires_at\":\"") != NULL, "%s", or_null(json));
    /* Authorized by the JWT's user. */
    CHECK(json != NULL && strstr(json, "\"email\":\"" ALICE_EMAIL "\"") != NULL, "%s", or_null(json));
    CHECK(json != NULL && strstr(json, jwt) == NULL, "the user JWT is not echoed");
    runbeam_string_free(json);
    json = NULL;

    /* The machine token works: a reference of the gateway's team resolves, base URL reads. */
    runbeam_client *gateway = NULL;
    CHECK(runbeam_client_with_token(alice, machine_token, &gateway) == RUNBEAM_OK, "%s", last());
    runbeam_reference *ref = NULL;
    CHECK(runbeam_reference_parse(DICOMWEB, &ref) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_client_resolve(gateway, ref, &json) == RUNBEAM_OK, "%s", last());
    CHECK(json != NULL && strstr(json, "\"name\":\"dicomweb\"") != NULL, "%s", or_null(json));
    runbeam_string_free(json);
    json = NULL;
    runbeam_reference_free(ref);
    CHECK(runbeam_client_base_url(gateway, &json) == RUNBEAM_OK, "%s", last());
    CHECK(json != NULL && strstr(json, "\"base_url\":") != NULL, "%s", or_null(json));
    runbeam_string_free(json);
    json = NULL;

    /* The JWT is a user credential for the collections too: a gateway it authorizes is in
     * Alice's team. */
    char id[128];
    CHECK(runbeam_client_authorize(alice, "c-res-jwt-gw", NULL, &json) == RUNBEAM_OK, "%s", last());
    const char *gw = json != NULL ? strstr(json, "\"gateway\":{") : NULL;
    member_string(gw != NULL ? gw + strlen("\"gateway\":") : NULL, "id", id, sizeof id);
    CHECK(id[0] != '\0', "%s", or_null(json));
    runbeam_string_free(json);
    json = NULL;
    CHECK(runbeam_client_get(alice, RUNBEAM_COLLECTION_GATEWAYS, id, &json) == RUNBEAM_OK, "%s", last());
    CHECK(has_string(json, "team_id", ALICE_TEAM), "%s", or_null(json));
    runbeam_string_free(json);
    json = NULL;
    CHECK(runbeam_client_delete(alice, RUNBEAM_COLLECTION_GATEWAYS, id) == RUNBEAM_OK, "%s", last());

    /* Another team's gateway: 403, as with a Sanctum token. */
    CHECK(runbeam_client_authorize(alice, BOB_GW, NULL, &json) == RUNBEAM_STATUS_PERMISSION_DENIED, "%s", last());
    CHECK(runbeam_last_error_http_status() == 403, "%u", runbeam_last_error_http_status());
    CHECK(json == NULL, "out untouched");

    /* Revoked with the same JWT, the machine token stops working. */
    CHECK(runbeam_client_revoke(alice, ALICE_GW, &json) == RUNBEAM_OK, "%s", last());
    runbeam_string_free(json);
    json = NULL;
    CHECK(runbeam_client_base_url(gateway, &json) == RUNBEAM_STATUS_UNAUTHORIZED, "%s", last());
    CHECK(json == NULL, "out untouched");

    /* A JWT the devcloud did not sign is refused. */
    char forged[8192];
    snprintf(forged, sizeof forged, "%s", jwt);
    size_t n = strlen(forged);
    forged[n - 2] = forged[n - 2] == 'A' ? 'B' : 'A';
    runbeam_client *mallory = new_client(forged);
    CHECK(runbeam_client_authorize(mallory, ALICE_GW, NULL, &json) == RUNBEAM_STATUS_UNAUTHORIZED, "%s", last());
    CHECK(runbeam_last_error_http_status() == 401, "%u", runbeam_last_error_http_status());
    CHECK(json == NULL, "out untouched");
    runbeam_client_free(mallory);

    runbeam_client_free(gateway);
    runbeam_client_free(alice);
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
    test_every_kind();
    test_unlisted_fields_pass_through();
    test_authorize_with_user_jwt();
    devcloud_stop();
    return check_summary();
}
