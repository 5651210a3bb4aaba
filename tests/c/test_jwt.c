/*
 * C test suite of the JWT validator ABI (runbeam_validator_*, runbeam_claims_*,
 * runbeam_bearer_parse), against a runbeam-devcloud subprocess over real HTTP: genuine tokens
 * minted by POST /_dev/jwt and signed with the devcloud's real keys, the attacks of docs/spec.md §4,
 * the cached / blocking / callback forms, mesh tokens issued through the C client, and argument
 * misuse. Compiled with -Wall -Wextra -Werror -pedantic against include/runbeam.h, run under
 * AddressSanitizer + UBSan and under valgrind (see tests/c/c.mk).
 *
 * Usage: test_jwt <path-to-runbeam-devcloud>
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

#define ALICE "alice@radiology.example.com"
#define ALICE_ID "01JDWXXQKFBF5KZNWJ47TAN9ZT"
#define RADIOLOGY_TEAM_ID "01JDWM9S346Q3D25VT4F5V37E3"
#define BOB "2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f"
#define BOB_GW "analytics-gw-1"
#define MESH "imaging-integration"
#define DICOM_URL "https://dicom.radiology.example.com"
#define JWKS_KEY "GET /api/.well-known/jwks.json"
#define TOKEN_CAP 8192

static char issuer[300]; /* the devcloud's API root: http://127.0.0.1:PORT/api */

static const char *or_null(const char *s) { return s ? s : "(null)"; }
static const char *last(void) { return runbeam_last_error_message(); }
static int eq(const char *a, const char *b) { return a != NULL && b != NULL && strcmp(a, b) == 0; }
static long long unix_now(void) { return (long long)time(NULL); }

/* ------------------------------------------------------------------------ base64url */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Encodes `len` bytes without padding into `out` (NUL-terminated). */
static void b64url_encode(const unsigned char *in, size_t len, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len) v |= in[i + 2];
        out[o++] = B64[(v >> 18) & 63];
        out[o++] = B64[(v >> 12) & 63];
        if (i + 1 < len) out[o++] = B64[(v >> 6) & 63];
        if (i + 2 < len) out[o++] = B64[v & 63];
    }
    out[o] = '\0';
}

/* Decodes `len` base64url characters into `out` (NUL-terminated); returns the byte count. */
static size_t b64url_decode(const char *in, size_t len, char *out) {
    uint32_t v = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        const char *p = strchr(B64, in[i]);
        if (p == NULL || in[i] == '\0') break;
        v = (v << 6) | (uint32_t)(p - B64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((v >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    return o;
}

/* The three segments of a token (pointers into it, lengths). */
struct segments {
    const char *part[3];
    size_t len[3];
};

static int split(const char *token, struct segments *s) {
    const char *a = strchr(token, '.');
    const char *b = a ? strchr(a + 1, '.') : NULL;
    if (a == NULL || b == NULL) return 0;
    s->part[0] = token;
    s->len[0] = (size_t)(a - token);
    s->part[1] = a + 1;
    s->len[1] = (size_t)(b - a - 1);
    s->part[2] = b + 1;
    s->len[2] = strlen(b + 1);
    return 1;
}

/* ------------------------------------------------------------------------ devcloud */

/* POST /_dev/jwt {"email": ALICE, <extra>} and copies the token to `out`. Returns 1 on
 * success. `extra` is NULL or JSON members without braces, e.g. "\"ttl_secs\": -3600". */
static int mint(const char *extra, char *out, size_t len) {
    char body[1536];
    char response[TOKEN_CAP + 1024];
    snprintf(body, sizeof body, "{\"email\":\"" ALICE "\"%s%s}", extra ? "," : "", extra ? extra : "");
    int status = dev_request("POST", "/_dev/jwt", body, response, sizeof response);
    out[0] = '\0';
    if (status != 200) {
        fprintf(stderr, "mint %s: HTTP %d\n", body, status);
        return 0;
    }
    const char *json = strstr(response, "\r\n\r\n");
    json_string(json, "token", out, len);
    return strchr(out, '.') != NULL;
}

static long jwks_fetches(void) { return dev_count(JWKS_KEY); }

/* ------------------------------------------------------------------------ validators */

struct options {
    const char *audience;
    const char *required;
    const char *const *algorithms;
    size_t algorithm_count;
    int leeway_secs; /* < 0: default */
};

static runbeam_validator *validator_with(const struct options *o) {
    runbeam_validator_config *cfg = NULL;
    runbeam_validator *v = NULL;
    if (runbeam_validator_config_new(&cfg) != RUNBEAM_OK) return NULL;
    runbeam_validator_config_add_trusted_issuer(cfg, issuer);
    runbeam_validator_config_set_deadline_ms(cfg, 10000);
    if (o != NULL) {
        if (o->audience) runbeam_validator_config_add_audience(cfg, o->audience);
        if (o->required) runbeam_validator_config_add_required_claim(cfg, o->required);
        if (o->algorithms) runbeam_validator_config_set_algorithms(cfg, o->algorithms, o->algorithm_count);
        if (o->leeway_secs >= 0)
            runbeam_validator_config_set_leeway_ms(cfg, (uint64_t)o->leeway_secs * 1000);
    }
    if (runbeam_validator_new(cfg, &v) != RUNBEAM_OK) fprintf(stderr, "validator: %s\n", last());
    runbeam_validator_config_free(cfg);
    return v;
}

static runbeam_validator *new_validator(void) { return validator_with(NULL); }

/* No segment of `token` (nor the token) appears in `text`. */
static int token_free(const char *text, const char *token) {
    struct segments s;
    if (strlen(token) >= 8 && strstr(text, token) != NULL) return 0;
    if (!split(token, &s)) return 1;
    for (int i = 0; i < 3; i++) {
        if (s.len[i] < 8) continue;
        char part[TOKEN_CAP];
        size_t n = s.len[i] < sizeof part - 1 ? s.len[i] : sizeof part - 1;
        memcpy(part, s.part[i], n);
        part[n] = '\0';
        if (strstr(text, part) != NULL) return 0;
    }
    return 1;
}

/* Validates `token` (blocking form) and checks it is refused with `want`, the out-parameter
 * untouched, the message naming `needle` (when not NULL) and quoting no part of the token. */
static void refused_at(int line, runbeam_validator *v, const char *token, runbeam_status want,
                       const char *needle) {
    runbeam_claims *claims = NULL;
    runbeam_status got = runbeam_validator_validate(v, token, strlen(token), &claims);
    CHECK(got == want, "line %d: %s, want %s: %s", line, runbeam_status_str(got),
          runbeam_status_str(want), last());
    CHECK(claims == NULL, "line %d: out untouched", line);
    CHECK(runbeam_last_error_status() == want, "line %d: last status %d", line,
          runbeam_last_error_status());
    if (needle != NULL) CHECK(strstr(last(), needle) != NULL, "line %d: '%s' in: %s", line, needle, last());
    CHECK(token_free(last(), token), "line %d: the message quotes the token: %s", line, last());
    runbeam_claims_free(claims);
}
#define REFUSED(v, token, want, needle) refused_at(__LINE__, v, token, want, needle)

/* ------------------------------------------------------------------------ tests */

static char genuine[TOKEN_CAP]; /* alice's token with scope and two audiences */

static void test_config(void) {
    runbeam_validator_config *cfg = NULL;
    runbeam_validator *v = NULL;

    CHECK(runbeam_validator_config_new(NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL out");
    CHECK(runbeam_validator_config_new(&cfg) == RUNBEAM_OK, "%s", last());
    /* Trust is explicit: no issuer and no JWKS URL is refused. */
    CHECK(runbeam_validator_new(cfg, &v) == RUNBEAM_STATUS_INVALID_ARGUMENT, "no trust");
    CHECK(v == NULL, "out untouched");
    CHECK(strstr(last(), "trusted issuer") != NULL, "%s", last());
    CHECK(runbeam_validator_new(NULL, &v) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL config");
    CHECK(runbeam_validator_new(cfg, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL out");

    /* Algorithms: none and HMAC are never accepted, nor unknown names or an empty list. */
    const char *none[] = {"none"};
    const char *hmac[] = {"RS256", "HS256"};
    const char *unknown[] = {"RS999"};
    const char *lower[] = {"rs256"};
    const char *with_null[] = {"RS256", NULL};
    const char *good[] = {"RS256", "ES256"};
    CHECK(runbeam_validator_config_set_algorithms(cfg, none, 1) == RUNBEAM_STATUS_INVALID_ARGUMENT, "none");
    CHECK(strstr(last(), "never") != NULL, "%s", last());
    CHECK(runbeam_validator_config_set_algorithms(cfg, hmac, 2) == RUNBEAM_STATUS_INVALID_ARGUMENT, "HS256");
    CHECK(strstr(last(), "HMAC") != NULL, "%s", last());
    CHECK(runbeam_validator_config_set_algorithms(cfg, unknown, 1) == RUNBEAM_STATUS_INVALID_ARGUMENT, "RS999");
    CHECK(runbeam_validator_config_set_algorithms(cfg, lower, 1) == RUNBEAM_STATUS_INVALID_ARGUMENT, "rs256");
    CHECK(runbeam_validator_config_set_algorithms(cfg, with_null, 2) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL name");
    CHECK(strstr(last(), "names[1]") != NULL, "%s", last());
    CHECK(runbeam_validator_config_set_algorithms(cfg, good, 0) == RUNBEAM_STATUS_INVALID_ARGUMENT, "empty");
    CHECK(runbeam_validator_config_set_algorithms(cfg, NULL, 1) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL");
    CHECK(runbeam_validator_config_set_algorithms(cfg, good, 2) == RUNBEAM_OK, "%s", last());

    /* String setters refuse NULL, empty and invalid UTF-8. */
    CHECK(runbeam_validator_config_add_trusted_issuer(cfg, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL");
    CHECK(runbeam_validator_config_add_trusted_issuer(cfg, "") == RUNBEAM_STATUS_INVALID_ARGUMENT, "empty");
    CHECK(runbeam_validator_config_add_trusted_issuer(cfg, "http://\xff\xfe") == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "bad UTF-8");
    CHECK(strstr(last(), "UTF-8") != NULL, "%s", last());
    CHECK(runbeam_validator_config_add_audience(cfg, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL");
    CHECK(runbeam_validator_config_add_required_claim(cfg, "") == RUNBEAM_STATUS_INVALID_ARGUMENT, "empty");
    CHECK(runbeam_validator_config_set_jwks_url(cfg, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL");
    CHECK(runbeam_validator_config_set_deadline_ms(cfg, 0) == RUNBEAM_STATUS_INVALID_ARGUMENT, "0 ms");
    CHECK(runbeam_validator_config_set_ca_bundle_pem(cfg, NULL, 5) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL");
    CHECK(runbeam_validator_config_set_leeway_ms(NULL, 1) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL cfg");
    CHECK(runbeam_validator_config_set_cache_capacity(NULL, 1) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL cfg");

    /* http:// to a non-loopback issuer needs the explicit opt-in. */
    CHECK(runbeam_validator_config_add_trusted_issuer(cfg, "http://issuer.example.com/api") == RUNBEAM_OK,
          "%s", last());
    CHECK(runbeam_validator_new(cfg, &v) == RUNBEAM_STATUS_INVALID_ARGUMENT, "insecure http");
    CHECK(strstr(last(), "http") != NULL, "%s", last());
    CHECK(runbeam_validator_config_set_allow_insecure_http(cfg, true) == RUNBEAM_OK, "%s", last());
    /* Timings must be consistent: max stale >= TTL. */
    CHECK(runbeam_validator_config_set_jwks_ttl_ms(cfg, 7200000) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_validator_config_set_max_stale_ms(cfg, 3600000) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_validator_new(cfg, &v) == RUNBEAM_STATUS_INVALID_ARGUMENT, "stale < ttl");
    CHECK(strstr(last(), "max_stale") != NULL, "%s", last());
    CHECK(runbeam_validator_config_set_max_stale_ms(cfg, 86400000) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_validator_config_set_min_refresh_interval_ms(cfg, 1000) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_validator_config_set_leeway_ms(cfg, 30000) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_validator_config_set_cache_capacity(cfg, 100) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_validator_config_set_jwks_url(cfg, "http://issuer.example.com/keys.json") == RUNBEAM_OK,
          "%s", last());
    CHECK(runbeam_validator_new(cfg, &v) == RUNBEAM_OK, "%s", last());
    runbeam_validator_free(v);
    v = NULL;
    /* A CA bundle with no certificate is refused when the validator is built. */
    const char junk[] = "not a PEM bundle";
    CHECK(runbeam_validator_config_set_ca_bundle_pem(cfg, junk, sizeof junk - 1) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_validator_new(cfg, &v) != RUNBEAM_OK, "junk CA bundle accepted");
    CHECK(v == NULL, "out untouched");
    runbeam_validator_config_free(cfg);

    runbeam_validator_config_free(NULL);
    runbeam_validator_free(NULL);
    runbeam_claims_free(NULL);
}

static void test_genuine_claims(void) {
    runbeam_validator *v = new_validator();
    runbeam_claims *c = NULL;
    CHECK(v != NULL, "validator");
    if (v == NULL) return;
    CHECK(mint("\"claims\":{\"scope\":\"gateways\",\"aud\":[\"a\",\"b\"]}", genuine, sizeof genuine),
          "mint");
    CHECK(runbeam_validator_validate(v, genuine, strlen(genuine), &c) == RUNBEAM_OK, "%s", last());
    CHECK(c != NULL, "claims");
    CHECK(runbeam_last_error_status() == RUNBEAM_OK, "cleared");
    if (c == NULL) {
        runbeam_validator_free(v);
        return;
    }
    long long now = unix_now();
    CHECK(eq(runbeam_claims_iss(c), issuer), "%s", or_null(runbeam_claims_iss(c)));
    /* The Cloud API URL the user JWT came from: the issuer's origin, what a client takes. */
    char *api = NULL;
    CHECK(runbeam_claims_api_base_url(c, &api) == RUNBEAM_OK, "%s", last());
    CHECK(api != NULL && strncmp(issuer, api, strlen(api)) == 0 && strcmp(issuer + strlen(api), "/api") == 0,
          "api base url %s of %s", or_null(api), issuer);
    runbeam_string_free(api);
    CHECK(runbeam_claims_api_base_url(c, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL out");
    api = NULL;
    CHECK(runbeam_claims_api_base_url(NULL, &api) == RUNBEAM_STATUS_INVALID_ARGUMENT && api == NULL,
          "NULL claims");
    CHECK(eq(runbeam_claims_sub(c), ALICE_ID), "%s", or_null(runbeam_claims_sub(c)));
    CHECK(runbeam_claims_jti(c) != NULL && strlen(runbeam_claims_jti(c)) > 0, "jti");
    CHECK(runbeam_claims_exp(c) > now && runbeam_claims_exp(c) <= now + 3700, "exp %lld",
          (long long)runbeam_claims_exp(c));
    int64_t iat = -1, nbf = -1;
    CHECK(runbeam_claims_iat(c, &iat) && iat <= now + 1 && iat > now - 600, "iat %lld", (long long)iat);
    CHECK(runbeam_claims_nbf(c, &nbf) && nbf == iat, "nbf %lld", (long long)nbf);
    CHECK(runbeam_claims_iat(c, NULL), "NULL out is allowed");
    CHECK(runbeam_claims_aud_count(c) == 2, "%zu", runbeam_claims_aud_count(c));
    CHECK(eq(runbeam_claims_aud(c, 0), "a") && eq(runbeam_claims_aud(c, 1), "b"), "aud");
    CHECK(runbeam_claims_aud(c, 2) == NULL, "out of range");
    CHECK(eq(runbeam_claims_user_id(c), ALICE_ID), "%s", or_null(runbeam_claims_user_id(c)));
    CHECK(eq(runbeam_claims_user_email(c), ALICE), "%s", or_null(runbeam_claims_user_email(c)));
    CHECK(eq(runbeam_claims_user_name(c), "Alice Reyes"), "%s", or_null(runbeam_claims_user_name(c)));
    CHECK(eq(runbeam_claims_team_id(c), RADIOLOGY_TEAM_ID), "%s", or_null(runbeam_claims_team_id(c)));
    CHECK(eq(runbeam_claims_team_name(c), "Radiology Department"), "%s", or_null(runbeam_claims_team_name(c)));
    CHECK(runbeam_claims_mesh_id(c) == NULL, "not a mesh token");
    CHECK(runbeam_claims_dest_url(c) == NULL, "not a mesh token");
    /* Borrowed strings are stable: the same pointer on every call. */
    CHECK(runbeam_claims_sub(c) == runbeam_claims_sub(c), "stable");

    char *json = NULL;
    CHECK(runbeam_claims_get_json(c, "scope", &json) == RUNBEAM_OK, "%s", last());
    CHECK(eq(json, "\"gateways\""), "%s", or_null(json));
    runbeam_string_free(json);
    json = NULL;
    CHECK(runbeam_claims_get_json(c, "team", &json) == RUNBEAM_OK, "%s", last());
    CHECK(json != NULL && json[0] == '{' && strstr(json, "Radiology Department") != NULL, "%s", or_null(json));
    runbeam_string_free(json);
    json = (char *)"untouched";
    CHECK(runbeam_claims_get_json(c, "no-such-claim", &json) == RUNBEAM_OK, "%s", last());
    CHECK(json == NULL, "absent claim gives NULL");
    CHECK(runbeam_claims_get_json(c, NULL, &json) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL name");
    CHECK(runbeam_claims_get_json(c, "\xff", &json) == RUNBEAM_STATUS_INVALID_ARGUMENT, "bad UTF-8");
    CHECK(runbeam_claims_get_json(c, "scope", NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL out");
    CHECK(runbeam_claims_get_json(NULL, "scope", &json) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL claims");
    CHECK(runbeam_claims_has(c, "scope") && runbeam_claims_has(c, "team"), "has");
    CHECK(!runbeam_claims_has(c, "no-such-claim") && !runbeam_claims_has(c, NULL), "has not");
    const char *all = runbeam_claims_json(c);
    CHECK(all != NULL && all[0] == '{' && strstr(all, "\"scope\":\"gateways\"") != NULL, "%s", or_null(all));
    CHECK(all != NULL && strstr(all, "\"exp\":") != NULL, "%s", or_null(all));
    runbeam_claims_free(c);

    /* Every getter is safe on NULL. */
    int64_t untouched = 42;
    CHECK(runbeam_claims_iss(NULL) == NULL && runbeam_claims_sub(NULL) == NULL &&
              runbeam_claims_jti(NULL) == NULL && runbeam_claims_user_id(NULL) == NULL &&
              runbeam_claims_user_email(NULL) == NULL && runbeam_claims_user_name(NULL) == NULL &&
              runbeam_claims_team_id(NULL) == NULL && runbeam_claims_team_name(NULL) == NULL &&
              runbeam_claims_mesh_id(NULL) == NULL && runbeam_claims_dest_url(NULL) == NULL &&
              runbeam_claims_json(NULL) == NULL && runbeam_claims_aud(NULL, 0) == NULL,
          "NULL getters");
    CHECK(runbeam_claims_exp(NULL) == 0 && runbeam_claims_aud_count(NULL) == 0, "NULL numbers");
    CHECK(!runbeam_claims_iat(NULL, &untouched) && !runbeam_claims_nbf(NULL, &untouched) && untouched == 42,
          "NULL times");

    /* A token without aud or nbf: count 0, presence flag false. */
    char plain[TOKEN_CAP];
    CHECK(mint("\"claims\":{\"nbf\":null,\"aud\":null}", plain, sizeof plain), "mint");
    c = NULL;
    CHECK(runbeam_validator_validate(v, plain, strlen(plain), &c) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_claims_aud_count(c) == 0, "no aud");
    CHECK(!runbeam_claims_nbf(c, &untouched) && untouched == 42, "no nbf");
    runbeam_claims_free(c);

    /* A single-string aud counts as one. */
    CHECK(mint("\"claims\":{\"aud\":\"solo\"}", plain, sizeof plain), "mint");
    c = NULL;
    CHECK(runbeam_validator_validate(v, plain, strlen(plain), &c) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_claims_aud_count(c) == 1 && eq(runbeam_claims_aud(c, 0), "solo"), "one aud");
    runbeam_claims_free(c);

    /* ES256 only when allowed. */
    char es[TOKEN_CAP];
    CHECK(mint("\"alg\":\"ES256\"", es, sizeof es), "mint ES256");
    REFUSED(v, es, RUNBEAM_STATUS_JWT_INVALID, "ES256");
    const char *both[] = {"RS256", "ES256"};
    struct options o = {NULL, NULL, both, 2, -1};
    runbeam_validator *ec = validator_with(&o);
    c = NULL;
    CHECK(runbeam_validator_validate(ec, es, strlen(es), &c) == RUNBEAM_OK, "%s", last());
    CHECK(eq(runbeam_claims_user_email(c), ALICE), "ES256 claims");
    runbeam_claims_free(c);
    runbeam_validator_free(ec);
    runbeam_validator_free(v);
}

static void test_attacks(void) {
    runbeam_validator *v = new_validator();
    CHECK(v != NULL, "validator");
    if (v == NULL) return;
    char token[TOKEN_CAP], forged[3 * TOKEN_CAP], header[512], json[TOKEN_CAP];
    struct segments s;
    CHECK(split(genuine, &s), "genuine token");

    /* The genuine token's kid, from its header. */
    char kid[128] = "";
    b64url_decode(s.part[0], s.len[0], json);
    json_string(json, "kid", kid, sizeof kid);
    CHECK(kid[0] != '\0', "kid in %s", json);

    /* alg none, no signature. */
    snprintf(json, sizeof json, "{\"alg\":\"none\",\"kid\":\"%s\"}", kid);
    b64url_encode((const unsigned char *)json, strlen(json), header);
    snprintf(forged, sizeof forged, "%s.%.*s.", header, (int)s.len[1], s.part[1]);
    REFUSED(v, forged, RUNBEAM_STATUS_JWT_INVALID, "never");

    /* HS256 with the public key as the HMAC secret: refused by algorithm, whatever the
     * signature bytes are, so any signature will do. */
    snprintf(json, sizeof json, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", kid);
    b64url_encode((const unsigned char *)json, strlen(json), header);
    snprintf(forged, sizeof forged, "%s.%.*s.%s", header, (int)s.len[1], s.part[1],
             "c2lnbmVkLXdpdGgtdGhlLXB1YmxpYy1rZXktYXMtYS1zZWNyZXQ");
    REFUSED(v, forged, RUNBEAM_STATUS_JWT_INVALID, "HMAC");
    /* Case games on the name do not help either. */
    snprintf(json, sizeof json, "{\"alg\":\"rs256\",\"kid\":\"%s\"}", kid);
    b64url_encode((const unsigned char *)json, strlen(json), header);
    snprintf(forged, sizeof forged, "%s.%.*s.%s", header, (int)s.len[1], s.part[1], s.part[2]);
    REFUSED(v, forged, RUNBEAM_STATUS_JWT_INVALID, "algorithm");

    /* Missing kid, signed by the devcloud's real key. */
    CHECK(mint("\"header\":{\"kid\":null}", token, sizeof token), "mint");
    REFUSED(v, token, RUNBEAM_STATUS_JWT_INVALID, "kid");

    /* Expired (beyond the 60 s leeway), not yet valid, no exp. */
    CHECK(mint("\"ttl_secs\":-3600", token, sizeof token), "mint");
    REFUSED(v, token, RUNBEAM_STATUS_JWT_EXPIRED, "expired");
    char extra[256];
    snprintf(extra, sizeof extra, "\"claims\":{\"nbf\":%lld}", unix_now() + 3600);
    CHECK(mint(extra, token, sizeof token), "mint");
    REFUSED(v, token, RUNBEAM_STATUS_JWT_INVALID, "not valid before");
    snprintf(extra, sizeof extra, "\"claims\":{\"iat\":%lld}", unix_now() + 3600);
    CHECK(mint(extra, token, sizeof token), "mint");
    REFUSED(v, token, RUNBEAM_STATUS_JWT_INVALID, "future");
    CHECK(mint("\"claims\":{\"exp\":null}", token, sizeof token), "mint");
    REFUSED(v, token, RUNBEAM_STATUS_JWT_INVALID, "exp");
    /* Inside the leeway it is fine; with no leeway it is not. */
    CHECK(mint("\"ttl_secs\":-20", token, sizeof token), "mint");
    runbeam_claims *c = NULL;
    CHECK(runbeam_validator_validate(v, token, strlen(token), &c) == RUNBEAM_OK, "leeway: %s", last());
    runbeam_claims_free(c);
    struct options strict_opts = {NULL, NULL, NULL, 0, 0};
    runbeam_validator *strict = validator_with(&strict_opts);
    REFUSED(strict, token, RUNBEAM_STATUS_JWT_EXPIRED, "expired");
    runbeam_validator_free(strict);

    /* Tampered payload (sub changed, signature kept). */
    b64url_decode(s.part[1], s.len[1], json);
    char *sub = strstr(json, ALICE_ID);
    CHECK(sub != NULL, "sub in %s", json);
    if (sub != NULL) sub[0] = sub[0] == 'X' ? 'Y' : 'X';
    char payload[TOKEN_CAP];
    b64url_encode((const unsigned char *)json, strlen(json), payload);
    snprintf(forged, sizeof forged, "%.*s.%s.%s", (int)s.len[0], s.part[0], payload, s.part[2]);
    REFUSED(v, forged, RUNBEAM_STATUS_JWT_INVALID, "signature");
    /* Tampered signature: one character of it changed. */
    snprintf(forged, sizeof forged, "%s", genuine);
    char *sig = forged + (s.part[2] - genuine) + 10;
    *sig = *sig == 'A' ? 'B' : 'A';
    REFUSED(v, forged, RUNBEAM_STATUS_JWT_INVALID, "signature");
    /* Truncated signature. */
    snprintf(forged, sizeof forged, "%.*s", (int)(strlen(genuine) - 40), genuine);
    REFUSED(v, forged, RUNBEAM_STATUS_JWT_INVALID, NULL);

    /* Audience and required claims. */
    struct options aud_opts = {"gateway:radiology-gw-1", "scope", NULL, 0, -1};
    runbeam_validator *aud = validator_with(&aud_opts);
    CHECK(mint("\"claims\":{\"aud\":\"gateway:other\",\"scope\":\"x\"}", token, sizeof token), "mint");
    REFUSED(aud, token, RUNBEAM_STATUS_JWT_INVALID, "audience");
    CHECK(mint("\"claims\":{\"aud\":\"gateway:radiology-gw-1\"}", token, sizeof token), "mint");
    REFUSED(aud, token, RUNBEAM_STATUS_JWT_INVALID, "'scope'");
    CHECK(mint("\"claims\":{\"aud\":[\"x\",\"gateway:radiology-gw-1\"],\"scope\":\"x\"}", token, sizeof token),
          "mint");
    c = NULL;
    CHECK(runbeam_validator_validate(aud, token, strlen(token), &c) == RUNBEAM_OK, "right aud: %s", last());
    runbeam_claims_free(c);
    runbeam_validator_free(aud);

    /* Over 16 KiB: refused before anything else (no need for a real signature). */
    size_t big_len = RUNBEAM_JWT_MAX_TOKEN_BYTES + 1;
    char *big = malloc(big_len + 1);
    CHECK(big != NULL, "malloc");
    if (big != NULL) {
        memset(big, 'A', big_len);
        big[10] = '.';
        big[big_len - 10] = '.';
        big[big_len] = '\0';
        REFUSED(v, big, RUNBEAM_STATUS_JWT_INVALID, "16384");
        /* Exactly at the limit it is judged on its content instead. */
        big[RUNBEAM_JWT_MAX_TOKEN_BYTES] = '\0';
        c = NULL;
        CHECK(runbeam_validator_validate(v, big, RUNBEAM_JWT_MAX_TOKEN_BYTES, &c) == RUNBEAM_STATUS_JWT_INVALID,
              "%s", last());
        CHECK(strstr(last(), "16384") == NULL, "%s", last());
        free(big);
    }

    /* Garbage. */
    const char *garbage[] = {".", "..", "...", "a.b.c", "not a jwt", "eyJ.eyJ.eyJ", "e30.e30.e30", "W10.W10.c2ln"};
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++)
        REFUSED(v, garbage[i], RUNBEAM_STATUS_JWT_INVALID, NULL);

    /* After all that, the genuine token still validates (no cache poisoning). */
    c = NULL;
    CHECK(runbeam_validator_validate(v, genuine, strlen(genuine), &c) == RUNBEAM_OK, "%s", last());
    runbeam_claims_free(c);
    runbeam_validator_free(v);
}

static void test_untrusted_issuers(void) {
    /* A fresh validator (no keys yet): untrusted issuers must cost no JWKS request. */
    runbeam_validator *v = new_validator();
    CHECK(v != NULL, "validator");
    if (v == NULL) return;
    CHECK(dev_delete("/_dev/counters") == 204, "reset counters");
    char look_alikes[12][400];
    int n = 0;
    snprintf(look_alikes[n++], 400, "https://api.runbeam.io/api");
    snprintf(look_alikes[n++], 400, "http://127.0.0.1.evil.example:%d/api", api_port);
    snprintf(look_alikes[n++], 400, "http://127.0.0.1:%d@evil.example/api", api_port);
    snprintf(look_alikes[n++], 400, "http://evil@127.0.0.1:%d/api", api_port);
    snprintf(look_alikes[n++], 400, "http://127.0.0.1:%d/api", (api_port + 1) % 65536);
    snprintf(look_alikes[n++], 400, "https://127.0.0.1:%d/api", api_port);
    snprintf(look_alikes[n++], 400, "%sx", issuer);
    snprintf(look_alikes[n++], 400, "%s/evil", issuer);
    snprintf(look_alikes[n++], 400, "http://127.0.0.1:%d", api_port);
    snprintf(look_alikes[n++], 400, "http://localhost:%d/api", api_port);
    for (int i = 0; i < n; i++) {
        char extra[512], token[TOKEN_CAP];
        snprintf(extra, sizeof extra, "\"claims\":{\"iss\":\"%s\"}", look_alikes[i]);
        CHECK(mint(extra, token, sizeof token), "mint %s", look_alikes[i]);
        REFUSED(v, token, RUNBEAM_STATUS_UNTRUSTED_ISSUER, "not trusted");
        CHECK(strcmp(runbeam_last_error_kind(), "UntrustedIssuer") == 0, "%s", runbeam_last_error_kind());
    }
    char token[TOKEN_CAP];
    CHECK(mint("\"claims\":{\"iss\":null}", token, sizeof token), "mint");
    REFUSED(v, token, RUNBEAM_STATUS_UNTRUSTED_ISSUER, "iss");
    CHECK(jwks_fetches() == 0, "%ld JWKS fetches for untrusted issuers", jwks_fetches());
    runbeam_validator_free(v);
}

static void test_cached(void) {
    runbeam_validator *v = new_validator();
    CHECK(v != NULL, "validator");
    if (v == NULL) return;
    CHECK(dev_delete("/_dev/counters") == 204, "reset counters");
    runbeam_claims *c = (runbeam_claims *)&c; /* a sentinel: must become NULL */
    CHECK(runbeam_validator_validate_cached(v, genuine, strlen(genuine), &c) == RUNBEAM_OK, "%s", last());
    CHECK(c == NULL, "keys not cached yet: NULL claims");
    CHECK(jwks_fetches() == 0, "the cached form fetched keys");
    /* Errors that need no keys are still reported by the cached form. */
    c = NULL;
    CHECK(runbeam_validator_validate_cached(v, "a.b.c", 5, &c) == RUNBEAM_STATUS_JWT_INVALID, "%s", last());
    char token[TOKEN_CAP];
    CHECK(mint("\"claims\":{\"iss\":\"https://api.runbeam.io/api\"}", token, sizeof token), "mint");
    CHECK(runbeam_validator_validate_cached(v, token, strlen(token), &c) == RUNBEAM_STATUS_UNTRUSTED_ISSUER,
          "%s", last());
    CHECK(c == NULL, "out untouched");

    CHECK(runbeam_validator_refresh_keys(v) == RUNBEAM_OK, "%s", last());
    CHECK(jwks_fetches() == 1, "%ld fetches", jwks_fetches());
    CHECK(runbeam_validator_validate_cached(v, genuine, strlen(genuine), &c) == RUNBEAM_OK, "%s", last());
    CHECK(c != NULL && eq(runbeam_claims_sub(c), ALICE_ID), "claims after refresh");
    runbeam_claims_free(c);
    c = NULL;
    /* A hit of the verified-token cache gives the same claims. */
    CHECK(runbeam_validator_validate_cached(v, genuine, strlen(genuine), &c) == RUNBEAM_OK, "%s", last());
    CHECK(c != NULL && eq(runbeam_claims_user_email(c), ALICE), "cache hit");
    runbeam_claims_free(c);
    c = NULL;
    /* Expired tokens are refused from the cache path too. */
    CHECK(mint("\"ttl_secs\":-3600", token, sizeof token), "mint");
    CHECK(runbeam_validator_validate_cached(v, token, strlen(token), &c) == RUNBEAM_STATUS_JWT_EXPIRED, "%s",
          last());
    /* Refreshing again within the minimum interval does not fetch. */
    CHECK(runbeam_validator_refresh_keys(v) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_validator_validate(v, genuine, strlen(genuine), &c) == RUNBEAM_OK, "%s", last());
    runbeam_claims_free(c);
    CHECK(jwks_fetches() == 1, "%ld fetches", jwks_fetches());
    CHECK(runbeam_validator_refresh_keys(NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL");
    runbeam_validator_free(v);
}

static void test_mesh(void) {
    runbeam_client_config *cfg = NULL;
    runbeam_client *user = NULL, *gateway = NULL;
    char *json = NULL;
    char machine_token[256] = "", mesh_token[TOKEN_CAP] = "";
    CHECK(runbeam_client_config_new(api_url, &cfg) == RUNBEAM_OK, "%s", last());
    runbeam_client_config_set_token(cfg, BOB);
    CHECK(runbeam_client_new(cfg, &user) == RUNBEAM_OK, "%s", last());
    runbeam_client_config_free(cfg);
    CHECK(runbeam_client_authorize(user, BOB_GW, NULL, &json) == RUNBEAM_OK, "%s", last());
    json_string(json, "machine_token", machine_token, sizeof machine_token);
    runbeam_string_free(json);
    json = NULL;
    CHECK(runbeam_client_with_token(user, machine_token, &gateway) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_client_mesh_token(gateway, MESH, DICOM_URL "/studies", &json) == RUNBEAM_OK, "%s", last());
    json_string(json, "token", mesh_token, sizeof mesh_token);
    runbeam_string_free(json);
    runbeam_client_free(gateway);
    runbeam_client_free(user);
    CHECK(strchr(mesh_token, '.') != NULL, "mesh token");
    size_t len = strlen(mesh_token);

    runbeam_validator *v = new_validator();
    runbeam_claims *c = (runbeam_claims *)&c;
    /* Cached form before keys: OK with NULL. */
    CHECK(runbeam_validator_verify_mesh_token_cached(v, mesh_token, len, MESH, NULL, &c) == RUNBEAM_OK, "%s",
          last());
    CHECK(c == NULL, "keys not cached yet");
    CHECK(runbeam_validator_verify_mesh_token(v, mesh_token, len, MESH, DICOM_URL "/studies/1.2.3", &c) ==
              RUNBEAM_OK, "%s", last());
    CHECK(eq(runbeam_claims_mesh_id(c), MESH), "%s", or_null(runbeam_claims_mesh_id(c)));
    CHECK(eq(runbeam_claims_dest_url(c), DICOM_URL "/studies"), "%s", or_null(runbeam_claims_dest_url(c)));
    CHECK(runbeam_claims_sub(c) != NULL && strncmp(runbeam_claims_sub(c), "gateway:", 8) == 0, "%s",
          or_null(runbeam_claims_sub(c)));
    CHECK(runbeam_claims_aud_count(c) == 1 && eq(runbeam_claims_aud(c, 0), "mesh:" MESH), "aud");
    CHECK(eq(runbeam_claims_iss(c), issuer), "%s", or_null(runbeam_claims_iss(c)));
    runbeam_claims_free(c);
    c = NULL;
    CHECK(runbeam_validator_verify_mesh_token(v, mesh_token, len, MESH, NULL, &c) == RUNBEAM_OK, "%s", last());
    runbeam_claims_free(c);
    c = NULL;
    CHECK(runbeam_validator_verify_mesh_token_cached(v, mesh_token, len, MESH, DICOM_URL "/studies", &c) ==
              RUNBEAM_OK, "%s", last());
    CHECK(c != NULL, "cached after the first validation");
    runbeam_claims_free(c);
    c = NULL;

    /* Another mesh or destination is refused, by every form. */
    const char *bad_dest[] = {"https://evil.example/studies", DICOM_URL "/studiesx", DICOM_URL,
                              "http://dicom.radiology.example.com/studies"};
    CHECK(runbeam_validator_verify_mesh_token(v, mesh_token, len, "other-mesh", NULL, &c) ==
              RUNBEAM_STATUS_JWT_INVALID, "%s", last());
    CHECK(strstr(last(), "mesh") != NULL && token_free(last(), mesh_token), "%s", last());
    CHECK(runbeam_validator_verify_mesh_token_cached(v, mesh_token, len, "other-mesh", NULL, &c) ==
              RUNBEAM_STATUS_JWT_INVALID, "%s", last());
    for (size_t i = 0; i < sizeof bad_dest / sizeof bad_dest[0]; i++) {
        CHECK(runbeam_validator_verify_mesh_token(v, mesh_token, len, MESH, bad_dest[i], &c) ==
                  RUNBEAM_STATUS_JWT_INVALID, "%s: %s", bad_dest[i], last());
        CHECK(token_free(last(), mesh_token), "%s", last());
    }
    CHECK(c == NULL, "out untouched");
    CHECK(runbeam_validator_verify_mesh_token(v, mesh_token, len, MESH, "not a url", &c) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "%s", last());
    CHECK(runbeam_validator_verify_mesh_token(v, mesh_token, len, NULL, NULL, &c) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL mesh");
    CHECK(runbeam_validator_verify_mesh_token(v, mesh_token, len, "", NULL, &c) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "empty mesh");
    /* A user JWT is not a mesh token. */
    CHECK(runbeam_validator_verify_mesh_token(v, genuine, strlen(genuine), MESH, NULL, &c) ==
              RUNBEAM_STATUS_JWT_INVALID, "%s", last());
    CHECK(strstr(last(), "mesh") != NULL, "%s", last());
    CHECK(c == NULL, "out untouched");
    runbeam_validator_free(v);
}

/* --------------------------------------------------------------------- callback forms */

struct waiter {
    struct waiter_sync sync;
    runbeam_status status;
    runbeam_claims *claims;
    char message[512];
    char sub[128];
    int on_caller_thread;
    int message_and_claims_exclusive;
    pthread_t caller;
    /* When set, the callback validates `genuine` with it (blocking form) and records the
     * status: refused when keys must be fetched (a runtime thread cannot block), fine on the
     * cached path. */
    runbeam_validator *nested;
    runbeam_status nested_status;
};

static void waiter_init(struct waiter *w) {
    memset(w, 0, sizeof *w);
    waiter_sync_init(&w->sync);
    w->caller = pthread_self();
}

static void waiter_destroy(struct waiter *w) {
    runbeam_claims_free(w->claims);
    waiter_sync_destroy(&w->sync);
}

static void on_claims(void *user_data, runbeam_status status, runbeam_claims *claims,
                      const char *error_message) {
    struct waiter *w = user_data;
    runbeam_status nested = -1;
    if (w->nested != NULL) {
        runbeam_claims *c = NULL;
        nested = runbeam_validator_validate(w->nested, genuine, strlen(genuine), &c);
        runbeam_claims_free(c);
    }
    waiter_sync_lock(&w->sync);
    w->nested_status = nested;
    w->status = status;
    w->on_caller_thread = pthread_equal(pthread_self(), w->caller);
    w->message_and_claims_exclusive =
        (status == RUNBEAM_OK) == (claims != NULL && error_message == NULL);
    snprintf(w->message, sizeof w->message, "%s", error_message ? error_message : "");
    snprintf(w->sub, sizeof w->sub, "%s", claims ? or_null(runbeam_claims_sub(claims)) : "");
    runbeam_claims_free(w->claims); /* keep only the last one */
    w->claims = claims;             /* the callback owns it */
    waiter_sync_signal(&w->sync);
}

/* Waits until `calls` callbacks arrived (at most 20 s); returns the count. */
static int waiter_wait(struct waiter *w, int calls) {
    return waiter_sync_wait(&w->sync, calls, 20);
}

static int waiter_calls(struct waiter *w) { return waiter_sync_count(&w->sync); }

static void test_async(void) {
    struct waiter w;
    runbeam_validator *v = new_validator(); /* no keys yet: the first call fetches them */
    CHECK(v != NULL, "validator");
    if (v == NULL) return;

    waiter_init(&w);
    CHECK(runbeam_validator_validate_async(v, genuine, strlen(genuine), on_claims, &w, NULL) == RUNBEAM_OK,
          "%s", last());
    CHECK(waiter_wait(&w, 1) == 1, "callback");
    sleep_ms(100);
    CHECK(waiter_calls(&w) == 1, "exactly once: %d", waiter_calls(&w));
    CHECK(w.status == RUNBEAM_OK, "%s: %s", runbeam_status_str(w.status), w.message);
    CHECK(w.message_and_claims_exclusive, "claims xor message");
    CHECK(!w.on_caller_thread, "called on a runtime thread");
    CHECK(eq(w.sub, ALICE_ID), "%s", w.sub);
    /* The handle outlives the callback and the validator. */
    CHECK(eq(runbeam_claims_user_email(w.claims), ALICE), "owned claims");
    waiter_destroy(&w);

    /* A failure: status, message, no claims, no token text. */
    char expired[TOKEN_CAP];
    CHECK(mint("\"ttl_secs\":-3600", expired, sizeof expired), "mint");
    waiter_init(&w);
    CHECK(runbeam_validator_validate_async(v, expired, strlen(expired), on_claims, &w, NULL) == RUNBEAM_OK,
          "%s", last());
    CHECK(waiter_wait(&w, 1) == 1, "callback");
    CHECK(w.status == RUNBEAM_STATUS_JWT_EXPIRED, "%s", runbeam_status_str(w.status));
    CHECK(w.claims == NULL && w.message_and_claims_exclusive, "no claims on failure");
    CHECK(strstr(w.message, "expired") != NULL && token_free(w.message, expired), "%s", w.message);
    waiter_destroy(&w);

    /* The mesh form: a user JWT is not a mesh token. */
    waiter_init(&w);
    CHECK(runbeam_validator_verify_mesh_token_async(v, genuine, strlen(genuine), MESH, NULL, on_claims, &w,
                                                     NULL) == RUNBEAM_OK, "%s", last());
    CHECK(waiter_wait(&w, 1) == 1, "callback");
    CHECK(w.status == RUNBEAM_STATUS_JWT_INVALID, "%s", runbeam_status_str(w.status));
    waiter_destroy(&w);

    /* Refused calls never call back. */
    waiter_init(&w);
    runbeam_cancel *cancel = NULL;
    CHECK(runbeam_validator_validate_async(v, genuine, strlen(genuine), NULL, &w, &cancel) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL callback");
    CHECK(runbeam_validator_validate_async(v, NULL, 5, on_claims, &w, &cancel) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL token");
    CHECK(runbeam_validator_validate_async(NULL, genuine, strlen(genuine), on_claims, &w, &cancel) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL validator");
    CHECK(runbeam_validator_validate_async(v, "\xff.x.y", 5, on_claims, &w, &cancel) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "bad UTF-8");
    CHECK(runbeam_validator_verify_mesh_token_async(v, genuine, strlen(genuine), NULL, NULL, on_claims, &w,
                                                     &cancel) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL mesh");
    CHECK(cancel == NULL, "out untouched");
    sleep_ms(50);
    CHECK(waiter_calls(&w) == 0, "no callback for refused calls");
    waiter_destroy(&w);
    runbeam_validator_free(v);

    /* Cancellation: a slow JWKS (5 s), cancelled at once; the callback still comes once. */
    CHECK(dev_post("/_dev/faults", "{\"path\":\"/api/.well-known/jwks.json\",\"latency_ms\":5000,\"count\":10}") ==
              201, "fault");
    v = new_validator();
    waiter_init(&w);
    cancel = NULL;
    double start = now_s();
    CHECK(runbeam_validator_validate_async(v, genuine, strlen(genuine), on_claims, &w, &cancel) == RUNBEAM_OK,
          "%s", last());
    CHECK(cancel != NULL, "cancel handle");
    CHECK(runbeam_cancel_request(cancel) == RUNBEAM_OK, "%s", last());
    CHECK(waiter_wait(&w, 1) == 1, "callback after cancel");
    CHECK(w.status == RUNBEAM_STATUS_CANCELLED, "%s", runbeam_status_str(w.status));
    CHECK(w.claims == NULL, "no claims");
    CHECK(now_s() - start < 4.5, "cancellation did not wait for the slow JWKS");
    runbeam_cancel_request(cancel); /* again, after completion: nothing happens */
    runbeam_cancel_free(cancel);
    sleep_ms(50);
    CHECK(waiter_calls(&w) == 1, "exactly once: %d", waiter_calls(&w));
    waiter_destroy(&w);

    /* Freeing the validator with a call in flight: CANCELLED, once, before free returns. */
    waiter_init(&w);
    CHECK(runbeam_validator_validate_async(v, genuine, strlen(genuine), on_claims, &w, NULL) == RUNBEAM_OK,
          "%s", last());
    sleep_ms(50);
    runbeam_validator_free(v);
    CHECK(waiter_calls(&w) == 1, "callback during free: %d", waiter_calls(&w));
    CHECK(w.status == RUNBEAM_STATUS_CANCELLED, "%s", runbeam_status_str(w.status));
    waiter_destroy(&w);
    CHECK(dev_delete("/_dev/faults") == 204, "clear faults");

    /* Inside a callback (a runtime thread), the blocking form works on the cached path and is
     * refused (not deadlocked) when keys would have to be fetched. */
    v = new_validator();
    runbeam_validator *cold = new_validator();
    runbeam_claims *c = NULL;
    CHECK(runbeam_validator_validate(v, genuine, strlen(genuine), &c) == RUNBEAM_OK, "%s", last());
    runbeam_claims_free(c);
    waiter_init(&w);
    w.nested = v;
    CHECK(runbeam_validator_validate_async(v, genuine, strlen(genuine), on_claims, &w, NULL) == RUNBEAM_OK,
          "%s", last());
    CHECK(waiter_wait(&w, 1) == 1, "callback");
    CHECK(w.nested_status == RUNBEAM_OK, "cached path in a callback: %s", runbeam_status_str(w.nested_status));
    waiter_destroy(&w);
    waiter_init(&w);
    w.nested = cold;
    CHECK(runbeam_validator_validate_async(v, genuine, strlen(genuine), on_claims, &w, NULL) == RUNBEAM_OK,
          "%s", last());
    CHECK(waiter_wait(&w, 1) == 1, "callback");
    CHECK(w.nested_status == RUNBEAM_STATUS_INVALID_ARGUMENT, "fetch in a callback: %s",
          runbeam_status_str(w.nested_status));
    CHECK(w.status == RUNBEAM_OK, "%s", runbeam_status_str(w.status));
    waiter_destroy(&w);
    runbeam_validator_free(cold);
    runbeam_validator_free(v);
}

/* ------------------------------------------- refresh_keys_async and the verified-token cache */

struct refresh_waiter {
    struct waiter_sync sync;
    runbeam_status status;
    int message_null;
    char message[512];
};

static void on_refreshed(void *user_data, runbeam_status status, const char *error_message) {
    struct refresh_waiter *w = user_data;
    waiter_sync_lock(&w->sync);
    w->status = status;
    w->message_null = error_message == NULL;
    snprintf(w->message, sizeof w->message, "%s", or_null(error_message));
    waiter_sync_signal(&w->sync);
}

static void refresh_waiter_init(struct refresh_waiter *w) {
    memset(w, 0, sizeof *w);
    waiter_sync_init(&w->sync);
    w->status = -1;
}

/* Waits for the one callback of `w` and checks that no second one comes. */
static void expect_refreshed(struct refresh_waiter *w, runbeam_status status, int line) {
    CHECK(waiter_sync_wait(&w->sync, 1, 30) == 1, "line %d: no callback", line);
    sleep_ms(50);
    CHECK(waiter_sync_count(&w->sync) == 1, "line %d: called %d times", line, waiter_sync_count(&w->sync));
    CHECK(w->status == status, "line %d: %s, expected %s: %s", line, runbeam_status_str(w->status),
          runbeam_status_str(status), w->message);
    CHECK(w->message_null == (status == RUNBEAM_OK), "line %d: message %s", line, w->message);
}

static void test_refresh_async(void) {
    struct refresh_waiter w;

    /* The keys are fetched once, off the calling thread; the cached path can answer then. */
    CHECK(dev_delete("/_dev/counters") == 204, "reset counters");
    runbeam_validator *v = new_validator();
    refresh_waiter_init(&w);
    CHECK(runbeam_validator_refresh_keys_async(v, on_refreshed, &w, NULL) == RUNBEAM_OK, "%s", last());
    expect_refreshed(&w, RUNBEAM_OK, __LINE__);
    waiter_sync_destroy(&w.sync);
    CHECK(jwks_fetches() == 1, "%ld fetches", jwks_fetches());
    runbeam_claims *c = NULL;
    CHECK(runbeam_validator_validate_cached(v, genuine, strlen(genuine), &c) == RUNBEAM_OK && c != NULL,
          "keys cached by the async refresh: %s", last());
    runbeam_claims_free(c);
    runbeam_validator_free(v);

    /* A failing JWKS: the fetch's error reaches the callback (kind and message; the core does
     * keeps only the message of a JWKS fetch's HTTP error, not its status or request). */
    CHECK(dev_post("/_dev/faults", "{\"path\":\"/api/.well-known/jwks.json\",\"status\":500,\"count\":10}") ==
              201, "fault");
    v = new_validator();
    refresh_waiter_init(&w);
    CHECK(runbeam_validator_refresh_keys_async(v, on_refreshed, &w, NULL) == RUNBEAM_OK, "%s", last());
    expect_refreshed(&w, RUNBEAM_STATUS_SERVER_ERROR, __LINE__);
    CHECK(strstr(w.message, "jwks") != NULL && strstr(w.message, "HTTP 500") != NULL,
          "the message names the JWKS and the answer: %s", w.message);
    waiter_sync_destroy(&w.sync);
    runbeam_validator_free(v);
    CHECK(dev_delete("/_dev/faults") == 204, "clear faults");

    /* Cancelled while the JWKS is slow; freed with a refresh pending. */
    CHECK(dev_post("/_dev/faults", "{\"path\":\"/api/.well-known/jwks.json\",\"latency_ms\":5000,\"count\":10}") ==
              201, "fault");
    v = new_validator();
    refresh_waiter_init(&w);
    runbeam_cancel *cancel = NULL;
    CHECK(runbeam_validator_refresh_keys_async(v, on_refreshed, &w, &cancel) == RUNBEAM_OK, "%s", last());
    CHECK(cancel != NULL, "cancel handle");
    CHECK(runbeam_cancel_request(cancel) == RUNBEAM_OK, "%s", last());
    expect_refreshed(&w, RUNBEAM_STATUS_CANCELLED, __LINE__);
    runbeam_cancel_free(cancel);
    waiter_sync_destroy(&w.sync);
    runbeam_validator_free(v);
    v = new_validator();
    refresh_waiter_init(&w);
    CHECK(runbeam_validator_refresh_keys_async(v, on_refreshed, &w, NULL) == RUNBEAM_OK, "%s", last());
    sleep_ms(50);
    runbeam_validator_free(v);
    CHECK(waiter_sync_count(&w.sync) == 1, "called by the free: %d", waiter_sync_count(&w.sync));
    CHECK(w.status == RUNBEAM_STATUS_CANCELLED, "%s", runbeam_status_str(w.status));
    waiter_sync_destroy(&w.sync);
    CHECK(dev_delete("/_dev/faults") == 204, "clear faults");

    /* Refused calls never call back. */
    v = new_validator();
    refresh_waiter_init(&w);
    cancel = NULL;
    CHECK(runbeam_validator_refresh_keys_async(v, NULL, &w, &cancel) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL callback");
    CHECK(runbeam_validator_refresh_keys_async(NULL, on_refreshed, &w, &cancel) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL validator");
    CHECK(cancel == NULL, "out untouched");
    sleep_ms(50);
    CHECK(waiter_sync_count(&w.sync) == 0, "never called");
    waiter_sync_destroy(&w.sync);
    runbeam_validator_free(v);
}

/* Validates `token` with `v` (blocking) and expects success. */
static void validate_ok(runbeam_validator *v, const char *token, int line) {
    runbeam_claims *c = NULL;
    CHECK(runbeam_validator_validate(v, token, strlen(token), &c) == RUNBEAM_OK, "line %d: %s", line, last());
    runbeam_claims_free(c);
}

static void test_token_cache(void) {
    runbeam_validator *v = new_validator();
    CHECK(runbeam_validator_cached_tokens(v) == 0, "empty: %zu", runbeam_validator_cached_tokens(v));
    /* A token is remembered from its second verification on (a one-off token is not kept). */
    validate_ok(v, genuine, __LINE__);
    CHECK(runbeam_validator_cached_tokens(v) == 0, "one-off: %zu", runbeam_validator_cached_tokens(v));
    validate_ok(v, genuine, __LINE__);
    CHECK(runbeam_validator_cached_tokens(v) == 1, "%zu", runbeam_validator_cached_tokens(v));
    validate_ok(v, genuine, __LINE__);
    CHECK(runbeam_validator_cached_tokens(v) == 1, "a repeated token is one entry: %zu",
          runbeam_validator_cached_tokens(v));
    char other[TOKEN_CAP];
    CHECK(mint("\"claims\":{\"scope\":\"other\"}", other, sizeof other), "mint");
    validate_ok(v, other, __LINE__);
    validate_ok(v, other, __LINE__);
    CHECK(runbeam_validator_cached_tokens(v) == 2, "%zu", runbeam_validator_cached_tokens(v));
    /* A refused token is never cached. */
    char expired[TOKEN_CAP];
    runbeam_claims *c = NULL;
    CHECK(mint("\"ttl_secs\":-3600", expired, sizeof expired), "mint");
    for (int i = 0; i < 2; i++)
        CHECK(runbeam_validator_validate(v, expired, strlen(expired), &c) == RUNBEAM_STATUS_JWT_EXPIRED, "%s",
              last());
    CHECK(runbeam_validator_cached_tokens(v) == 2, "%zu", runbeam_validator_cached_tokens(v));

    /* Flushed: no token remembered; the keys still are (validating again fetches nothing). */
    CHECK(runbeam_validator_flush_token_cache(v) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_validator_cached_tokens(v) == 0, "flushed: %zu", runbeam_validator_cached_tokens(v));
    CHECK(dev_delete("/_dev/counters") == 204, "reset counters");
    for (int i = 0; i < 2; i++) {
        c = NULL;
        CHECK(runbeam_validator_validate_cached(v, genuine, strlen(genuine), &c) == RUNBEAM_OK && c != NULL,
              "keys kept: %s", last());
        runbeam_claims_free(c);
    }
    CHECK(jwks_fetches() == 0, "%ld fetches", jwks_fetches());
    CHECK(runbeam_validator_cached_tokens(v) == 1, "verified again: %zu", runbeam_validator_cached_tokens(v));

    CHECK(runbeam_validator_flush_token_cache(NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL");
    CHECK(runbeam_validator_cached_tokens(NULL) == 0, "NULL");
    runbeam_validator_free(v);
}

static void test_arguments(void) {
    runbeam_validator *v = new_validator();
    runbeam_claims *c = NULL;
    size_t len = strlen(genuine);
    CHECK(runbeam_validator_validate(NULL, genuine, len, &c) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL v");
    CHECK(runbeam_validator_validate(v, NULL, len, &c) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL token");
    CHECK(runbeam_validator_validate(v, NULL, 0, &c) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL token, len 0");
    CHECK(strstr(last(), "token") != NULL, "%s", last());
    CHECK(runbeam_validator_validate(v, genuine, len, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL out");
    CHECK(runbeam_validator_validate_cached(v, genuine, len, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL out");
    CHECK(runbeam_validator_validate_cached(NULL, genuine, len, &c) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL v");
    CHECK(runbeam_validator_verify_mesh_token(v, genuine, len, MESH, NULL, NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL out");
    /* Zero length: a malformed (empty) token. */
    CHECK(runbeam_validator_validate(v, genuine, 0, &c) == RUNBEAM_STATUS_JWT_INVALID, "%s", last());
    CHECK(strstr(last(), "empty") != NULL, "%s", last());
    /* Invalid UTF-8 anywhere in the token. */
    char bad[TOKEN_CAP];
    snprintf(bad, sizeof bad, "%s", genuine);
    bad[len / 2] = (char)0xff;
    CHECK(runbeam_validator_validate(v, bad, len, &c) == RUNBEAM_STATUS_INVALID_ARGUMENT, "bad UTF-8");
    CHECK(strstr(last(), "UTF-8") != NULL && token_free(last(), bad), "%s", last());
    CHECK(runbeam_validator_validate_cached(v, bad, len, &c) == RUNBEAM_STATUS_INVALID_ARGUMENT, "bad UTF-8");
    /* An embedded NUL inside the length is part of the token (and makes it malformed). */
    snprintf(bad, sizeof bad, "%s", genuine);
    bad[len / 2] = '\0';
    CHECK(runbeam_validator_validate(v, bad, len, &c) == RUNBEAM_STATUS_JWT_INVALID, "%s", last());
    CHECK(c == NULL, "out untouched");
    /* Length-delimited: no NUL needed, bytes after the length are ignored. */
    char *unterminated = malloc(len + 8);
    if (unterminated != NULL) {
        memcpy(unterminated, genuine, len);
        memcpy(unterminated + len, ".garbage", 8);
        CHECK(runbeam_validator_validate(v, unterminated, len, &c) == RUNBEAM_OK, "%s", last());
        runbeam_claims_free(c);
        c = NULL;
        CHECK(runbeam_validator_validate(v, unterminated, len + 8, &c) == RUNBEAM_STATUS_JWT_INVALID,
              "four segments: %s", last());
        free(unterminated);
    }
    runbeam_validator_free(v);
}

static void test_parse_bearer(void) {
    const char *token = NULL;
    size_t len = 0;
    const char h1[] = "Bearer abc.def.ghi";
    CHECK(runbeam_bearer_parse(h1, strlen(h1), &token, &len) == RUNBEAM_OK, "%s", last());
    CHECK(token == h1 + 7 && len == 11, "points into the buffer: +%td, %zu", token - h1, len);
    /* Any case, extra blanks, and no NUL needed (the buffer goes on past the length). */
    const char h2[] = "  bEaReR \t x.y.z  NOT-PART-OF-THE-HEADER";
    CHECK(runbeam_bearer_parse(h2, 18, &token, &len) == RUNBEAM_OK, "%s", last());
    CHECK(token == h2 + 11 && len == 5 && strncmp(token, "x.y.z", 5) == 0, "%zu", len);

    const char *bad[] = {"", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNzd29yZA==", "Bearer a b", "Bearer a,b",
                         "Token abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        token = NULL;
        CHECK(runbeam_bearer_parse(bad[i], strlen(bad[i]), &token, &len) == RUNBEAM_STATUS_JWT_INVALID,
              "'%s': %s", bad[i], last());
        CHECK(token == NULL, "out untouched");
        CHECK(strstr(last(), "Authorization") != NULL, "%s", last());
    }
    CHECK(strstr(last(), "abc") == NULL, "the header is not quoted: %s", last());
    runbeam_bearer_parse(bad[3], strlen(bad[3]), &token, &len);
    CHECK(strstr(last(), "dXNlcjpwYXNzd29yZA") == NULL, "credential quoted: %s", last());

    CHECK(runbeam_bearer_parse(NULL, 0, &token, &len) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL header");
    CHECK(runbeam_bearer_parse(h1, strlen(h1), NULL, &len) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL out");
    CHECK(runbeam_bearer_parse(h1, strlen(h1), &token, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL len");
    CHECK(runbeam_bearer_parse("Bearer \xff\xfe", 9, &token, &len) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "bad UTF-8");

    /* Header to claims without copying the token. */
    char header[TOKEN_CAP + 16];
    snprintf(header, sizeof header, "Bearer %s", genuine);
    runbeam_validator *v = new_validator();
    runbeam_claims *c = NULL;
    CHECK(runbeam_bearer_parse(header, strlen(header), &token, &len) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_validator_validate(v, token, len, &c) == RUNBEAM_OK, "%s", last());
    CHECK(eq(runbeam_claims_sub(c), ALICE_ID), "claims");
    runbeam_claims_free(c);
    runbeam_validator_free(v);
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
    snprintf(issuer, sizeof issuer, "%s/api", api_url);

    test_config();
    test_genuine_claims();
    test_attacks();
    test_untrusted_issuers();
    test_cached();
    test_mesh();
    test_async();
    test_refresh_async();
    test_token_cache();
    test_arguments();
    test_parse_bearer();

    devcloud_stop();
    return check_summary();
}
