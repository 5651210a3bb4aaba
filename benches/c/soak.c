/*
 * Soak benchmark of the C ABI: 1,000,000 mixed calls on the hot paths of a gateway,
 * interleaved in a fixed cycle, against the keys and mesh of a runbeam-devcloud subprocess
 * (used only to set up: no network I/O happens during the calls):
 *   - runbeam_validator_validate_cached of a genuine token already validated (OK),
 *   - invalid tokens through runbeam_validator_validate_cached: malformed, an `alg` header of
 *     "a€b" (a multi-byte character), a bad signature (all RUNBEAM_STATUS_JWT_INVALID),
 *   - runbeam_resolver_resolve_cached of a reference already resolved (a cache hit),
 *   - runbeam_reference_parse of a valid reference (OK) and of an invalid one
 *     (RUNBEAM_STATUS_INVALID_REFERENCE).
 * Reports the resident set size (VmRSS of /proc/self/status) after 10,000 calls of warm-up,
 * after 100,000 and at the end, the growth after warm-up in %, the unexpected results (any
 * other status or output; the program exits 1 unless there are none) and the total time.
 *
 *   make c-soak        (builds the release librunbeam.a, then runs this against it)
 *   soak <path-to-runbeam-devcloud>
 */
#define _POSIX_C_SOURCE 200809L

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devcloud.h"
#include "runbeam.h"
#include "bench.h"

#define CALLS 1000000L
#define WARM_UP 10000L
#define MIDDLE 100000L
#define TOKEN_CAP 8192
#define BOB "2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f"
#define BOB_GW "analytics-gw-1"
#define DICOMWEB "runbeam.radiology-dept.ingress.name.dicomweb"
#define INVALID_REFERENCE "runbeam..ingress.name.x"

static void die(const char *what) {
    fprintf(stderr, "soak: %s: %s\n", what, runbeam_last_error_message());
    devcloud_stop();
    exit(2);
}

/* VmRSS of this process in KiB (0 if unreadable). */
static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = 0;
    if (f == NULL) return 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
    fclose(f);
    return kib;
}

static char genuine[TOKEN_CAP], bad_signature[TOKEN_CAP], bad_alg[TOKEN_CAP];
static const char malformed[] = "not-a.jwt";

static void mint(void) {
    char response[TOKEN_CAP + 1024];
    if (dev_request("POST", "/_dev/jwt", "{\"email\":\"alice@radiology.example.com\"}", response,
                    sizeof response) != 200)
        die("mint");
    json_string(strstr(response, "\r\n\r\n"), "token", genuine, sizeof genuine);
    if (strchr(genuine, '.') == NULL) die("no token minted");
    /* The same token with its last signature character changed. */
    snprintf(bad_signature, sizeof bad_signature, "%s", genuine);
    size_t n = strlen(bad_signature);
    bad_signature[n - 2] = bad_signature[n - 2] == 'A' ? 'B' : 'A';
    /* {"alg":"a€b","kid":"k1"} as the header, then the genuine claims and signature. */
    const char *claims = strchr(genuine, '.');
    snprintf(bad_alg, sizeof bad_alg, "eyJhbGciOiJh4oKsYiIsImtpZCI6ImsxIn0%s", claims);
}

static runbeam_validator *validator(void) {
    char issuer[300];
    snprintf(issuer, sizeof issuer, "%s/api", api_url);
    runbeam_validator_config *cfg = NULL;
    runbeam_validator *v = NULL;
    if (runbeam_validator_config_new(&cfg) != RUNBEAM_OK) die("validator config");
    runbeam_validator_config_add_trusted_issuer(cfg, issuer);
    if (runbeam_validator_new(cfg, &v) != RUNBEAM_OK) die("validator");
    runbeam_validator_config_free(cfg);
    if (runbeam_validator_refresh_keys(v) != RUNBEAM_OK) die("refresh_keys");
    runbeam_claims *claims = NULL;
    if (runbeam_validator_validate(v, genuine, strlen(genuine), &claims) != RUNBEAM_OK) die("validate");
    runbeam_claims_free(claims);
    return v;
}

static runbeam_resolver *resolver(runbeam_client **client_out) {
    runbeam_client_config *cc = NULL;
    if (runbeam_client_config_new(api_url, &cc) != RUNBEAM_OK ||
        runbeam_client_new(cc, client_out) != RUNBEAM_OK)
        die("client");
    runbeam_client_config_free(cc);
    runbeam_token_store *store = NULL;
    runbeam_token_manager_config *mc = NULL;
    runbeam_token_manager *m = NULL;
    runbeam_token_store_memory_new(&store);
    runbeam_token_manager_config_new(BOB_GW, &mc);
    runbeam_token_manager_config_set_api_url(mc, api_url);
    runbeam_token_manager_config_set_credential_token(mc, BOB);
    if (runbeam_token_manager_new(mc, store, &m) != RUNBEAM_OK) die("manager");
    runbeam_token_manager_config_free(mc);
    runbeam_token_store_free(store);
    const char *toml =
        "[proxy]\nid = \"" BOB_GW "\"\n\n"
        "[provider.runbeam]\napi = \"https://api.runbeam.io\"\ncache_ttl_secs = 86400\n\n"
        "[pipelines.research.mesh.egress.imaging-out]\n"
        "type = \"http3\"\nbackend = \"dicom-archive\"\nmode = \"mesh\"\n\n"
        "[mesh.imaging-integration]\ntype = \"http3\"\nprovider = \"runbeam\"\n"
        "egress = [\"imaging-out\", \"" DICOMWEB "\"]\n";
    runbeam_mesh_config *file = NULL, *cfg = NULL;
    if (runbeam_mesh_config_from_toml(toml, &file) != RUNBEAM_OK ||
        runbeam_mesh_config_with_provider_api(file, "runbeam", api_url, &cfg) != RUNBEAM_OK)
        die("config");
    runbeam_resolver *r = NULL;
    if (runbeam_resolver_new(cfg, *client_out, m, NULL, &r) != RUNBEAM_OK) die("resolver");
    runbeam_mesh_config_free(file);
    runbeam_mesh_config_free(cfg);
    runbeam_token_manager_free(m);
    runbeam_resolution *res = NULL;
    if (runbeam_resolver_resolve(r, DICOMWEB, &res) != RUNBEAM_OK) die("resolve");
    runbeam_resolution_free(res);
    return r;
}

static long unexpected;

static void expect(long i, const char *what, runbeam_status got, runbeam_status want) {
    if (got != want) {
        if (unexpected < 10)
            fprintf(stderr, "soak: call %ld (%s): status %d, expected %d: %s\n", i, what, got, want,
                    runbeam_last_error_message());
        unexpected++;
    }
}

/* One call of the cycle. */
static void call(long i, const runbeam_validator *v, const runbeam_resolver *r) {
    runbeam_claims *claims = NULL;
    switch (i % 7) {
    case 0:
        expect(i, "cached validation", runbeam_validator_validate_cached(v, genuine, strlen(genuine), &claims),
               RUNBEAM_OK);
        if (claims == NULL || runbeam_claims_sub(claims) == NULL) unexpected++;
        runbeam_claims_free(claims);
        break;
    case 1:
        expect(i, "malformed token", runbeam_validator_validate_cached(v, malformed, strlen(malformed), &claims),
               RUNBEAM_STATUS_JWT_INVALID);
        break;
    case 2:
        expect(i, "a\u20acb alg", runbeam_validator_validate_cached(v, bad_alg, strlen(bad_alg), &claims),
               RUNBEAM_STATUS_JWT_INVALID);
        break;
    case 3:
        expect(i, "bad signature",
               runbeam_validator_validate_cached(v, bad_signature, strlen(bad_signature), &claims),
               RUNBEAM_STATUS_JWT_INVALID);
        break;
    case 4: {
        runbeam_resolution *res = NULL;
        expect(i, "resolver cache hit", runbeam_resolver_resolve_cached(r, DICOMWEB, &res), RUNBEAM_OK);
        if (res == NULL || runbeam_resolution_is_stale(res)) unexpected++;
        runbeam_resolution_free(res);
        break;
    }
    case 5: {
        runbeam_reference *ref = NULL;
        expect(i, "valid reference", runbeam_reference_parse(DICOMWEB, &ref), RUNBEAM_OK);
        if (ref == NULL) unexpected++;
        runbeam_reference_free(ref);
        break;
    }
    default: {
        runbeam_reference *ref = NULL;
        expect(i, "invalid reference", runbeam_reference_parse(INVALID_REFERENCE, &ref),
               RUNBEAM_STATUS_INVALID_REFERENCE);
        if (ref != NULL) unexpected++;
        break;
    }
    }
    if (claims != NULL && i % 7 != 0) {
        unexpected++;
        runbeam_claims_free(claims);
    }
}

int main(int argc, char **argv) {
    int status = bench_devcloud_start(argc, argv);
    if (status != 0) return status;
    mint();
    runbeam_validator *v = validator();
    runbeam_client *client = NULL;
    runbeam_resolver *r = resolver(&client);

    long rss_warm = 0, rss_middle = 0;
    double start = now_s();
    for (long i = 0; i < CALLS; i++) {
        call(i, v, r);
        if (i + 1 == WARM_UP) rss_warm = rss_kib();
        if (i + 1 == MIDDLE) rss_middle = rss_kib();
    }
    double total = now_s() - start;
    long rss_end = rss_kib();

    runbeam_resolver_free(r);
    runbeam_client_free(client);
    runbeam_validator_free(v);
    devcloud_stop();

    double growth = rss_warm > 0 ? 100.0 * (double)(rss_end - rss_warm) / (double)rss_warm : 0.0;
    printf("soak: %ld mixed calls (cached validation, 3 invalid tokens, resolver cache hit, valid and "
           "invalid reference parse)\n",
           CALLS);
    printf("soak: VmRSS after %ld warm-up calls %ld KiB, after %ld %ld KiB, at the end %ld KiB\n", WARM_UP,
           rss_warm, MIDDLE, rss_middle, rss_end);
    printf("soak: growth after warm-up %.2f %%\n", growth);
    printf("soak: unexpected results %ld\n", unexpected);
    printf("soak: total %.2f s (%.2f µs per call)\n", total, total * 1e6 / (double)CALLS);
    return unexpected == 0 ? 0 : 1;
}
