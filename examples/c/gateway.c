/*
 * Example C gateway: the whole librunbeam journey of team ai-analytics' gateway reaching team
 * radiology-dept's DICOMweb ingress through the mesh `imaging-integration`, against a Runbeam
 * Cloud (here runbeam-devcloud):
 *
 *   1. load both gateways' configurations, point them at the Cloud, validate them;
 *   2. open the encrypted file token store and get this gateway's machine token;
 *   3. resolve the partner's ingress (then again, from the cache);
 *   4. get a mesh token to call it;
 *   5. verify that token as the receiving gateway would;
 *   6. show a reference outside the mesh being refused.
 *
 *   make c-examples && build/c/gateway http://127.0.0.1:PORT     (from the repository root)
 *
 * Environment: RUNBEAM_HOME (token files; a temporary directory, removed at exit, when unset),
 * RUNBEAM_SANCTUM_TOKEN (the user credential; default: the devcloud's seeded token of bob).
 * Tokens are never printed. Exit status: 0 on success, 1 on any unexpected error, 2 on usage.
 */
#define _XOPEN_SOURCE 700

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runbeam.h"

#define GATEWAY "analytics-gw-1"
#define PARTNER_GATEWAY "radiology-gw-1"
#define DICOMWEB "runbeam.radiology-dept.ingress.name.dicomweb"
#define OUTSIDE "runbeam.acme.ingress.name.api"
#define MESH "imaging-integration"
#define BOB_SANCTUM "2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f"

static const char *or_dash(const char *s) { return s ? s : "-"; }

/* Reports an unexpected failure of the last librunbeam call: kind and message. */
static int fail(const char *what) {
    fprintf(stderr, "[C] error: %s failed: %s: %s\n", what, runbeam_last_error_kind(),
            runbeam_last_error_message());
    return 1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Loads `path`, points its provider `runbeam` at `api_url`, and checks it (docs/spec.md §2.2). */
static runbeam_mesh_config *load_config(const char *path, const char *api_url) {
    runbeam_mesh_config *file = NULL, *config = NULL;
    if (runbeam_mesh_config_from_file(path, &file) != RUNBEAM_OK) {
        fail(path);
        return NULL;
    }
    if (runbeam_mesh_config_with_provider_api(file, "runbeam", api_url, &config) != RUNBEAM_OK)
        fail("pointing the configuration at the Cloud");
    runbeam_mesh_config_free(file);
    if (config == NULL) return NULL;
    runbeam_problem_list *problems = NULL;
    size_t n = 0;
    if (runbeam_mesh_config_validate(config, &problems) == RUNBEAM_OK)
        n = runbeam_problem_list_count(problems);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "[C] %s: %s: %s\n", path, runbeam_problem_list_path(problems, i),
                runbeam_problem_list_message(problems, i));
    runbeam_problem_list_free(problems);
    if (n > 0) {
        runbeam_mesh_config_free(config);
        return NULL;
    }
    return config;
}

static size_t remote_references(const runbeam_mesh_config *config) {
    size_t remote = 0;
    for (size_t i = 0; i < runbeam_mesh_config_remote_reference_count(config); i++) {
        runbeam_mesh_member m;
        if (runbeam_mesh_config_remote_reference(config, i, &m) == RUNBEAM_OK &&
            !runbeam_reference_is_local(m.reference))
            remote++;
    }
    return remote;
}

/* A token manager for `instance` on `store`; `credential` may be NULL (verification only). */
static runbeam_token_manager *new_manager(const char *instance, const char *api_url,
                                          const char *credential, runbeam_token_store *store) {
    runbeam_token_manager_config *mc = NULL;
    runbeam_token_manager *m = NULL;
    if (runbeam_token_manager_config_new(instance, &mc) == RUNBEAM_OK &&
        runbeam_token_manager_config_set_api_url(mc, api_url) == RUNBEAM_OK &&
        (credential == NULL ||
         runbeam_token_manager_config_set_credential_token(mc, credential) == RUNBEAM_OK))
        runbeam_token_manager_new(mc, store, &m);
    runbeam_token_manager_config_free(mc);
    return m;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DEVCLOUD_URL   (run from the repository root)\n", argv[0]);
        return 2;
    }
    const char *api_url = argv[1];
    const char *credential = getenv("RUNBEAM_SANCTUM_TOKEN");
    if (credential == NULL || credential[0] == '\0') credential = BOB_SANCTUM;
    char temp_home[] = "/tmp/runbeam-c-gateway-XXXXXX";
    const char *home = getenv("RUNBEAM_HOME");
    int own_home = home == NULL || home[0] == '\0';
    if (own_home) {
        if (mkdtemp(temp_home) == NULL) {
            perror("[C] mkdtemp");
            return 1;
        }
        home = temp_home;
    }

    int rc = 1;
    runbeam_mesh_config *ours = NULL, *partner = NULL;
    runbeam_token_store *files = NULL, *memory = NULL;
    runbeam_token_manager *manager = NULL, *partner_manager = NULL;
    runbeam_machine_token *machine = NULL;
    runbeam_client_config *cc = NULL;
    runbeam_client *client = NULL;
    runbeam_resolver *resolver = NULL, *receiver = NULL;
    runbeam_resolution *dicom = NULL, *again = NULL, *refused = NULL;
    runbeam_issued_mesh_token *mesh_token = NULL;
    runbeam_claims *issued = NULL, *verified = NULL;
    char *source_team = NULL;

    /* 1. Both gateways' configurations, pointed at the Cloud and validated. */
    ours = load_config("examples/config/ai-analytics.toml", api_url);
    partner = load_config("examples/config/radiology-dept.toml", api_url);
    if (ours == NULL || partner == NULL) goto out;
    printf("[C] 1. configurations valid: ai-analytics has %zu mesh(es), %zu remote reference(s); "
           "radiology-dept has %zu mesh(es)\n",
           runbeam_mesh_config_mesh_count(ours), remote_references(ours),
           runbeam_mesh_config_mesh_count(partner));

    /* 2. The encrypted file token store and this gateway's machine token. */
    if (runbeam_token_store_file_new(home, &files) != RUNBEAM_OK) {
        rc = fail("opening the file token store");
        goto out;
    }
    manager = new_manager(GATEWAY, api_url, credential, files);
    if (manager == NULL) {
        rc = fail("creating the token manager");
        goto out;
    }
    if (runbeam_token_manager_ensure_token(manager, &machine) != RUNBEAM_OK) {
        rc = fail("authorizing " GATEWAY);
        goto out;
    }
    char token_file[4096];
    snprintf(token_file, sizeof token_file, "%s/" GATEWAY "/runbeam/auth.json", home);
    struct stat st;
    printf("[C] 2. machine token of %s kept in the %s store at %s%s\n", GATEWAY,
           runbeam_token_store_backend(files), token_file,
           stat(token_file, &st) == 0 ? "" : " (missing!)");
    printf("[C]    it expires %s\n", or_dash(runbeam_machine_token_expires_at_rfc3339(machine)));

    /* 3. Resolve the partner's ingress, then again from the cache. */
    if (runbeam_client_config_new(api_url, &cc) != RUNBEAM_OK ||
        runbeam_client_new(cc, &client) != RUNBEAM_OK) {
        rc = fail("creating the HTTP client");
        goto out;
    }
    if (runbeam_resolver_new(ours, client, manager, NULL, &resolver) != RUNBEAM_OK ||
        runbeam_resolver_validate_startup(resolver) != RUNBEAM_OK) {
        rc = fail("starting the resolver");
        goto out;
    }
    if (runbeam_resolver_resolve(resolver, DICOMWEB, &dicom) != RUNBEAM_OK) {
        rc = fail("resolving " DICOMWEB);
        goto out;
    }
    const char *url = runbeam_resolution_url(dicom, 0);
    printf("[C] 3. %s -> %s (%zu url(s)), protocol %s, mode %s, stale %s\n", DICOMWEB,
           or_dash(url), runbeam_resolution_url_count(dicom),
           or_dash(runbeam_resolution_protocol(dicom)), or_dash(runbeam_resolution_mode(dicom)),
           runbeam_resolution_is_stale(dicom) ? "yes" : "no");
    runbeam_resolver_stats stats;
    if (url == NULL || runbeam_resolver_resolve(resolver, DICOMWEB, &again) != RUNBEAM_OK ||
        runbeam_resolver_stats_get(resolver, &stats) != RUNBEAM_OK) {
        rc = fail("resolving again");
        goto out;
    }
    printf("[C]    resolved again from the cache: %llu hit(s), %llu upstream request(s)\n",
           (unsigned long long)stats.hits, (unsigned long long)stats.upstream_requests);

    /* 4. A mesh token to call it (never printed). */
    char destination[2048];
    snprintf(destination, sizeof destination, "%s/studies", url);
    if (runbeam_resolver_mesh_token(resolver, MESH, destination, &mesh_token) != RUNBEAM_OK ||
        runbeam_issued_mesh_token_claims(mesh_token, &issued) != RUNBEAM_OK) {
        rc = fail("getting a mesh token");
        goto out;
    }
    printf("[C] 4. mesh token for %s (not shown): expires %s, sub %s, aud %s\n", destination,
           or_dash(runbeam_issued_mesh_token_expires_at_rfc3339(mesh_token)),
           or_dash(runbeam_claims_sub(issued)), or_dash(runbeam_claims_aud(issued, 0)));

    /* 5. The receiving gateway verifies it: its own resolver, no machine token needed. */
    if (runbeam_token_store_memory_new(&memory) != RUNBEAM_OK ||
        (partner_manager = new_manager(PARTNER_GATEWAY, api_url, NULL, memory)) == NULL ||
        runbeam_resolver_new(partner, client, partner_manager, NULL, &receiver) != RUNBEAM_OK ||
        runbeam_resolver_validate_startup(receiver) != RUNBEAM_OK) {
        rc = fail("starting the receiving resolver");
        goto out;
    }
    const char *token = runbeam_issued_mesh_token_secret(mesh_token);
    if (runbeam_resolver_verify_mesh_token(receiver, token, strlen(token), MESH, destination,
                                           &verified) != RUNBEAM_OK ||
        runbeam_claims_get_json(verified, "source_team", &source_team) != RUNBEAM_OK) {
        rc = fail("verifying the mesh token");
        goto out;
    }
    if (source_team == NULL) {
        fprintf(stderr, "[C] error: the verified mesh token has no source_team claim\n");
        goto out;
    }
    /* A claim comes as JSON: a string claim is quoted. */
    size_t team_len = strlen(source_team);
    int quoted = team_len >= 2 && source_team[0] == '"';
    printf("[C] 5. %s accepts the token: source_team %.*s, dest_url %s\n", PARTNER_GATEWAY,
           (int)(quoted ? team_len - 2 : team_len), source_team + quoted,
           or_dash(runbeam_claims_dest_url(verified)));

    /* 6. A reference outside every mesh is refused, without a request. */
    runbeam_status refusal = runbeam_resolver_resolve(resolver, OUTSIDE, &refused);
    if (refusal != RUNBEAM_STATUS_NOT_IN_MESH) {
        if (refusal == RUNBEAM_OK) fprintf(stderr, "[C] error: %s was not refused\n", OUTSIDE);
        rc = refusal == RUNBEAM_OK ? 1 : fail("refusing " OUTSIDE);
        goto out;
    }
    printf("[C] 6. refused as expected: %s: %s\n", runbeam_last_error_kind(),
           runbeam_last_error_message());
    rc = 0;

out:
    runbeam_string_free(source_team);
    runbeam_claims_free(verified);
    runbeam_claims_free(issued);
    runbeam_issued_mesh_token_free(mesh_token);
    runbeam_resolution_free(refused);
    runbeam_resolution_free(again);
    runbeam_resolution_free(dicom);
    runbeam_resolver_free(receiver);
    runbeam_resolver_free(resolver);
    runbeam_client_free(client);
    runbeam_client_config_free(cc);
    runbeam_machine_token_free(machine);
    runbeam_token_manager_free(partner_manager);
    runbeam_token_manager_free(manager);
    runbeam_token_store_free(memory);
    runbeam_token_store_free(files);
    runbeam_mesh_config_free(partner);
    runbeam_mesh_config_free(ours);
    if (own_home) nftw(temp_home, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
