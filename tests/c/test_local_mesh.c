/*
 * Meshes of the `local` provider through the C ABI: two gateways, each with its own resolver
 * and no Cloud (their clients point at a closed port), one holding the private key (or the
 * shared secret) and issuing mesh tokens with runbeam_resolver_mesh_token(), the other holding
 * the public key and verifying them with runbeam_resolver_verify_mesh_token(), for RS256 and
 * HS256; refusals (another destination, another mesh, an unknown mesh, a tampered token,
 * another key, the other algorithm), a receiver that cannot issue, and a private key file
 * readable by others refused when the resolver is built.
 *
 * The RSA keys are made by the `openssl` command line tool (openssl genpkey / pkey) in a
 * mkdtemp directory.
 *
 * Usage: test_local_mesh
 */
#define _POSIX_C_SOURCE 200809L

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "check.h"
#include "runbeam.h"

#define SENDER_GW "analytics-gw-1"
#define RECEIVER_GW "results-gw-1"
#define RESULTS_URL "https://results.lab.example.com"
#define INBOX RESULTS_URL "/inbox"
#define HS_SECRET "lab-mesh-secret-of-at-least-32-bytes-0123456789"
#define NOWHERE "http://127.0.0.1:9"
#define TOKEN_CAP 8192

static const char *or_null(const char *s) { return s ? s : "(null)"; }
static const char *last(void) { return runbeam_last_error_message(); }

static runbeam_client *client; /* points at a closed port: never contacted */
static char dir[64];

/* --------------------------------------------------------------------------- helpers */

/* Runs `command` (openssl); true when it succeeded. */
static bool run(const char *command) {
    int rc = system(command);
    if (rc != 0) fprintf(stderr, "  '%s' failed (%d): the openssl tool is needed\n", command, rc);
    return rc == 0;
}

/* An RSA-2048 key pair `<dir>/<name>.key` (mode 0600, as genpkey writes it) and `.pub`. */
static bool make_key(const char *name) {
    char command[512];
    snprintf(command, sizeof command,
             "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out '%s/%s.key' "
             "2>/dev/null && chmod 600 '%s/%s.key' && "
             "openssl pkey -in '%s/%s.key' -pubout -out '%s/%s.pub' 2>/dev/null",
             dir, name, dir, name, dir, name, dir, name);
    return run(command);
}

/* A resolver for gateway `gateway` with `toml`, offline (no token, no credential). NULL and
 * `*status` set when it cannot be built or its configuration is refused. */
static runbeam_resolver *offline_resolver(const char *gateway, const char *toml,
                                          runbeam_status *status) {
    runbeam_mesh_config *config = NULL;
    runbeam_status s = runbeam_mesh_config_from_toml(toml, &config);
    runbeam_token_store *store = NULL;
    runbeam_token_manager_config *mc = NULL;
    runbeam_token_manager *m = NULL;
    runbeam_resolver *r = NULL;
    runbeam_token_store_memory_new(&store);
    runbeam_token_manager_config_new(gateway, &mc);
    runbeam_token_manager_config_set_api_url(mc, NOWHERE);
    runbeam_token_manager_new(mc, store, &m);
    if (s == RUNBEAM_OK) s = runbeam_resolver_new(config, client, m, NULL, &r);
    if (s == RUNBEAM_OK) s = runbeam_resolver_validate_startup(r);
    if (s != RUNBEAM_OK) {
        runbeam_resolver_free(r);
        r = NULL;
    }
    runbeam_token_manager_config_free(mc);
    runbeam_token_manager_free(m);
    runbeam_token_store_free(store);
    runbeam_mesh_config_free(config);
    if (status != NULL) *status = s;
    return r;
}

/* The sending gateway: the egress and mesh `lab` (id `lab-mesh`) with `keys`. */
static runbeam_resolver *sender(const char *keys, runbeam_status *status) {
    char toml[2048];
    snprintf(toml, sizeof toml,
             "[pipelines.research.mesh.egress.to-results]\nmode = \"mesh\"\n\n"
             "[mesh.lab]\ntype = \"http\"\nprovider = \"local\"\nid = \"lab-mesh\"\n"
             "egress = [\"to-results\"]\n%s\n",
             keys);
    return offline_resolver(SENDER_GW, toml, status);
}

/* The receiving gateway: the ingress, mesh `lab` with `keys` and mesh `other` with
 * `other_keys`. */
static runbeam_resolver *receiver(const char *keys, const char *other_keys) {
    char toml[2048];
    snprintf(toml, sizeof toml,
             "[pipelines.results.mesh.ingress.results]\nurls = [\"" RESULTS_URL "\"]\n"
             "mode = \"mesh\"\n\n"
             "[mesh.lab]\ntype = \"http\"\nprovider = \"local\"\nid = \"lab-mesh\"\n"
             "ingress = [\"results\"]\n%s\n\n"
             "[mesh.other]\ntype = \"http\"\nprovider = \"local\"\ningress = [\"results\"]\n%s\n",
             keys, other_keys);
    runbeam_status s = RUNBEAM_OK;
    runbeam_resolver *r = offline_resolver(RECEIVER_GW, toml, &s);
    CHECK(r != NULL, "receiver: %s: %s", runbeam_status_str(s), last());
    return r;
}

/* Issues a token for `INBOX` through mesh `lab` into `token`; the status. */
static runbeam_status issue(runbeam_resolver *r, char *token, size_t len) {
    runbeam_issued_mesh_token *mt = NULL;
    runbeam_status s = runbeam_resolver_mesh_token(r, "lab", INBOX, &mt);
    snprintf(token, len, "%s", s == RUNBEAM_OK ? or_null(runbeam_issued_mesh_token_secret(mt)) : "");
    runbeam_issued_mesh_token_free(mt);
    return s;
}

/* Verifies `token` for `mesh` at `url` (NULL: no destination check); the status. The claims'
 * `sub` into `sub` when given. */
static runbeam_status verify(runbeam_resolver *r, const char *token, const char *mesh,
                             const char *url, char *sub, size_t len) {
    runbeam_claims *claims = NULL;
    runbeam_status s = runbeam_resolver_verify_mesh_token(r, token, strlen(token), mesh, url, &claims);
    if (sub != NULL) snprintf(sub, len, "%s", s == RUNBEAM_OK ? or_null(runbeam_claims_sub(claims)) : "");
    runbeam_claims_free(claims);
    return s;
}

/* The token with one character of its signature changed. */
static void tamper(const char *token, char *out, size_t len) {
    snprintf(out, len, "%s", token);
    size_t n = strlen(out);
    if (n > 2) out[n - 2] = out[n - 2] == 'A' ? 'B' : 'A';
}

/* The token's header contains `"alg":"<alg>"` (decoded from base64url). */
static bool header_says(const char *token, const char *alg) {
    static const char *table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char header[512] = {0};
    size_t out = 0;
    unsigned bits = 0, value = 0;
    for (const char *p = token; *p != '\0' && *p != '.' && out + 1 < sizeof header; p++) {
        const char *at = strchr(table, *p);
        if (at == NULL) return false;
        value = (value << 6) | (unsigned)(at - table);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            header[out++] = (char)((value >> bits) & 0xff);
        }
    }
    char needle[64];
    snprintf(needle, sizeof needle, "\"alg\":\"%s\"", alg);
    return strstr(header, needle) != NULL;
}

#define REFUSED(r, token, mesh, url, want)                                                    \
    do {                                                                                     \
        runbeam_status got_ = verify(r, token, mesh, url, NULL, 0);                          \
        CHECK(got_ == (want), "%s: %s, want %s: %s", #token, runbeam_status_str(got_),       \
              runbeam_status_str(want), last());                                             \
    } while (0)

/* ------------------------------------------------------------------------------ tests */

static void test_rs256(void) {
    CHECK(make_key("lab") && make_key("other"), "keys");
    char keys[512], public_keys[512], other_public[512], other_private[512];
    snprintf(keys, sizeof keys, "jwt_private_key_path = \"%s/lab.key\"", dir);
    snprintf(public_keys, sizeof public_keys, "jwt_public_key_path = \"%s/lab.pub\"", dir);
    snprintf(other_public, sizeof other_public, "jwt_public_key_path = \"%s/other.pub\"", dir);
    snprintf(other_private, sizeof other_private, "jwt_private_key_path = \"%s/other.key\"", dir);
    runbeam_status s = RUNBEAM_OK;
    runbeam_resolver *tx = sender(keys, &s);
    CHECK(tx != NULL, "sender: %s: %s", runbeam_status_str(s), last());
    runbeam_resolver *rx = receiver(public_keys, other_public);
    if (tx == NULL || rx == NULL) {
        runbeam_resolver_free(tx);
        runbeam_resolver_free(rx);
        return;
    }

    /* The sender signs; the same token comes from its cache by name or id. */
    runbeam_issued_mesh_token *mt = NULL;
    CHECK(runbeam_resolver_mesh_token(tx, "lab", INBOX, &mt) == RUNBEAM_OK, "%s", last());
    char token[TOKEN_CAP];
    snprintf(token, sizeof token, "%s", or_null(runbeam_issued_mesh_token_secret(mt)));
    CHECK(strcmp(or_null(runbeam_issued_mesh_token_mesh(mt)), "lab") == 0, "mesh");
    CHECK(strcmp(or_null(runbeam_issued_mesh_token_mesh_id(mt)), "lab-mesh") == 0, "mesh id");
    CHECK(runbeam_issued_mesh_token_expires_at(mt) > (int64_t)time(NULL), "expires later");
    runbeam_claims *claims = NULL;
    CHECK(runbeam_issued_mesh_token_claims(mt, &claims) == RUNBEAM_OK, "%s", last());
    CHECK(strcmp(or_null(runbeam_claims_iss(claims)), "local:lab-mesh") == 0, "iss %s",
          or_null(runbeam_claims_iss(claims)));
    CHECK(strcmp(or_null(runbeam_claims_sub(claims)), "gateway:" SENDER_GW) == 0, "sub %s",
          or_null(runbeam_claims_sub(claims)));
    CHECK(strcmp(or_null(runbeam_claims_aud(claims, 0)), "mesh:lab-mesh") == 0, "aud %s",
          or_null(runbeam_claims_aud(claims, 0)));
    runbeam_claims_free(claims);
    runbeam_issued_mesh_token_free(mt);
    CHECK(header_says(token, "RS256"), "RS256 header");
    char again[TOKEN_CAP];
    mt = NULL;
    CHECK(runbeam_resolver_mesh_token(tx, "lab-mesh", INBOX, &mt) == RUNBEAM_OK, "%s", last());
    snprintf(again, sizeof again, "%s", or_null(runbeam_issued_mesh_token_secret(mt)));
    runbeam_issued_mesh_token_free(mt);
    CHECK(strcmp(token, again) == 0, "the cached token");
    runbeam_resolver_stats st;
    CHECK(runbeam_resolver_stats_get(tx, &st) == RUNBEAM_OK && st.mesh_token_requests == 1 &&
              st.cached_mesh_tokens == 1,
          "signed once: %llu", (unsigned long long)st.mesh_token_requests);
    mt = NULL;
    CHECK(runbeam_resolver_mesh_token(tx, "lab", "ftp://results.lab.example.com/x", &mt) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT,
          "not an http(s) destination");

    /* The receiver verifies under the URL it serves, by name or id, with no I/O. */
    char sub[128];
    CHECK(verify(rx, token, "lab", INBOX "/42", sub, sizeof sub) == RUNBEAM_OK, "%s", last());
    CHECK(strcmp(sub, "gateway:" SENDER_GW) == 0, "sub %s", sub);
    CHECK(verify(rx, token, "lab-mesh", INBOX, NULL, 0) == RUNBEAM_OK, "by id: %s", last());
    claims = NULL;
    CHECK(runbeam_resolver_verify_mesh_token_cached(rx, token, strlen(token), "lab", INBOX,
                                                    &claims) == RUNBEAM_OK &&
              claims != NULL,
          "the cached form answers: %s", last());
    runbeam_claims_free(claims);
    CHECK(verify(tx, token, "lab", INBOX, NULL, 0) == RUNBEAM_OK, "the sender verifies its own");

    /* The receiver holds only the public key: it cannot issue. */
    char none[TOKEN_CAP];
    CHECK(issue(rx, none, sizeof none) == RUNBEAM_STATUS_CONFIG, "%s", last());
    CHECK(strstr(last(), "jwt_private_key_path") != NULL, "%s", last());

    /* Refusals. */
    REFUSED(rx, token, "lab", "https://results.lab.example.com/admin", RUNBEAM_STATUS_JWT_INVALID);
    REFUSED(rx, token, "lab", "https://evil.example/inbox", RUNBEAM_STATUS_JWT_INVALID);
    REFUSED(rx, token, "other", INBOX, RUNBEAM_STATUS_UNTRUSTED_ISSUER);
    REFUSED(rx, token, "nope", INBOX, RUNBEAM_STATUS_NOT_IN_MESH);
    char tampered[TOKEN_CAP];
    tamper(token, tampered, sizeof tampered);
    REFUSED(rx, tampered, "lab", INBOX, RUNBEAM_STATUS_JWT_INVALID);
    REFUSED(rx, "not.a.token", "lab", INBOX, RUNBEAM_STATUS_JWT_INVALID);
    /* Signed with another key for the same mesh id. */
    runbeam_resolver *impostor = sender(other_private, &s);
    CHECK(impostor != NULL, "impostor: %s", last());
    char forged[TOKEN_CAP];
    CHECK(impostor != NULL && issue(impostor, forged, sizeof forged) == RUNBEAM_OK, "%s", last());
    REFUSED(rx, forged, "lab", INBOX, RUNBEAM_STATUS_JWT_INVALID);
    runbeam_resolver_free(impostor);
    /* An HS256 token under the same mesh id, made with a secret: refused by the RSA mesh. */
    runbeam_resolver *hs = sender("jwt_secret = \"" HS_SECRET "\"", &s);
    char hs_token[TOKEN_CAP];
    CHECK(hs != NULL && issue(hs, hs_token, sizeof hs_token) == RUNBEAM_OK, "%s", last());
    REFUSED(rx, hs_token, "lab", INBOX, RUNBEAM_STATUS_JWT_INVALID);
    runbeam_resolver_free(hs);

    /* The receiver counted what it verified and refused. */
    CHECK(runbeam_resolver_stats_get(rx, &st) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_error_counts_get(&st.errors, RUNBEAM_STATUS_CONFIG) == 1, "config errors %llu",
          (unsigned long long)runbeam_error_counts_get(&st.errors, RUNBEAM_STATUS_CONFIG));

    runbeam_resolver_free(tx);
    runbeam_resolver_free(rx);

    /* A private key readable by others is refused when the resolver is built. */
    char path[128];
    snprintf(path, sizeof path, "%s/lab.key", dir);
    CHECK(chmod(path, 0644) == 0, "chmod");
    runbeam_resolver *loose = sender(keys, &s);
    CHECK(loose == NULL && s == RUNBEAM_STATUS_CONFIG, "%s: %s", runbeam_status_str(s), last());
    CHECK(strstr(last(), "mesh.lab.jwt_private_key_path") != NULL, "names the setting: %s",
          last());
    runbeam_resolver_free(loose);
    chmod(path, 0600);
}

static void test_hs256(void) {
    const char *secret = "jwt_secret = \"" HS_SECRET "\"";
    runbeam_status s = RUNBEAM_OK;
    runbeam_resolver *tx = sender(secret, &s);
    CHECK(tx != NULL, "sender: %s", last());
    runbeam_resolver *rx = receiver(secret, "jwt_secret = \"another-secret-of-at-least-32-bytes!!\"");
    if (tx == NULL || rx == NULL) {
        runbeam_resolver_free(tx);
        runbeam_resolver_free(rx);
        return;
    }
    char token[TOKEN_CAP];
    CHECK(issue(tx, token, sizeof token) == RUNBEAM_OK, "%s", last());
    CHECK(header_says(token, "HS256"), "HS256 header");
    char sub[128];
    CHECK(verify(rx, token, "lab", INBOX "/1", sub, sizeof sub) == RUNBEAM_OK, "%s", last());
    CHECK(strcmp(sub, "gateway:" SENDER_GW) == 0, "sub %s", sub);
    /* The receiver shares the secret, so it may issue too. */
    char back[TOKEN_CAP];
    CHECK(issue(rx, back, sizeof back) == RUNBEAM_OK, "%s", last());

    /* Refusals: another destination, another mesh's secret, a tampered token, another
     * secret for the same mesh id. */
    REFUSED(rx, token, "lab", "https://results.lab.example.com/admin", RUNBEAM_STATUS_JWT_INVALID);
    REFUSED(rx, token, "other", INBOX, RUNBEAM_STATUS_UNTRUSTED_ISSUER);
    char tampered[TOKEN_CAP];
    tamper(token, tampered, sizeof tampered);
    REFUSED(rx, tampered, "lab", INBOX, RUNBEAM_STATUS_JWT_INVALID);
    runbeam_resolver *stranger =
        sender("jwt_secret = \"a-different-secret-of-32-bytes-or-more\"", &s);
    char forged[TOKEN_CAP];
    CHECK(stranger != NULL && issue(stranger, forged, sizeof forged) == RUNBEAM_OK, "%s", last());
    REFUSED(rx, forged, "lab", INBOX, RUNBEAM_STATUS_JWT_INVALID);
    runbeam_resolver_free(stranger);

    /* A secret shorter than 32 bytes is a configuration problem. */
    runbeam_resolver *weak = sender("jwt_secret = \"short\"", &s);
    CHECK(weak == NULL && s == RUNBEAM_STATUS_CONFIG, "%s: %s", runbeam_status_str(s), last());
    CHECK(strstr(last(), "jwt_secret") != NULL && strstr(last(), "short") == NULL,
          "names the setting, not the secret: %s", last());
    runbeam_resolver_free(weak);

    runbeam_resolver_free(tx);
    runbeam_resolver_free(rx);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/runbeam-c-local-mesh-XXXXXX");
    if (mkdtemp(dir) == NULL) return 2;
    runbeam_client_config *cc = NULL;
    if (runbeam_client_config_new(NOWHERE, &cc) != RUNBEAM_OK ||
        runbeam_client_new(cc, &client) != RUNBEAM_OK) {
        fprintf(stderr, "client: %s\n", last());
        return 2;
    }
    runbeam_client_config_free(cc);

    test_rs256();
    test_hs256();

    runbeam_client_free(client);
    char cleanup[128];
    snprintf(cleanup, sizeof cleanup, "rm -rf '%s'", dir);
    if (system(cleanup) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return check_summary();
}
