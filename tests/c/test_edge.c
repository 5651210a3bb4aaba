/*
 * The HTTP edge through the C ABI (docs/edge.md) against a runbeam-devcloud subprocess over
 * real HTTP: the answer a client gets for each failure (runbeam_refusal_from_last_error,
 * runbeam_refusal_for_status) — 401 with the exact WWW-Authenticate for a missing, malformed,
 * expired or untrusted user JWT, 403 for a reference outside the mesh, 400 for a path that
 * would leave the resource, 503 with Retry-After when the Cloud fails (its own Retry-After
 * carried) or cannot be reached, and for keys that cannot be fetched —; the mesh guard
 * (runbeam_resolver_verify_mesh_request: a token the sender obtained, tokens minted with
 * /_dev/jwt for another mesh or destination, a user JWT, expiry, the served URL); the
 * outbound helper (URL and header, the second call from the cache without a request, the
 * _cached and _async forms); runbeam_join_path; NULL and invalid UTF-8 arguments. Messages
 * never quote a token.
 *
 * Usage: test_edge <path-to-runbeam-devcloud>
 */
#define _POSIX_C_SOURCE 200809L

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
#define BOB_EMAIL "bob@analytics.example.com"
#define BOB_GW "analytics-gw-1"
#define ALICE_GW "radiology-gw-1"
#define DICOMWEB "runbeam.radiology-dept.ingress.name.dicomweb"
#define PACS "runbeam.radiology-dept.ingress.name.pacs"
#define DICOM_URL "https://dicom.radiology.example.com"
#define MESH "imaging-integration"
/* The mesh id in the tokens the Cloud issues for this mesh: its `id` in the configuration,
 * else its name (radiology-dept.toml sets no id), as the sender asks for it. */
#define MESH_ID MESH
#define OTHER_MESH_ID "01JDWZZZZZZZZZZZZZZZZZZZZZ"
#define RESOLVE "GET /api/harmony/resources/resolve"
#define MESH_TOKEN "POST /api/harmony/mesh/token"
#define INVALID_TOKEN "Bearer error=\"invalid_token\""
#define TOKEN_CAP 8192

static const char *or_null(const char *s) { return s ? s : "(null)"; }
static const char *last(void) { return runbeam_last_error_message(); }
static bool same(const char *a, const char *b) { return a != NULL && b != NULL && strcmp(a, b) == 0; }

static runbeam_client *client;       /* default HTTP settings (retries) */
static runbeam_client *quick_client; /* one attempt: the Cloud-down cases answer at once */

/* --------------------------------------------------------------------------- helpers */

/* POST /_dev/jwt {"email": bob, <extra>}; copies the token to `out`. */
static bool mint(const char *extra, char *out, size_t len) {
    char body[1536];
    char response[TOKEN_CAP + 1024];
    snprintf(body, sizeof body, "{\"email\":\"" BOB_EMAIL "\"%s%s}", extra ? "," : "",
             extra ? extra : "");
    int status = dev_request("POST", "/_dev/jwt", body, response, sizeof response);
    out[0] = '\0';
    if (status != 200) {
        fprintf(stderr, "mint %s: HTTP %d\n", body, status);
        return false;
    }
    json_string(strstr(response, "\r\n\r\n"), "token", out, len);
    return strchr(out, '.') != NULL;
}

/* "Bearer <token>". */
static void bearer(const char *token, char *out, size_t len) { snprintf(out, len, "Bearer %s", token); }

/* A port nothing listens on (bound, then closed). */
static int dead_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
        port = ntohs(addr.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

static runbeam_mesh_config *config_at(const char *toml, const char *cloud) {
    runbeam_mesh_config *file = NULL, *dev = NULL;
    if (runbeam_mesh_config_from_toml(toml, &file) != RUNBEAM_OK) return NULL;
    runbeam_mesh_config_with_provider_api(file, "runbeam", cloud, &dev);
    runbeam_mesh_config_free(file);
    return dev;
}

/* ai-analytics.toml's mesh part (the sender). */
static const char *ANALYTICS =
    "[proxy]\nid = \"" BOB_GW "\"\n\n[provider.runbeam]\napi = \"https://api.runbeam.io\"\n\n"
    "[pipelines.research.mesh.egress.imaging-out]\n"
    "type = \"http3\"\nbackend = \"dicom-archive\"\nmode = \"mesh\"\n\n"
    "[mesh.imaging-integration]\ntype = \"http3\"\nprovider = \"runbeam\"\n"
    "egress = [\"imaging-out\", \"" DICOMWEB "\"]\n";

/* radiology-dept.toml's mesh part (the receiver). */
static const char *RADIOLOGY =
    "[provider.runbeam]\napi = \"https://api.runbeam.io\"\n\n"
    "[pipelines.dicom-api.mesh.ingress.dicomweb]\n"
    "type = \"http3\"\nurls = [\"" DICOM_URL "\"]\nmode = \"mesh\"\n\n"
    "[mesh.imaging-integration]\ntype = \"http3\"\nprovider = \"runbeam\"\n"
    "ingress = [\"dicomweb\"]\n";

/* A resolver for `toml` pointed at `cloud`, as gateway `instance` (a memory token store). */
static runbeam_resolver *resolver_for(const char *toml, const char *cloud, const char *instance,
                                      const char *credential, runbeam_client *http) {
    runbeam_mesh_config *config = config_at(toml, cloud);
    runbeam_token_store *store = NULL;
    runbeam_token_manager_config *mc = NULL;
    runbeam_token_manager *m = NULL;
    runbeam_resolver *r = NULL;
    runbeam_token_store_memory_new(&store);
    runbeam_token_manager_config_new(instance, &mc);
    runbeam_token_manager_config_set_api_url(mc, api_url);
    if (credential != NULL) runbeam_token_manager_config_set_credential_token(mc, credential);
    runbeam_token_manager_new(mc, store, &m);
    runbeam_status s = runbeam_resolver_new(config, http, m, NULL, &r);
    CHECK(s == RUNBEAM_OK && r != NULL, "resolver_new: %s", last());
    runbeam_token_manager_free(m);
    runbeam_token_manager_config_free(mc);
    runbeam_token_store_free(store);
    runbeam_mesh_config_free(config);
    return r;
}

/* A validator trusting `issuer`. */
static runbeam_validator *validator_for(const char *issuer) {
    runbeam_validator_config *vc = NULL;
    runbeam_validator *v = NULL;
    runbeam_validator_config_new(&vc);
    runbeam_validator_config_add_trusted_issuer(vc, issuer);
    CHECK(runbeam_validator_new(vc, &v) == RUNBEAM_OK, "validator_new: %s", last());
    runbeam_validator_config_free(vc);
    return v;
}

/* The refusal of the call that just failed at `stage`, checked to be a whole answer; the
 * last error is checked to survive it. */
static runbeam_refusal refusal(runbeam_stage stage, const char *what) {
    runbeam_status failed_with = runbeam_last_error_status();
    runbeam_refusal r;
    memset(&r, 0xab, sizeof r);
    runbeam_status s = runbeam_refusal_from_last_error(stage, &r);
    CHECK(s == RUNBEAM_OK, "%s: refusal_from_last_error: %s", what, last());
    CHECK(runbeam_last_error_status() == failed_with, "%s: the last error is kept (%d, was %d)", what,
          runbeam_last_error_status(), failed_with);
    if (s != RUNBEAM_OK) memset(&r, 0, sizeof r);
    CHECK(r.status != 500 && r.body != NULL && r.kind != NULL, "%s: status %u", what, r.status);
    CHECK(same(r.content_type, "application/json"), "%s: %s", what, or_null(r.content_type));
    for (size_t i = 0; i < RUNBEAM_REFUSAL_RESERVED; i++) CHECK(r.reserved[i] == 0, "%s: reserved", what);
    return r;
}

/* A 401 of `stage` with the exact WWW-Authenticate and body, no Retry-After. */
static void check_401(runbeam_stage stage, const char *what) {
    runbeam_refusal r = refusal(stage, what);
    CHECK(r.status == 401, "%s: %u (%s: %s)", what, r.status, runbeam_last_error_kind(), last());
    CHECK(same(r.www_authenticate, INVALID_TOKEN), "%s: %s", what, or_null(r.www_authenticate));
    CHECK(same(r.body, "{\"error\":\"invalid_token\"}"), "%s: %s", what, or_null(r.body));
    CHECK(r.retry_after_secs == 0, "%s: retry after %llu", what, (unsigned long long)r.retry_after_secs);
}

/* A 503 of `stage` with Retry-After `secs`. */
static void check_503(runbeam_stage stage, uint64_t secs, const char *what) {
    runbeam_refusal r = refusal(stage, what);
    CHECK(r.status == 503, "%s: %u (%s: %s)", what, r.status, runbeam_last_error_kind(), last());
    CHECK(r.retry_after_secs == secs, "%s: retry after %llu", what, (unsigned long long)r.retry_after_secs);
    CHECK(r.www_authenticate == NULL, "%s: %s", what, or_null(r.www_authenticate));
    CHECK(same(r.body, "{\"error\":\"unavailable\"}"), "%s: %s", what, or_null(r.body));
}

static void check_status_body(runbeam_stage stage, unsigned status, const char *body, const char *what) {
    runbeam_refusal r = refusal(stage, what);
    CHECK(r.status == status, "%s: %u (%s: %s)", what, r.status, runbeam_last_error_kind(), last());
    CHECK(same(r.body, body), "%s: %s", what, or_null(r.body));
    CHECK(r.www_authenticate == NULL && r.retry_after_secs == 0, "%s: extra headers", what);
}

/* ------------------------------------------------------------------------ async waiter */

struct waiter {
    struct waiter_sync sync;
    runbeam_status status;
    runbeam_refusal refusal; /* made inside the callback of a failure */
    char url[512];
    char sub[128];
};

static void waiter_init(struct waiter *w) {
    memset(w, 0, sizeof *w);
    waiter_sync_init(&w->sync);
}

static void on_claims(void *user_data, runbeam_status status, runbeam_claims *claims,
                      const char *message) {
    (void)message;
    struct waiter *w = user_data;
    waiter_sync_lock(&w->sync);
    w->status = status;
    if (status == RUNBEAM_OK)
        snprintf(w->sub, sizeof w->sub, "%s", or_null(runbeam_claims_sub(claims)));
    else
        runbeam_refusal_from_last_error(RUNBEAM_STAGE_USER_TOKEN, &w->refusal);
    runbeam_claims_free(claims);
    waiter_sync_signal(&w->sync);
}

static void on_outbound(void *user_data, runbeam_status status, runbeam_outbound *out,
                        const char *message) {
    (void)message;
    struct waiter *w = user_data;
    waiter_sync_lock(&w->sync);
    w->status = status;
    if (status == RUNBEAM_OK)
        snprintf(w->url, sizeof w->url, "%s", or_null(runbeam_outbound_url(out)));
    else
        runbeam_refusal_from_last_error(RUNBEAM_STAGE_OUTBOUND, &w->refusal);
    runbeam_outbound_free(out);
    waiter_sync_signal(&w->sync);
}

/* ---------------------------------------------------------------------- user JWT check */

static void test_user_tokens(void) {
    char issuer[300], token[TOKEN_CAP], header[TOKEN_CAP + 16];
    snprintf(issuer, sizeof issuer, "%s/api", api_url);
    runbeam_validator *v = validator_for(issuer);
    runbeam_claims *claims = NULL;

    /* Keys not fetched yet: the cached form says so without I/O. */
    CHECK(mint(NULL, token, sizeof token), "mint");
    bearer(token, header, sizeof header);
    CHECK(runbeam_validator_authenticate_cached(v, header, &claims) == RUNBEAM_OK && claims == NULL,
          "cached before the keys: %s", last());

    CHECK(runbeam_validator_authenticate(v, header, &claims) == RUNBEAM_OK, "valid: %s", last());
    CHECK(same(runbeam_claims_user_email(claims), BOB_EMAIL), "%s", or_null(runbeam_claims_user_email(claims)));
    runbeam_claims_free(claims);
    claims = NULL;
    CHECK(runbeam_validator_authenticate_cached(v, header, &claims) == RUNBEAM_OK && claims != NULL,
          "cached: %s", last());
    runbeam_claims_free(claims);
    claims = NULL;
    /* A success leaves nothing to answer. */
    runbeam_refusal r;
    CHECK(runbeam_refusal_from_last_error(RUNBEAM_STAGE_USER_TOKEN, &r) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "no failure to answer");

    /* Missing and malformed headers: 401 at once, from either form. */
    const char *malformed[] = {NULL, "", "Bearer", "Bearer   ", "Basic Ym9iOnNlY3JldA==",
                               "Bearer not.a.jwt", "Bearer a b", "Bearer \xff\xfe\xfd",
                               "\xc3\x28 x.y.z"};
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "malformed header #%zu", i);
        runbeam_status s = runbeam_validator_authenticate(v, malformed[i], &claims);
        CHECK(s == RUNBEAM_STATUS_JWT_INVALID && claims == NULL, "%s: %s: %s", what,
              runbeam_status_str(s), last());
        check_401(RUNBEAM_STAGE_USER_TOKEN, what);
        s = runbeam_validator_authenticate_cached(v, malformed[i], &claims);
        CHECK(s == RUNBEAM_STATUS_JWT_INVALID && claims == NULL, "%s cached: %s", what, runbeam_status_str(s));
    }

    /* Expired, untrusted, tampered: 401, and the message never quotes the token. */
    struct {
        const char *extra, *what;
        runbeam_status status;
    } bad[] = {
        {"\"ttl_secs\":-3600", "expired", RUNBEAM_STATUS_JWT_EXPIRED},
        {"\"claims\":{\"iss\":\"https://evil.example.com/api\"}", "untrusted issuer",
         RUNBEAM_STATUS_UNTRUSTED_ISSUER},
        {"\"claims\":{\"exp\":null}", "no exp", RUNBEAM_STATUS_JWT_INVALID},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(mint(bad[i].extra, token, sizeof token), "mint %s", bad[i].what);
        bearer(token, header, sizeof header);
        runbeam_status s = runbeam_validator_authenticate(v, header, &claims);
        CHECK(s == bad[i].status, "%s: %s: %s", bad[i].what, runbeam_status_str(s), last());
        CHECK(strstr(last(), token) == NULL, "%s: the message quotes the token", bad[i].what);
        check_401(RUNBEAM_STAGE_USER_TOKEN, bad[i].what);
    }
    CHECK(mint(NULL, token, sizeof token), "mint");
    size_t n = strlen(token);
    token[n - 2] = token[n - 2] == 'A' ? 'B' : 'A'; /* the signature */
    bearer(token, header, sizeof header);
    CHECK(runbeam_validator_authenticate(v, header, &claims) == RUNBEAM_STATUS_JWT_INVALID, "tampered");
    check_401(RUNBEAM_STAGE_USER_TOKEN, "tampered");

    /* The callback form: the claims, or the failure answered inside the callback. */
    struct waiter w;
    waiter_init(&w);
    CHECK(mint(NULL, token, sizeof token), "mint");
    bearer(token, header, sizeof header);
    CHECK(runbeam_validator_authenticate_async(v, header, on_claims, &w, NULL) == RUNBEAM_OK, "%s", last());
    CHECK(waiter_sync_wait(&w.sync, 1, 60) == 1 && w.status == RUNBEAM_OK && w.sub[0] != '\0',
          "async: %s", runbeam_status_str(w.status));
    CHECK(runbeam_validator_authenticate_async(v, NULL, on_claims, &w, NULL) == RUNBEAM_OK, "%s", last());
    CHECK(waiter_sync_wait(&w.sync, 2, 60) == 2 && w.status == RUNBEAM_STATUS_JWT_INVALID &&
              w.refusal.status == 401 && same(w.refusal.www_authenticate, INVALID_TOKEN),
          "async refusal: %s %u", runbeam_status_str(w.status), w.refusal.status);
    CHECK(runbeam_validator_authenticate_async(v, header, NULL, &w, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL callback");
    waiter_sync_destroy(&w.sync);

    /* Arguments: a NULL validator or out-parameter is the host's mistake, not a 401. */
    CHECK(runbeam_validator_authenticate(NULL, header, &claims) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL v");
    CHECK(runbeam_validator_authenticate(v, header, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL out");
    CHECK(runbeam_validator_authenticate_cached(NULL, header, &claims) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL v cached");
    CHECK(runbeam_validator_authenticate_async(NULL, header, on_claims, NULL, NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL v async");
    runbeam_validator_free(v);

    /* Keys that cannot be fetched: 503 with Retry-After, not a 401 (the token may be fine). */
    char dead_issuer[128], extra[256];
    snprintf(dead_issuer, sizeof dead_issuer, "http://127.0.0.1:%d/api", dead_port());
    snprintf(extra, sizeof extra, "\"claims\":{\"iss\":\"%s\"}", dead_issuer);
    runbeam_validator *unreachable = validator_for(dead_issuer);
    CHECK(mint(extra, token, sizeof token), "mint");
    bearer(token, header, sizeof header);
    runbeam_status s = runbeam_validator_authenticate(unreachable, header, &claims);
    CHECK(s == RUNBEAM_STATUS_TRANSPORT, "keys unreachable: %s: %s", runbeam_status_str(s), last());
    check_503(RUNBEAM_STAGE_USER_TOKEN, 5, "keys unreachable");
    runbeam_validator_free(unreachable);
}

/* ------------------------------------------------------------------ outbound and guard */

static void test_outbound_and_guard(void) {
    runbeam_resolver *sender = resolver_for(ANALYTICS, api_url, BOB_GW, BOB, client);
    runbeam_resolver *receiver = resolver_for(RADIOLOGY, api_url, ALICE_GW, NULL, client);
    runbeam_outbound *out = NULL, *again = NULL;
    runbeam_claims *claims = NULL;

    CHECK(runbeam_resolver_outbound_cached(sender, DICOMWEB, "/studies", &out) == RUNBEAM_OK && out == NULL,
          "cached before any request: %s", last());
    runbeam_status s = runbeam_resolver_outbound(sender, DICOMWEB, "/studies?modality=CT", &out);
    CHECK(s == RUNBEAM_OK && out != NULL, "outbound: %s: %s", runbeam_status_str(s), last());
    CHECK(same(runbeam_outbound_url(out), DICOM_URL "/studies?modality=CT"), "%s",
          or_null(runbeam_outbound_url(out)));
    const char *authorization = runbeam_outbound_authorization_secret(out);
    CHECK(authorization != NULL && strncmp(authorization, "Bearer ey", 9) == 0, "the header");
    CHECK(same(runbeam_outbound_base_url(out), DICOM_URL), "%s", or_null(runbeam_outbound_base_url(out)));
    CHECK(same(runbeam_outbound_mesh(out), MESH), "%s", or_null(runbeam_outbound_mesh(out)));
    CHECK(same(runbeam_outbound_reference(out), DICOMWEB), "%s", or_null(runbeam_outbound_reference(out)));
    CHECK(!runbeam_outbound_is_stale(out), "not stale");
    int64_t expires = runbeam_outbound_token_expires_at(out);
    CHECK(expires > (int64_t)time(NULL) && expires <= (int64_t)time(NULL) + 3600, "expires %lld",
          (long long)expires);
    const char *rfc = runbeam_outbound_token_expires_at_rfc3339(out);
    CHECK(rfc != NULL && strlen(rfc) >= 20 && rfc[4] == '-', "%s", or_null(rfc));

    /* The second call, another path: from the cache, no request, the same token. */
    dev_delete("/_dev/counters");
    CHECK(runbeam_resolver_outbound_cached(sender, DICOMWEB, "/studies/1.2.3", &again) == RUNBEAM_OK &&
              again != NULL,
          "cached: %s", last());
    CHECK(same(runbeam_outbound_url(again), DICOM_URL "/studies/1.2.3"), "%s", or_null(runbeam_outbound_url(again)));
    CHECK(same(runbeam_outbound_authorization_secret(again), authorization), "the same mesh token");
    runbeam_outbound_free(again);
    again = NULL;
    CHECK(runbeam_resolver_outbound(sender, DICOMWEB, "/studies", &again) == RUNBEAM_OK, "%s", last());
    runbeam_outbound_free(again);
    again = NULL;
    CHECK(dev_count(RESOLVE) == 0 && dev_count(MESH_TOKEN) == 0, "no request: %ld resolve, %ld token",
          dev_count(RESOLVE), dev_count(MESH_TOKEN));

    /* The receiving gateway's guard accepts it for the URL it was sent to. */
    s = runbeam_resolver_verify_mesh_request(receiver, authorization, MESH, runbeam_outbound_url(out), &claims);
    CHECK(s == RUNBEAM_OK, "guard: %s: %s", runbeam_status_str(s), last());
    char *team = NULL;
    CHECK(runbeam_claims_get_json(claims, "source_team", &team) == RUNBEAM_OK && same(team, "\"ai-analytics\""),
          "source_team %s", or_null(team));
    CHECK(strncmp(or_null(runbeam_claims_sub(claims)), "gateway:", 8) == 0, "sub %s", or_null(runbeam_claims_sub(claims)));
    runbeam_string_free(team);
    runbeam_claims_free(claims);
    claims = NULL;
    CHECK(runbeam_resolver_verify_mesh_request_cached(receiver, authorization, MESH, DICOM_URL "/studies",
                                                      &claims) == RUNBEAM_OK && claims != NULL,
          "guard cached: %s", last());
    runbeam_claims_free(claims);
    claims = NULL;
    /* Served elsewhere than the token's destination: 401. */
    s = runbeam_resolver_verify_mesh_request(receiver, authorization, MESH, "https://other.example.com/studies",
                                             &claims);
    CHECK(s == RUNBEAM_STATUS_JWT_INVALID, "other served URL: %s", runbeam_status_str(s));
    CHECK(strstr(last(), authorization + 7) == NULL, "the message quotes the token");
    check_401(RUNBEAM_STAGE_MESH_TOKEN, "other served URL");
    /* A mesh this gateway is not in: 403. */
    s = runbeam_resolver_verify_mesh_request(receiver, authorization, "no-such-mesh", NULL, &claims);
    CHECK(s == RUNBEAM_STATUS_NOT_IN_MESH, "unknown mesh: %s", runbeam_status_str(s));
    check_status_body(RUNBEAM_STAGE_MESH_TOKEN, 403, "{\"error\":\"not_in_mesh\"}", "unknown mesh");
    runbeam_outbound_free(out);
    out = NULL;

    /* Outside the mesh: 403 without a request. */
    dev_delete("/_dev/counters");
    s = runbeam_resolver_outbound(sender, PACS, "/studies", &out);
    CHECK(s == RUNBEAM_STATUS_NOT_IN_MESH && out == NULL, "pacs: %s", runbeam_status_str(s));
    check_status_body(RUNBEAM_STAGE_OUTBOUND, 403, "{\"error\":\"not_in_mesh\"}", "pacs");
    CHECK(runbeam_resolver_outbound_cached(sender, PACS, "/studies", &out) == RUNBEAM_STATUS_NOT_IN_MESH,
          "pacs cached");
    CHECK(dev_count(RESOLVE) == 0, "pacs: no request");

    /* Paths that could leave the resource, whatever its URL: 400, the path not quoted. (A
     * `..` climbing above the resource's own path is refused too: see the join_path tests;
     * DICOM_URL has no path to climb out of.) */
    const char *escaping[] = {"/a%2f..%2f..%2fadmin", "/..%5cadmin", "/..;/admin", "//evil.test/admin",
                              "admin", "", "/a b", "/a#admin", "/a\\..\\admin", "/%252e%252e/admin",
                              "/%zzadmin"};
    for (size_t i = 0; i < sizeof escaping / sizeof escaping[0]; i++) {
        out = NULL;
        s = runbeam_resolver_outbound(sender, DICOMWEB, escaping[i], &out);
        CHECK(s == RUNBEAM_STATUS_INVALID_ARGUMENT && out == NULL, "%s: %s", escaping[i], runbeam_status_str(s));
        CHECK(strstr(last(), "admin") == NULL, "%s: quoted: %s", escaping[i], last());
        check_status_body(RUNBEAM_STAGE_OUTBOUND, 400, "{\"error\":\"invalid_request\"}", escaping[i]);
    }
    CHECK(dev_count(RESOLVE) == 0 && dev_count(MESH_TOKEN) == 0, "bad paths: no request");

    /* The callback form. */
    struct waiter w;
    waiter_init(&w);
    CHECK(runbeam_resolver_outbound_async(sender, DICOMWEB, "/studies?x=1", on_outbound, &w, NULL) == RUNBEAM_OK,
          "%s", last());
    CHECK(waiter_sync_wait(&w.sync, 1, 60) == 1 && w.status == RUNBEAM_OK &&
              same(w.url, DICOM_URL "/studies?x=1"),
          "async: %s %s", runbeam_status_str(w.status), w.url);
    CHECK(runbeam_resolver_outbound_async(sender, PACS, "/x", on_outbound, &w, NULL) == RUNBEAM_OK, "%s", last());
    CHECK(waiter_sync_wait(&w.sync, 2, 60) == 2 && w.status == RUNBEAM_STATUS_NOT_IN_MESH &&
              w.refusal.status == 403,
          "async refusal: %s %u", runbeam_status_str(w.status), w.refusal.status);
    waiter_sync_destroy(&w.sync);

    /* NULL and invalid UTF-8 arguments: the host's mistake, never a crash. */
    CHECK(runbeam_resolver_outbound(NULL, DICOMWEB, "/", &out) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL r");
    CHECK(runbeam_resolver_outbound(sender, NULL, "/", &out) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL ref");
    CHECK(runbeam_resolver_outbound(sender, DICOMWEB, NULL, &out) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL path");
    CHECK(runbeam_resolver_outbound(sender, DICOMWEB, "/", NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL out");
    CHECK(runbeam_resolver_outbound(sender, "runbeam.\xff.ingress.name.x", "/", &out) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT,
          "UTF-8 ref");
    CHECK(runbeam_resolver_outbound(sender, DICOMWEB, "/\xc3\x28", &out) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "UTF-8 path");
    CHECK(strstr(last(), "UTF-8") != NULL, "%s", last());
    CHECK(runbeam_resolver_outbound(sender, "not a reference", "/", &out) == RUNBEAM_STATUS_INVALID_REFERENCE,
          "bad reference");
    check_status_body(RUNBEAM_STAGE_OUTBOUND, 400, "{\"error\":\"invalid_request\"}", "bad reference");
    CHECK(runbeam_resolver_outbound_cached(sender, DICOMWEB, NULL, &out) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "cached NULL path");
    CHECK(runbeam_resolver_outbound_async(sender, DICOMWEB, "/", NULL, NULL, NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL callback");
    CHECK(runbeam_resolver_outbound_async(sender, DICOMWEB, "\xff", on_outbound, NULL, NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT,
          "async UTF-8 path");
    CHECK(runbeam_outbound_url(NULL) == NULL && runbeam_outbound_authorization_secret(NULL) == NULL &&
              runbeam_outbound_base_url(NULL) == NULL && runbeam_outbound_mesh(NULL) == NULL &&
              runbeam_outbound_reference(NULL) == NULL && !runbeam_outbound_is_stale(NULL) &&
              runbeam_outbound_token_expires_at(NULL) == 0 &&
              runbeam_outbound_token_expires_at_rfc3339(NULL) == NULL,
          "getters on NULL");
    runbeam_outbound_free(NULL);

    runbeam_resolver_free(receiver);
    runbeam_resolver_free(sender);
}

/* Mesh tokens minted with /_dev/jwt (signed with the Cloud's key) at the guard. */
static void test_mesh_guard(void) {
    runbeam_resolver *receiver = resolver_for(RADIOLOGY, api_url, ALICE_GW, NULL, client);
    runbeam_claims *claims = NULL;
    char token[TOKEN_CAP], header[TOKEN_CAP + 16];
    const char *served = DICOM_URL "/studies";

    CHECK(mint("\"claims\":{\"aud\":\"mesh:" MESH_ID "\",\"mesh_id\":\"" MESH_ID "\",\"dest_url\":\"" DICOM_URL "\"}",
               token, sizeof token),
          "mint");
    bearer(token, header, sizeof header);
    CHECK(runbeam_resolver_verify_mesh_request_cached(receiver, header, MESH, served, &claims) == RUNBEAM_OK &&
              claims == NULL,
          "cached before the keys: %s", last());
    runbeam_status s = runbeam_resolver_verify_mesh_request(receiver, header, MESH, served, &claims);
    CHECK(s == RUNBEAM_OK && same(runbeam_claims_mesh_id(claims), MESH_ID), "genuine: %s: %s",
          runbeam_status_str(s), last());
    runbeam_claims_free(claims);
    claims = NULL;

    struct waiter w;
    waiter_init(&w);
    CHECK(runbeam_resolver_verify_mesh_request_async(receiver, header, MESH, served, on_claims, &w, NULL) ==
              RUNBEAM_OK,
          "%s", last());
    CHECK(waiter_sync_wait(&w.sync, 1, 60) == 1 && w.status == RUNBEAM_OK, "async: %s",
          runbeam_status_str(w.status));
    waiter_sync_destroy(&w.sync);

    struct {
        const char *extra, *what;
        runbeam_status status;
    } refused[] = {
        {"\"claims\":{\"aud\":\"mesh:" OTHER_MESH_ID "\",\"mesh_id\":\"" OTHER_MESH_ID "\",\"dest_url\":\"" DICOM_URL "\"}",
         "a mesh token for another mesh", RUNBEAM_STATUS_JWT_INVALID},
        {"\"claims\":{\"aud\":\"mesh:" MESH_ID "\",\"mesh_id\":\"" MESH_ID "\",\"dest_url\":\"https://elsewhere.example.com\"}",
         "a mesh token for another destination", RUNBEAM_STATUS_JWT_INVALID},
        {NULL, "a user JWT as a mesh token", RUNBEAM_STATUS_JWT_INVALID},
        {"\"ttl_secs\":-3600,\"claims\":{\"aud\":\"mesh:" MESH_ID "\",\"mesh_id\":\"" MESH_ID "\",\"dest_url\":\"" DICOM_URL "\"}",
         "an expired mesh token", RUNBEAM_STATUS_JWT_EXPIRED},
        {"\"claims\":{\"iss\":\"https://evil.example.com/api\",\"aud\":\"mesh:" MESH_ID "\",\"mesh_id\":\"" MESH_ID
         "\",\"dest_url\":\"" DICOM_URL "\"}",
         "an untrusted issuer", RUNBEAM_STATUS_UNTRUSTED_ISSUER},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        CHECK(mint(refused[i].extra, token, sizeof token), "mint %s", refused[i].what);
        bearer(token, header, sizeof header);
        s = runbeam_resolver_verify_mesh_request(receiver, header, MESH, served, &claims);
        CHECK(s == refused[i].status && claims == NULL, "%s: %s: %s", refused[i].what, runbeam_status_str(s), last());
        CHECK(strstr(last(), token) == NULL, "%s: the message quotes the token", refused[i].what);
        check_401(RUNBEAM_STAGE_MESH_TOKEN, refused[i].what);
    }
    /* Without a served URL only the mesh, audience, signature and expiry are checked: the
     * token for another destination passes (documented: pass the served URL). */
    CHECK(mint(refused[1].extra, token, sizeof token), "mint");
    bearer(token, header, sizeof header);
    CHECK(runbeam_resolver_verify_mesh_request(receiver, header, MESH, NULL, &claims) == RUNBEAM_OK,
          "no served URL: %s", last());
    runbeam_claims_free(claims);
    claims = NULL;

    const char *malformed[] = {NULL, "", "Bearer", "Basic eA==", "Bearer x.y.z", "Bearer \x80"};
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        s = runbeam_resolver_verify_mesh_request(receiver, malformed[i], MESH, served, &claims);
        CHECK(s == RUNBEAM_STATUS_JWT_INVALID, "malformed #%zu: %s", i, runbeam_status_str(s));
        check_401(RUNBEAM_STAGE_MESH_TOKEN, "malformed mesh header");
    }

    /* Arguments. */
    CHECK(runbeam_resolver_verify_mesh_request(NULL, header, MESH, served, &claims) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL r");
    CHECK(runbeam_resolver_verify_mesh_request(receiver, header, NULL, served, &claims) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL mesh");
    CHECK(runbeam_resolver_verify_mesh_request(receiver, header, "", served, &claims) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT,
          "empty mesh");
    CHECK(runbeam_resolver_verify_mesh_request(receiver, header, MESH, "https://\xff/x", &claims) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT,
          "UTF-8 served URL");
    CHECK(runbeam_resolver_verify_mesh_request(receiver, header, MESH, served, NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL out");
    CHECK(runbeam_resolver_verify_mesh_request_async(receiver, header, MESH, served, NULL, NULL, NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL callback");
    runbeam_resolver_free(receiver);
}

/* ------------------------------------------------------------------------ the Cloud down */

static void test_cloud_down(void) {
    runbeam_outbound *out = NULL;
    /* The Cloud answers 503 with its own Retry-After and nothing is cached: 503, its value. */
    runbeam_resolver *fresh = resolver_for(ANALYTICS, api_url, BOB_GW, BOB, quick_client);
    CHECK(dev_post("/_dev/faults", "{\"path\":\"/api/harmony/resources/resolve\",\"count\":1,"
                                   "\"status\":503,\"retry_after\":7}") == 201,
          "fault");
    runbeam_status s = runbeam_resolver_outbound(fresh, DICOMWEB, "/studies", &out);
    CHECK(s == RUNBEAM_STATUS_SERVER_ERROR && out == NULL, "Cloud 503: %s: %s", runbeam_status_str(s), last());
    check_503(RUNBEAM_STAGE_OUTBOUND, 7, "Cloud 503 with Retry-After 7");
    /* Kept and answered later, on another thread say: the same answer. */
    runbeam_refusal later;
    CHECK(runbeam_refusal_for_status(s, RUNBEAM_STAGE_OUTBOUND, runbeam_last_error_retry_after_ms(), &later) ==
                  RUNBEAM_OK &&
              later.status == 503 && later.retry_after_secs == 7,
          "for_status: %u %llu", later.status, (unsigned long long)later.retry_after_secs);
    dev_delete("/_dev/faults");
    /* Back: the same resolver answers. */
    CHECK(runbeam_resolver_outbound(fresh, DICOMWEB, "/studies", &out) == RUNBEAM_OK, "back: %s", last());
    runbeam_outbound_free(out);
    out = NULL;
    runbeam_resolver_free(fresh);

    /* The Cloud cannot be reached at all: 503 with the transient Retry-After (5 s). */
    char dead[64];
    snprintf(dead, sizeof dead, "http://127.0.0.1:%d", dead_port());
    runbeam_resolver *cut_off = resolver_for(ANALYTICS, dead, BOB_GW, BOB, quick_client);
    s = runbeam_resolver_outbound(cut_off, DICOMWEB, "/studies", &out);
    CHECK(s == RUNBEAM_STATUS_TRANSPORT && out == NULL, "dead port: %s: %s", runbeam_status_str(s), last());
    check_503(RUNBEAM_STAGE_OUTBOUND, 5, "Cloud unreachable");
    /* A bad path is still the client's 400, before any request. */
    CHECK(runbeam_resolver_outbound(cut_off, DICOMWEB, "/a%2f..%2fx", &out) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "bad path while down");
    runbeam_resolver_free(cut_off);
}

/* ------------------------------------------------------------- join_path and refusals */

static void test_join_path_and_refusals(void) {
    char *joined = NULL;
    CHECK(runbeam_join_path("http://127.0.0.1:8080", "/studies?PatientID=RAD-0001", &joined) == RUNBEAM_OK &&
              same(joined, "http://127.0.0.1:8080/studies?PatientID=RAD-0001"),
          "%s", or_null(joined));
    runbeam_string_free(joined);
    joined = NULL;
    CHECK(runbeam_join_path("https://h/wado/", "/a/./b/../c", &joined) == RUNBEAM_OK &&
              same(joined, "https://h/wado/a/c"),
          "%s", or_null(joined));
    runbeam_string_free(joined);
    joined = NULL;
    const char *refused[] = {"/../x", "x", "//h/x", "/a%2fb", "/%zz"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        CHECK(runbeam_join_path("https://h/wado", refused[i], &joined) == RUNBEAM_STATUS_INVALID_ARGUMENT &&
                  joined == NULL,
              "%s", refused[i]);
        check_status_body(RUNBEAM_STAGE_MESH_TOKEN, 400, "{\"error\":\"invalid_request\"}", refused[i]);
    }
    char long_path[RUNBEAM_EDGE_MAX_PATH_BYTES + 2];
    memset(long_path, 'a', sizeof long_path - 1);
    long_path[0] = '/';
    long_path[sizeof long_path - 1] = '\0';
    CHECK(runbeam_join_path("https://h", long_path, &joined) == RUNBEAM_STATUS_INVALID_ARGUMENT, "too long");
    CHECK(runbeam_join_path("https://user:s3cret@h", "/a", &joined) == RUNBEAM_STATUS_INVALID_ARGUMENT &&
              strstr(last(), "s3cret") == NULL,
          "credentials in the base: %s", last());
    CHECK(runbeam_join_path(NULL, "/a", &joined) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL base");
    CHECK(runbeam_join_path("https://h", NULL, &joined) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL path");
    CHECK(runbeam_join_path("https://h", "/a", NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL out");
    CHECK(runbeam_join_path("https://h", "/\xff", &joined) == RUNBEAM_STATUS_INVALID_ARGUMENT, "UTF-8");

    /* runbeam_refusal_for_status: every status answered, never a 500; bad arguments refused
     * and *out untouched. */
    runbeam_refusal r;
    runbeam_status statuses[] = {
        RUNBEAM_STATUS_INVALID_ARGUMENT, RUNBEAM_STATUS_INVALID_REFERENCE, RUNBEAM_STATUS_CONFIG,
        RUNBEAM_STATUS_UNKNOWN_PROVIDER, RUNBEAM_STATUS_NOT_IN_MESH, RUNBEAM_STATUS_UNAUTHORIZED,
        RUNBEAM_STATUS_PERMISSION_DENIED, RUNBEAM_STATUS_NOT_FOUND, RUNBEAM_STATUS_RATE_LIMITED,
        RUNBEAM_STATUS_SERVER_ERROR, RUNBEAM_STATUS_TRANSPORT, RUNBEAM_STATUS_TIMEOUT,
        RUNBEAM_STATUS_JWT_INVALID, RUNBEAM_STATUS_JWT_EXPIRED, RUNBEAM_STATUS_UNTRUSTED_ISSUER,
        RUNBEAM_STATUS_NO_TOKEN, RUNBEAM_STATUS_STORAGE, RUNBEAM_STATUS_INTERNAL};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        for (runbeam_stage stage = RUNBEAM_STAGE_USER_TOKEN; stage <= RUNBEAM_STAGE_OUTBOUND; stage++) {
            CHECK(runbeam_refusal_for_status(statuses[i], stage, -1, &r) == RUNBEAM_OK, "%d", statuses[i]);
            CHECK(r.status == 400 || r.status == 401 || r.status == 403 || r.status == 404 || r.status == 503,
                  "%s at %d: %u", runbeam_status_str(statuses[i]), stage, r.status);
            CHECK((r.status == 401) == (r.www_authenticate != NULL), "WWW-Authenticate with 401 only");
            CHECK((r.status == 503) == (r.retry_after_secs > 0), "Retry-After with 503 only");
        }
    }
    /* A JWT error is the client's inbound, the Cloud's outbound. */
    runbeam_refusal_for_status(RUNBEAM_STATUS_JWT_INVALID, RUNBEAM_STAGE_OUTBOUND, -1, &r);
    CHECK(r.status == 503, "outbound JWT error: %u", r.status);
    runbeam_refusal_for_status(RUNBEAM_STATUS_NO_TOKEN, RUNBEAM_STAGE_OUTBOUND, -1, &r);
    CHECK(r.status == 503 && r.retry_after_secs == 30, "machine token: %u %llu", r.status,
          (unsigned long long)r.retry_after_secs);
    runbeam_refusal_for_status(RUNBEAM_STATUS_RATE_LIMITED, RUNBEAM_STAGE_OUTBOUND, 1500, &r);
    CHECK(r.retry_after_secs == 2, "rounded up: %llu", (unsigned long long)r.retry_after_secs);
    memset(&r, 0x5a, sizeof r);
    runbeam_refusal before = r;
    CHECK(runbeam_refusal_for_status(RUNBEAM_OK, RUNBEAM_STAGE_OUTBOUND, -1, &r) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "OK");
    CHECK(runbeam_refusal_for_status(12345, RUNBEAM_STAGE_OUTBOUND, -1, &r) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "unknown status");
    CHECK(runbeam_refusal_for_status(RUNBEAM_STATUS_TIMEOUT, 7, -1, &r) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "unknown stage");
    CHECK(memcmp(&r, &before, sizeof r) == 0, "out untouched on failure");
    CHECK(runbeam_refusal_for_status(RUNBEAM_STATUS_TIMEOUT, RUNBEAM_STAGE_OUTBOUND, -1, NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL out");
    /* From the last error: a stage out of range, a NULL out. */
    runbeam_join_path("https://h", "/a%2fb", &joined);
    CHECK(runbeam_refusal_from_last_error(-1, &r) == RUNBEAM_STATUS_INVALID_ARGUMENT, "bad stage");
    runbeam_join_path("https://h", "/a%2fb", &joined);
    CHECK(runbeam_refusal_from_last_error(RUNBEAM_STAGE_OUTBOUND, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL out");
}

int main(int argc, char **argv) {
    int setup = gateway_main_setup(argc, argv, &client);
    if (setup != 0) return setup;
    runbeam_client_config *cc = NULL;
    if (runbeam_client_config_new(api_url, &cc) != RUNBEAM_OK ||
        runbeam_client_config_set_max_attempts(cc, 1) != RUNBEAM_OK ||
        runbeam_client_new(cc, &quick_client) != RUNBEAM_OK) {
        fprintf(stderr, "client: %s\n", last());
        runbeam_client_config_free(cc);
        runbeam_client_free(client);
        devcloud_stop();
        return 2;
    }
    runbeam_client_config_free(cc);

    test_user_tokens();
    test_outbound_and_guard();
    test_mesh_guard();
    test_cloud_down();
    test_join_path_and_refusals();

    runbeam_client_free(quick_client);
    runbeam_client_free(client);
    devcloud_stop();
    return check_summary();
}
