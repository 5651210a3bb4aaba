/*
 * The HTTP edge through the C ABI on the cached path (keys, resolution and mesh token cached):
 *
 *   1. in process: runbeam_validator_authenticate + runbeam_resolver_outbound (reading the URL
 *      and the header, the frees) per request;
 *   2. over HTTP: a libmicrohttpd handler answering 200 at once (bare) vs the same handler
 *      making those two calls first (edge), one keep-alive libcurl client, sequential
 *      requests, the two interleaved; the median per request and of their difference.
 *
 * Run by `bash scripts/bench.sh c` against the release librunbeam.a and a runbeam-devcloud
 * subprocess; compiled by `make c-build` so that it cannot rot. Figures: BENCHMARKS.md,
 * "Middleware".
 */
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L

#include <curl/curl.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devcloud.h"
#include "runbeam.h"

#include "bench.h"

#define BOB "2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f"
#define DICOMWEB "runbeam.radiology-dept.ingress.name.dicomweb"

static runbeam_validator *validator;
static runbeam_resolver *resolver;
static char header[8200]; /* "Bearer " + a token of up to 8191 bytes */

static bool edge_calls(void) {
    runbeam_claims *user = NULL;
    runbeam_outbound *out = NULL;
    bool ok = runbeam_validator_authenticate(validator, header, &user) == RUNBEAM_OK &&
              runbeam_resolver_outbound(resolver, DICOMWEB, "/studies?modality=CT", &out) == RUNBEAM_OK &&
              runbeam_outbound_url(out) != NULL && runbeam_outbound_authorization_secret(out) != NULL;
    runbeam_outbound_free(out);
    runbeam_claims_free(user);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **req) {
    (void)cls, (void)method, (void)version, (void)data, (void)size;
    if (*req == NULL) {
        *req = (void *)1;
        return MHD_YES;
    }
    unsigned status = 200;
    if (strcmp(url, "/edge") == 0) {
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        runbeam_claims *user = NULL;
        runbeam_outbound *out = NULL;
        if (runbeam_validator_authenticate(validator, auth, &user) != RUNBEAM_OK ||
            runbeam_resolver_outbound(resolver, DICOMWEB, "/studies", &out) != RUNBEAM_OK)
            status = 503;
        runbeam_outbound_free(out);
        runbeam_claims_free(user);
    }
    static const char body[] = "{\"status\":\"ok\"}";
    struct MHD_Response *r = MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result q = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return q;
}

static size_t sink(char *p, size_t s, size_t n, void *u) { (void)p, (void)u; return s * n; }

/* µs per request of `n` sequential keep-alive GETs of `url`. */
static double http_round(CURL *curl, const char *url, int n) {
    curl_easy_setopt(curl, CURLOPT_URL, url);
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        long code = 0;
        if (curl_easy_perform(curl) != CURLE_OK ||
            (curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code), code != 200)) {
            fprintf(stderr, "request failed (%ld)\n", code);
            exit(1);
        }
    }
    return (now_s() - t0) * 1e6 / n;
}

int main(int argc, char **argv) {
    int started = bench_devcloud_start(argc, argv);
    if (started != 0) return started;
    char api[300], body[256], response[16384], token[8192];
    snprintf(api, sizeof api, "%s/api", api_url);
    snprintf(body, sizeof body, "{\"email\":\"bob@analytics.example.com\"}");
    if (dev_request("POST", "/_dev/jwt", body, response, sizeof response) != 200) return 1;
    json_string(strstr(response, "\r\n\r\n"), "token", token, sizeof token);
    snprintf(header, sizeof header, "Bearer %s", token);

    runbeam_validator_config *vc = NULL;
    runbeam_validator_config_new(&vc);
    runbeam_validator_config_add_trusted_issuer(vc, api);
    runbeam_validator_new(vc, &validator);
    runbeam_client_config *cc = NULL;
    runbeam_client *client = NULL;
    runbeam_client_config_new(api, &cc);
    runbeam_client_new(cc, &client);
    runbeam_mesh_config *file = NULL, *cfg = NULL;
    runbeam_mesh_config_from_file("examples/config/ai-analytics.toml", &file);
    runbeam_mesh_config_with_provider_api(file, "runbeam", api, &cfg);
    runbeam_token_store *store = NULL;
    runbeam_token_store_memory_new(&store);
    runbeam_token_manager_config *mc = NULL;
    runbeam_token_manager *m = NULL;
    runbeam_token_manager_config_new("analytics-gw-1", &mc);
    runbeam_token_manager_config_set_api_url(mc, api);
    runbeam_token_manager_config_set_credential_token(mc, BOB);
    runbeam_token_manager_new(mc, store, &m);
    runbeam_resolver_new(cfg, client, m, NULL, &resolver);
    if (!edge_calls()) {
        fprintf(stderr, "warm-up: %s\n", runbeam_last_error_message());
        return 1;
    }

    /* 1. In process. */
    enum { ROUNDS = 15, CALLS = 20000 };
    double ns[ROUNDS], auth_ns[ROUNDS], out_ns[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now_s();
        for (int i = 0; i < CALLS; i++)
            if (!edge_calls()) return 1;
        ns[r] = (now_s() - t0) * 1e9 / CALLS;
        t0 = now_s();
        for (int i = 0; i < CALLS; i++) {
            runbeam_claims *u = NULL;
            runbeam_validator_authenticate(validator, header, &u);
            runbeam_claims_free(u);
        }
        auth_ns[r] = (now_s() - t0) * 1e9 / CALLS;
        t0 = now_s();
        for (int i = 0; i < CALLS; i++) {
            runbeam_outbound *o = NULL;
            runbeam_resolver_outbound(resolver, DICOMWEB, "/studies?modality=CT", &o);
            (void)runbeam_outbound_url(o);
            (void)runbeam_outbound_authorization_secret(o);
            runbeam_outbound_free(o);
        }
        out_ns[r] = (now_s() - t0) * 1e9 / CALLS;
    }
    double both = median(ns, ROUNDS);
    printf("in process (median of %d rounds of %d): authenticate %.0f ns, outbound %.0f ns, "
           "both %.0f ns (best %.0f)\n",
           ROUNDS, CALLS, median(auth_ns, ROUNDS), median(out_ns, ROUNDS), both, ns[0]);

    /* 2. Over HTTP. */
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL, on_request,
        NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_END);
    unsigned port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
    char bare[64], edge[64];
    snprintf(bare, sizeof bare, "http://127.0.0.1:%u/bare", port);
    snprintf(edge, sizeof edge, "http://127.0.0.1:%u/edge", port);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *curl = curl_easy_init();
    char auth_line[8300]; /* "Authorization: " + header */
    snprintf(auth_line, sizeof auth_line, "Authorization: %s", header);
    struct curl_slist *h = curl_slist_append(NULL, auth_line);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, sink);
    enum { HTTP_ROUNDS = 11, REQUESTS = 3000 };
    double b[HTTP_ROUNDS], e[HTTP_ROUNDS], diff[HTTP_ROUNDS];
    http_round(curl, bare, 500);
    http_round(curl, edge, 500);
    for (int r = 0; r < HTTP_ROUNDS; r++) {
        b[r] = http_round(curl, bare, REQUESTS);
        e[r] = http_round(curl, edge, REQUESTS);
        diff[r] = e[r] - b[r];
    }
    double overhead = median(diff, HTTP_ROUNDS); /* sorted now: the quartiles follow */
    printf("over HTTP (keep-alive, median of %d rounds of %d): bare %.1f µs, edge %.1f µs, "
           "overhead %.1f µs (IQR of the differences %.1f..%.1f)\n",
           HTTP_ROUNDS, REQUESTS, median(b, HTTP_ROUNDS), median(e, HTTP_ROUNDS), overhead,
           diff[HTTP_ROUNDS / 4], diff[3 * HTTP_ROUNDS / 4]);
    curl_slist_free_all(h);
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    MHD_stop_daemon(d);
    runbeam_resolver_free(resolver);
    runbeam_token_manager_free(m);
    runbeam_token_manager_config_free(mc);
    runbeam_token_store_free(store);
    runbeam_mesh_config_free(cfg);
    runbeam_mesh_config_free(file);
    runbeam_client_free(client);
    runbeam_client_config_free(cc);
    runbeam_validator_free(validator);
    runbeam_validator_config_free(vc);
    devcloud_stop();
    return 0;
}
