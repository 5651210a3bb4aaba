/*
 * Example C gateway start-up: load the mesh part of a gateway configuration with librunbeam,
 * refuse to start on any problem (each reported with its TOML path), then show every
 * reference the meshes list and whether a reference may be resolved (mesh context).
 *
 *   cc -Iinclude examples/c/mesh_check.c -Ltarget/<triple>/debug -lrunbeam -o mesh_check
 *   ./mesh_check examples/config/ai-analytics.toml [reference ...]
 *
 * Exit status: 0 valid, 1 configuration problems, 2 usage or load error.
 */
#include <stdio.h>

#include "runbeam.h"

static const char *or_dash(const char *s) { return s ? s : "-"; }

static void print_reference(const runbeam_reference *ref) {
    printf("provider=%s team=%s type=%s lookup=%s value=%s%s",
           runbeam_reference_provider(ref), or_dash(runbeam_reference_team(ref)),
           or_dash(runbeam_reference_type(ref)),
           runbeam_lookup_str(runbeam_reference_lookup(ref)), runbeam_reference_value(ref),
           runbeam_reference_is_local(ref) ? " (local)" : "");
}

static int report_problems(const runbeam_mesh_config *cfg) {
    runbeam_problem_list *problems = NULL;
    if (runbeam_mesh_config_validate(cfg, &problems) != RUNBEAM_OK) {
        fprintf(stderr, "validate: %s\n", runbeam_last_error_message());
        return -1;
    }
    size_t n = runbeam_problem_list_count(problems);
    if (n == 0) {
        printf("  configuration is valid\n");
    } else {
        printf("  configuration has %zu problem%s (the gateway refuses to start):\n", n,
               n == 1 ? "" : "s");
        for (size_t i = 0; i < n; i++)
            printf("    [%s] %s: %s\n", runbeam_status_str(runbeam_problem_list_status(problems, i)),
                   runbeam_problem_list_path(problems, i), runbeam_problem_list_message(problems, i));
    }
    runbeam_problem_list_free(problems);
    return (int)n;
}

static void check_context(const runbeam_mesh_config *cfg, const char *text) {
    runbeam_reference *ref = NULL;
    printf("  resolve? %s\n    ", text);
    if (runbeam_reference_parse(text, &ref) != RUNBEAM_OK) {
        printf("%s: %s\n", runbeam_status_str(runbeam_last_error_status()),
               runbeam_last_error_message());
        return;
    }
    const char *mesh = NULL;
    if (runbeam_mesh_config_check_mesh_context(cfg, ref, &mesh) == RUNBEAM_OK)
        printf("yes, through mesh '%s'\n", mesh);
    else
        printf("no: %s: %s\n", runbeam_status_str(runbeam_last_error_status()),
               runbeam_last_error_message());
    runbeam_reference_free(ref);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s CONFIG.toml [REFERENCE ...]\n", argv[0]);
        return 2;
    }
    printf("[C] librunbeam %s: %s\n", runbeam_version(), argv[1]);
    runbeam_mesh_config *cfg = NULL;
    if (runbeam_mesh_config_from_file(argv[1], &cfg) != RUNBEAM_OK) {
        printf("  cannot load: %s\n", runbeam_last_error_message());
        return 2;
    }
    int problems = report_problems(cfg);
    for (size_t i = 0; i < runbeam_mesh_config_remote_reference_count(cfg); i++) {
        runbeam_mesh_member m;
        if (runbeam_mesh_config_remote_reference(cfg, i, &m) != RUNBEAM_OK) continue;
        printf("  mesh %s %s %s\n      ", m.mesh, m.direction, runbeam_reference_as_str(m.reference));
        print_reference(m.reference);
        printf("\n");
    }
    for (int i = 2; i < argc; i++) check_context(cfg, argv[i]);
    runbeam_mesh_config_free(cfg);
    return problems == 0 ? 0 : 1;
}
