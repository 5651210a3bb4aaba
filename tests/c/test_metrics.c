/*
 * Stats and the Prometheus text through the C ABI against a runbeam-devcloud subprocess over
 * real HTTP: a resolver's hits, misses, upstream requests, refusals by kind, cached references
 * and mesh tokens and its mesh-token validators; a validator's verifications, verified-token
 * cache hits, JWKS fetches (and a failed one) and refused tokens of each kind; a token
 * manager's renewals and failed renewals; runbeam_error_counts read by status and walked;
 * runbeam_metrics rendering all of them in lines that parse, kept after the handles are
 * freed; NULL pointers, invalid UTF-8, empty and duplicate names refused with clear statuses.
 *
 * Usage: test_metrics <path-to-runbeam-devcloud>
 */
#define _POSIX_C_SOURCE 200809L

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

typedef unsigned long long ull;

static const char *or_null(const char *s) { return s ? s : "(null)"; }
static const char *last(void) { return runbeam_last_error_message(); }

static runbeam_client *client;

static runbeam_mesh_config *analytics_config(void) {
    const char *toml =
        "[proxy]\nid = \"" BOB_GW "\"\n\n"
        "[provider.runbeam]\napi = \"https://api.runbeam.io\"\ncache_ttl_secs = 300\n\n"
        "[mesh.imaging-integration]\ntype = \"http3\"\nprovider = \"runbeam\"\n"
        "egress = [\"" DICOMWEB "\"]\n";
    runbeam_mesh_config *file = NULL, *dev = NULL;
    if (runbeam_mesh_config_from_toml(toml, &file) != RUNBEAM_OK) return NULL;
    runbeam_mesh_config_with_provider_api(file, "runbeam", api_url, &dev);
    runbeam_mesh_config_free(file);
    return dev;
}

static runbeam_token_manager *new_manager(const char *instance, const char *credential,
                                          uint64_t window_ms) {
    runbeam_token_store *store = NULL;
    runbeam_token_manager_config *mc = NULL;
    runbeam_token_manager *m = NULL;
    runbeam_token_store_memory_new(&store);
    runbeam_token_manager_config_new(instance, &mc);
    runbeam_token_manager_config_set_api_url(mc, api_url);
    runbeam_token_manager_config_set_credential_token(mc, credential);
    if (window_ms > 0) runbeam_token_manager_config_set_renewal_window_ms(mc, window_ms);
    CHECK(runbeam_token_manager_new(mc, store, &m) == RUNBEAM_OK, "manager: %s", last());
    runbeam_token_manager_config_free(mc);
    runbeam_token_store_free(store);
    return m;
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

/* POST /_dev/jwt {"email": ALICE, <extra>}; the token into `out`. */
static bool mint(const char *extra, char *out, size_t len) {
    char body[512], response[TOKEN_CAP + 1024];
    snprintf(body, sizeof body, "{\"email\":\"" ALICE "\"%s%s}", extra ? "," : "",
             extra ? extra : "");
    out[0] = '\0';
    if (dev_request("POST", "/_dev/jwt", body, response, sizeof response) != 200) return false;
    json_string(strstr(response, "\r\n\r\n"), "token", out, len);
    return strchr(out, '.') != NULL;
}

static runbeam_status validate(runbeam_validator *v, const char *token) {
    runbeam_claims *claims = NULL;
    runbeam_status s = runbeam_validator_validate(v, token, strlen(token), &claims);
    runbeam_claims_free(claims);
    return s;
}

static ull count_of(const runbeam_error_counts *c, runbeam_status s) {
    return (ull)runbeam_error_counts_get(c, s);
}

/* Every sample line is `runbeam_<family>{<labels>} <integer>`; comments are HELP or TYPE. */
static int bad_lines(const char *text) {
    int bad = 0;
    const char *line = text;
    while (*line != '\0') {
        const char *end = strchr(line, '\n');
        if (end == NULL) {
            bad++; /* the text ends with a newline */
            break;
        }
        size_t n = (size_t)(end - line);
        char buf[1024];
        if (n >= sizeof buf) n = sizeof buf - 1;
        memcpy(buf, line, n);
        buf[n] = '\0';
        if (buf[0] == '#') {
            if (strncmp(buf, "# HELP runbeam_", 15) != 0 && strncmp(buf, "# TYPE runbeam_", 15) != 0)
                bad++;
            if (strncmp(buf, "# TYPE ", 7) == 0 && !strstr(buf, " counter") && !strstr(buf, " gauge"))
                bad++;
        } else {
            char *space = strrchr(buf, ' ');
            char *value_end = NULL;
            if (space == NULL || strncmp(buf, "runbeam_", 8) != 0 || space[-1] != '}' ||
                strchr(buf, '{') == NULL) {
                bad++;
            } else {
                (void)strtoull(space + 1, &value_end, 10);
                if (value_end == space + 1 || *value_end != '\0') bad++;
            }
        }
        if (bad > 0) fprintf(stderr, "  bad line: %s\n", buf);
        line = end + 1;
    }
    return bad;
}

/* ------------------------------------------------------------------------------ tests */

static runbeam_resolver *resolver;
static runbeam_validator *users;
static runbeam_token_manager *manager;

static void test_resolver_stats(void) {
    runbeam_token_manager *m = new_manager(BOB_GW, BOB, 0);
    runbeam_mesh_config *config = analytics_config();
    CHECK(runbeam_resolver_new(config, client, m, NULL, &resolver) == RUNBEAM_OK, "%s", last());
    runbeam_mesh_config_free(config);
    runbeam_token_manager_free(m);

    runbeam_resolver_stats st;
    memset(&st, 0xff, sizeof st);
    CHECK(runbeam_resolver_stats_get(resolver, &st) == RUNBEAM_OK, "%s", last());
    CHECK(st.hits == 0 && st.misses == 0 && st.errors.total == 0 && st.cached_references == 0,
          "a new resolver counts nothing");
    bool reserved_zero = true;
    for (size_t i = 0; i < RUNBEAM_STATS_RESERVED; i++)
        if (st.reserved[i] != 0 || st.mesh_validation.reserved[i] != 0) reserved_zero = false;
    CHECK(reserved_zero, "reserved slots are 0");

    /* A miss, then a cache hit: one upstream request. */
    for (int i = 0; i < 2; i++) {
        runbeam_resolution *res = NULL;
        CHECK(runbeam_resolver_resolve(resolver, DICOMWEB, &res) == RUNBEAM_OK, "%s", last());
        runbeam_resolution_free(res);
    }
    /* Refusals of two kinds. */
    runbeam_resolution *res = NULL;
    CHECK(runbeam_resolver_resolve(resolver, "runbeam.someone-else.ingress.name.x", &res) ==
              RUNBEAM_STATUS_NOT_IN_MESH,
          "%s", last());
    CHECK(runbeam_resolver_resolve(resolver, "nowhere", &res) == RUNBEAM_STATUS_NOT_FOUND, "%s",
          last());
    /* A mesh token, verified on issue; then a tampered one presented to the resolver. */
    runbeam_issued_mesh_token *mt = NULL;
    CHECK(runbeam_resolver_mesh_token(resolver, MESH, DICOM_URL "/studies", &mt) == RUNBEAM_OK,
          "%s", last());
    char token[TOKEN_CAP];
    snprintf(token, sizeof token, "%s", or_null(runbeam_issued_mesh_token_secret(mt)));
    runbeam_issued_mesh_token_free(mt);
    size_t len = strlen(token);
    token[len - 2] = token[len - 2] == 'A' ? 'B' : 'A';
    runbeam_claims *claims = NULL;
    CHECK(runbeam_resolver_verify_mesh_token(resolver, token, len, MESH, NULL, &claims) ==
              RUNBEAM_STATUS_JWT_INVALID,
          "tampered: %s", runbeam_status_str(runbeam_last_error_status()));

    CHECK(runbeam_resolver_stats_get(resolver, &st) == RUNBEAM_OK, "%s", last());
    CHECK(st.hits == 1 && st.misses == 1 && st.upstream_requests == 1,
          "hits %llu misses %llu upstream %llu", (ull)st.hits, (ull)st.misses,
          (ull)st.upstream_requests);
    CHECK(count_of(&st.errors, RUNBEAM_STATUS_NOT_IN_MESH) == 1, "not in mesh %llu",
          count_of(&st.errors, RUNBEAM_STATUS_NOT_IN_MESH));
    CHECK(count_of(&st.errors, RUNBEAM_STATUS_NOT_FOUND) == 1, "not found %llu",
          count_of(&st.errors, RUNBEAM_STATUS_NOT_FOUND));
    CHECK(st.errors.total >= 2, "total %llu", (ull)st.errors.total);
    CHECK(count_of(&st.errors, RUNBEAM_OK) == 0 && count_of(&st.errors, 12345) == 0,
          "not statuses count 0");
    CHECK(st.stale_served == 0, "stale %llu", (ull)st.stale_served);
    CHECK(st.cached_references == 1, "cached %llu", (ull)st.cached_references);
    CHECK(st.mesh_token_requests == 1 && st.cached_mesh_tokens == 1,
          "mesh tokens %llu cached %llu", (ull)st.mesh_token_requests,
          (ull)st.cached_mesh_tokens);
    CHECK(st.mesh_validation.verifications >= 1 && st.mesh_validation.jwks_fetches == 1,
          "mesh validation: %llu verifications, %llu fetches",
          (ull)st.mesh_validation.verifications, (ull)st.mesh_validation.jwks_fetches);
    CHECK(count_of(&st.mesh_validation.failures, RUNBEAM_STATUS_JWT_INVALID) == 1,
          "the tampered mesh token: %llu",
          count_of(&st.mesh_validation.failures, RUNBEAM_STATUS_JWT_INVALID));

    /* Walking the slots finds exactly the kinds counted, each with its status. */
    ull walked = 0;
    size_t kinds = 0;
    for (size_t i = 0; runbeam_error_counts_status_at(i) != RUNBEAM_OK; i++) {
        CHECK(i < RUNBEAM_ERROR_COUNT_SLOTS, "slot %zu", i);
        runbeam_status s = runbeam_error_counts_status_at(i);
        CHECK(st.errors.by_kind[i] == runbeam_error_counts_get(&st.errors, s), "slot %zu (%s)", i,
              runbeam_status_str(s));
        walked += st.errors.by_kind[i];
        kinds++;
    }
    CHECK(walked == st.errors.total, "walked %llu of %llu", walked, (ull)st.errors.total);
    CHECK(kinds >= 20, "%zu kinds", kinds);
    CHECK(runbeam_error_counts_status_at((size_t)-1) == RUNBEAM_OK, "out of range");
}

static void test_validator_stats(void) {
    users = new_validator();
    char genuine[TOKEN_CAP], expired[TOKEN_CAP], stranger[TOKEN_CAP];
    CHECK(mint(NULL, genuine, sizeof genuine), "mint");
    CHECK(mint("\"ttl_secs\":-3600", expired, sizeof expired), "mint expired");
    CHECK(mint("\"claims\":{\"iss\":\"https://issuer.example.com\"}", stranger, sizeof stranger),
          "mint stranger");
    dev_delete("/_dev/counters");
    for (int i = 0; i < 3; i++) CHECK(validate(users, genuine) == RUNBEAM_OK, "%s", last());
    char tampered[TOKEN_CAP];
    snprintf(tampered, sizeof tampered, "%s", genuine);
    size_t len = strlen(tampered);
    tampered[len - 2] = tampered[len - 2] == 'A' ? 'B' : 'A';
    CHECK(validate(users, tampered) == RUNBEAM_STATUS_JWT_INVALID, "%s", last());
    CHECK(validate(users, "not.a.token") == RUNBEAM_STATUS_JWT_INVALID, "%s", last());
    CHECK(validate(users, expired) == RUNBEAM_STATUS_JWT_EXPIRED, "%s", last());
    CHECK(validate(users, stranger) == RUNBEAM_STATUS_UNTRUSTED_ISSUER, "%s", last());

    runbeam_validator_stats st;
    CHECK(runbeam_validator_stats_get(users, &st) == RUNBEAM_OK, "%s", last());
    CHECK(st.jwks_fetches == 1 && st.jwks_fetch_failures == 0, "fetches %llu failed %llu",
          (ull)st.jwks_fetches, (ull)st.jwks_fetch_failures);
    CHECK(dev_count("GET /api/.well-known/jwks.json") == 1, "one JWKS request");
    CHECK(st.cache_hits == 1, "cache hits %llu", (ull)st.cache_hits);
    CHECK(st.cached_tokens == 1, "cached tokens %llu", (ull)st.cached_tokens);
    CHECK(count_of(&st.failures, RUNBEAM_STATUS_JWT_INVALID) == 2, "invalid %llu",
          count_of(&st.failures, RUNBEAM_STATUS_JWT_INVALID));
    CHECK(count_of(&st.failures, RUNBEAM_STATUS_JWT_EXPIRED) == 1, "expired %llu",
          count_of(&st.failures, RUNBEAM_STATUS_JWT_EXPIRED));
    CHECK(count_of(&st.failures, RUNBEAM_STATUS_UNTRUSTED_ISSUER) == 1, "untrusted %llu",
          count_of(&st.failures, RUNBEAM_STATUS_UNTRUSTED_ISSUER));
    CHECK(st.failures.total == 4, "failures %llu", (ull)st.failures.total);

    /* A JWKS fetch that fails: a validator with no keys yet. */
    runbeam_validator *fresh = new_validator();
    CHECK(dev_post("/_dev/faults",
                   "{\"path\":\"/api/.well-known/jwks.json\",\"status\":503,\"count\":10}") == 201,
          "fault");
    CHECK(validate(fresh, genuine) == RUNBEAM_STATUS_SERVER_ERROR, "%s", last());
    dev_delete("/_dev/faults");
    CHECK(runbeam_validator_stats_get(fresh, &st) == RUNBEAM_OK, "%s", last());
    CHECK(st.jwks_fetches >= 1 && st.jwks_fetch_failures >= 1, "fetches %llu failed %llu",
          (ull)st.jwks_fetches, (ull)st.jwks_fetch_failures);
    CHECK(count_of(&st.failures, RUNBEAM_STATUS_SERVER_ERROR) == 1, "server error %llu",
          count_of(&st.failures, RUNBEAM_STATUS_SERVER_ERROR));
    runbeam_validator_free(fresh);
}

static void test_token_manager_stats(void) {
    CHECK(dev_post("/_dev/machine-token-lifetime", "{\"secs\":30}") == 200, "lifetime 30 s");
    manager = new_manager("radiology-gw-1", ALICE_SANCTUM, 3600 * 1000);
    runbeam_token_manager_stats st;
    CHECK(runbeam_token_manager_stats_get(manager, &st) == RUNBEAM_OK, "%s", last());
    CHECK(st.renewals == 0 && st.renewal_failures == 0, "new manager");
    runbeam_machine_token *t = NULL;
    CHECK(runbeam_token_manager_ensure_token(manager, &t) == RUNBEAM_OK, "%s", last());
    runbeam_machine_token_free(t);
    CHECK(runbeam_token_manager_stats_get(manager, &st) == RUNBEAM_OK, "%s", last());
    CHECK(st.renewals == 1 && st.renewal_failures == 0, "renewals %llu failures %llu",
          (ull)st.renewals, (ull)st.renewal_failures);
    /* Inside its renewal window, the Cloud failing: the token stays, the failure counts. */
    CHECK(dev_post("/_dev/faults",
                   "{\"path\":\"/api/harmony/authorize\",\"status\":503,\"count\":5}") == 201,
          "fault");
    t = NULL;
    CHECK(runbeam_token_manager_ensure_token(manager, &t) == RUNBEAM_OK, "%s", last());
    runbeam_machine_token_free(t);
    dev_delete("/_dev/faults");
    CHECK(dev_post("/_dev/machine-token-lifetime", "{\"secs\":2592000}") == 200, "lifetime 30 d");
    CHECK(runbeam_token_manager_stats_get(manager, &st) == RUNBEAM_OK, "%s", last());
    CHECK(st.renewals == 1 && st.renewal_failures == 1, "renewals %llu failures %llu",
          (ull)st.renewals, (ull)st.renewal_failures);
    bool reserved_zero = true;
    for (size_t i = 0; i < RUNBEAM_STATS_RESERVED; i++)
        if (st.reserved[i] != 0) reserved_zero = false;
    CHECK(reserved_zero, "reserved slots are 0");
}

static void test_prometheus(void) {
    runbeam_metrics *m = NULL;
    CHECK(runbeam_metrics_new(&m) == RUNBEAM_OK && m != NULL, "%s", last());
    char *text = NULL;
    CHECK(runbeam_metrics_render(m, &text) == RUNBEAM_OK && text != NULL && text[0] == '\0',
          "empty: %s", or_null(text));
    runbeam_string_free(text);

    CHECK(runbeam_metrics_add_resolver(m, "analytics", resolver) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_metrics_add_validator(m, "users", users) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_metrics_add_token_manager(m, "radio\"logy", manager) == RUNBEAM_OK, "%s",
          last());
    /* Names: unique per kind; a resolver's mesh validators are `<name>:mesh`. */
    CHECK(runbeam_metrics_add_validator(m, "users", users) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "duplicate validator name");
    CHECK(strstr(last(), "users") != NULL, "names it: %s", last());
    CHECK(runbeam_metrics_add_validator(m, "analytics:mesh", users) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT,
          "a resolver's mesh validator name");
    CHECK(runbeam_metrics_add_resolver(m, "analytics", resolver) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "duplicate resolver name");
    CHECK(runbeam_metrics_add_token_manager(m, "users", manager) == RUNBEAM_OK,
          "another kind may share a name: %s", last());

    CHECK(runbeam_metrics_render(m, &text) == RUNBEAM_OK && text != NULL, "%s", last());
    const char *expected[] = {
        "# TYPE runbeam_resolver_hits_total counter\n",
        "runbeam_resolver_hits_total{name=\"analytics\"} 1\n",
        "runbeam_resolver_upstream_requests_total{name=\"analytics\"} 1\n",
        "runbeam_resolver_errors_total{name=\"analytics\",kind=\"NotInMesh\"} 1\n",
        "runbeam_resolver_errors_total{name=\"analytics\",kind=\"NotFound\"} 1\n",
        "# TYPE runbeam_resolver_cached_references gauge\n",
        "runbeam_resolver_cached_references{name=\"analytics\"} 1\n",
        "runbeam_resolver_cached_mesh_tokens{name=\"analytics\"} 1\n",
        "runbeam_validator_jwks_fetches_total{name=\"analytics:mesh\"} 1\n",
        "runbeam_validator_failures_total{name=\"analytics:mesh\",kind=\"JwtInvalid\"} 1\n",
        "runbeam_validator_cache_hits_total{name=\"users\"} 1\n",
        "runbeam_validator_failures_total{name=\"users\",kind=\"JwtInvalid\"} 2\n",
        "runbeam_validator_failures_total{name=\"users\",kind=\"JwtExpired\"} 1\n",
        "runbeam_validator_failures_total{name=\"users\",kind=\"UntrustedIssuer\"} 1\n",
        "runbeam_token_manager_renewals_total{name=\"radio\\\"logy\"} 1\n",
        "runbeam_token_manager_renewal_failures_total{name=\"radio\\\"logy\"} 1\n",
        "runbeam_token_manager_renewals_total{name=\"users\"} 1\n",
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        CHECK(strstr(or_null(text), expected[i]) != NULL, "missing %s", expected[i]);
    CHECK(bad_lines(or_null(text)) == 0, "lines that do not parse in:\n%s", or_null(text));
    /* Each family's TYPE line once. */
    const char *type = "# TYPE runbeam_validator_failures_total counter\n";
    const char *first = strstr(or_null(text), type);
    CHECK(first != NULL && strstr(first + 1, type) == NULL, "one TYPE line per family");
    runbeam_string_free(text);
    CHECK(strcmp(runbeam_metrics_content_type(), "text/plain; version=0.0.4; charset=utf-8") == 0,
          "content type %s", runbeam_metrics_content_type());

    /* The counters move between renders. */
    runbeam_resolution *res = NULL;
    CHECK(runbeam_resolver_resolve(resolver, DICOMWEB, &res) == RUNBEAM_OK, "%s", last());
    runbeam_resolution_free(res);
    CHECK(runbeam_metrics_render(m, &text) == RUNBEAM_OK, "%s", last());
    CHECK(strstr(or_null(text), "runbeam_resolver_hits_total{name=\"analytics\"} 2\n") != NULL,
          "hits moved:\n%s", or_null(text));
    runbeam_string_free(text);

    /* The handles may go: the metrics keep their counters. */
    runbeam_resolver_free(resolver);
    runbeam_validator_free(users);
    runbeam_token_manager_free(manager);
    resolver = NULL;
    users = NULL;
    manager = NULL;
    CHECK(runbeam_metrics_render(m, &text) == RUNBEAM_OK, "%s", last());
    CHECK(strstr(or_null(text), "runbeam_resolver_hits_total{name=\"analytics\"} 2\n") != NULL,
          "kept after free:\n%s", or_null(text));
    runbeam_string_free(text);
    runbeam_metrics_free(m);
}

static void test_arguments(void) {
    runbeam_metrics *m = NULL;
    CHECK(runbeam_metrics_new(NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL out");
    CHECK(runbeam_metrics_new(&m) == RUNBEAM_OK, "%s", last());
    runbeam_validator *v = new_validator();
    CHECK(runbeam_metrics_add_validator(m, NULL, v) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL name");
    CHECK(strstr(last(), "name") != NULL, "%s", last());
    CHECK(runbeam_metrics_add_validator(m, "bad\xff", v) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "invalid UTF-8");
    CHECK(strstr(last(), "UTF-8") != NULL, "%s", last());
    CHECK(runbeam_metrics_add_validator(m, "", v) == RUNBEAM_STATUS_INVALID_ARGUMENT, "empty");
    CHECK(runbeam_metrics_add_validator(m, "v", NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL validator");
    CHECK(runbeam_metrics_add_resolver(m, "r", NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL resolver");
    CHECK(runbeam_metrics_add_token_manager(m, "t", NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL manager");
    CHECK(runbeam_metrics_add_validator(NULL, "v", v) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL metrics");
    char *text = (char *)"untouched";
    CHECK(runbeam_metrics_render(NULL, &text) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL metrics");
    CHECK(strcmp(text, "untouched") == 0, "out untouched");
    CHECK(runbeam_metrics_render(m, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL out");
    /* Nothing refused was added. */
    text = NULL;
    CHECK(runbeam_metrics_render(m, &text) == RUNBEAM_OK && text != NULL && text[0] == '\0',
          "still empty: %s", or_null(text));
    runbeam_string_free(text);

    runbeam_validator_stats vs;
    runbeam_resolver_stats rs;
    runbeam_token_manager_stats ts;
    CHECK(runbeam_validator_stats_get(NULL, &vs) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL");
    CHECK(runbeam_validator_stats_get(v, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL out");
    CHECK(runbeam_resolver_stats_get(NULL, &rs) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL");
    CHECK(runbeam_token_manager_stats_get(NULL, &ts) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL");
    CHECK(runbeam_error_counts_get(NULL, RUNBEAM_STATUS_JWT_INVALID) == 0, "NULL counts");
    runbeam_metrics_free(m);
    runbeam_metrics_free(NULL);
    runbeam_validator_free(v);
}

int main(int argc, char **argv) {
    int status = gateway_main_setup(argc, argv, &client);
    if (status != 0) return status;

    test_resolver_stats();
    test_validator_stats();
    test_token_manager_stats();
    test_prometheus();
    test_arguments();

    runbeam_client_free(client);
    devcloud_stop();
    return check_summary();
}
