/*
 * Example C gateway: authorize with Runbeam Cloud (here runbeam-devcloud) using a user's Sanctum
 * token, then act as the gateway with its machine token: resolve the partner's DICOMweb ingress
 * and ask for a mesh token to call it. Results cross the ABI as JSON (schemas in runbeam.h);
 * a real gateway would use its JSON library — this example has a tiny field extractor.
 *
 *   ./authorize API_URL USER_TOKEN GATEWAY_CODE
 *
 * Secrets (the machine token, the mesh token) are never printed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runbeam.h"

/* Copies the string value of the first `"key":"..."` in `json` (no escapes expected). */
static char *json_string(const char *json, const char *key) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char *start = strstr(json, pattern);
    if (start == NULL) return NULL;
    start += strlen(pattern);
    const char *end = strchr(start, '"');
    if (end == NULL) return NULL;
    char *out = malloc((size_t)(end - start) + 1);
    if (out == NULL) return NULL;
    memcpy(out, start, (size_t)(end - start));
    out[end - start] = '\0';
    return out;
}

static int fail(const char *what) {
    fprintf(stderr, "  %s failed: %s: %s", what, runbeam_status_str(runbeam_last_error_status()),
            runbeam_last_error_message());
    /* The failed request, when one was made: HTTP status, method, path and attempts. */
    if (runbeam_last_error_request_method() != NULL)
        fprintf(stderr, " (HTTP %u, %s %s, %u attempt(s))", (unsigned)runbeam_last_error_http_status(),
                runbeam_last_error_request_method(), runbeam_last_error_request_path(),
                (unsigned)runbeam_last_error_attempts());
    fputc('\n', stderr);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s API_URL USER_TOKEN GATEWAY_CODE\n", argv[0]);
        return 2;
    }
    printf("[C] authorize gateway '%s' at %s\n", argv[3], argv[1]);
    runbeam_client_config *cfg = NULL;
    runbeam_client *user = NULL, *gateway = NULL;
    char *json = NULL, *machine_token = NULL;
    int rc = 1;
    if (runbeam_client_config_new(argv[1], &cfg) != RUNBEAM_OK ||
        runbeam_client_config_set_token(cfg, argv[2]) != RUNBEAM_OK ||
        runbeam_client_new(cfg, &user) != RUNBEAM_OK) {
        rc = fail("client setup");
        goto out;
    }
    if (runbeam_client_authorize(user, argv[3], NULL, &json) != RUNBEAM_OK) {
        rc = fail("authorize");
        goto out;
    }
    machine_token = json_string(json, "machine_token");
    char *expires_at = json_string(json, "expires_at");
    printf("  authorized: machine token received (%zu chars, not shown), expires %s\n",
           machine_token ? strlen(machine_token) : 0, expires_at ? expires_at : "?");
    free(expires_at);
    runbeam_string_free(json);
    json = NULL;
    if (machine_token == NULL ||
        runbeam_client_with_token(user, machine_token, &gateway) != RUNBEAM_OK) {
        rc = fail("machine token");
        goto out;
    }

    runbeam_reference *dicom = NULL;
    runbeam_reference_parse("runbeam.radiology-dept.ingress.name.dicomweb", &dicom);
    if (runbeam_client_resolve(gateway, dicom, &json) == RUNBEAM_OK) {
        printf("  resolve %s:\n    %s\n", runbeam_reference_as_str(dicom), json);
        runbeam_string_free(json);
        json = NULL;
    } else {
        fail("resolve");
    }
    runbeam_reference_free(dicom);

    if (runbeam_client_mesh_token(gateway, "imaging-integration",
                                  "https://dicom.radiology.example.com/studies", &json) == RUNBEAM_OK) {
        char *exp = json_string(json, "expires_at");
        printf("  mesh token for imaging-integration: issued (not shown), expires %s\n", exp ? exp : "?");
        free(exp);
        runbeam_string_free(json);
        json = NULL;
        rc = 0;
    } else {
        rc = fail("mesh token");
    }
out:
    if (machine_token) {
        memset(machine_token, 0, strlen(machine_token));
        free(machine_token);
    }
    runbeam_client_free(gateway);
    runbeam_client_free(user);
    runbeam_client_config_free(cfg);
    return rc;
}
