/*
 * C test suite of librunbeam's ABI: compiled with -Wall -Wextra -Werror -pedantic against
 * include/runbeam.h, run under AddressSanitizer + UBSan and under valgrind (see tests/c/c.mk).
 *
 * Usage: test_ffi <repo-root>
 * Prints one line per failed check and ends with "N passed, N failed".
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "runbeam.h"

static const char *root;

static int streq(const char *a, const char *b) {
    if (a == NULL || b == NULL) return a == b;
    return strcmp(a, b) == 0;
}

static const char *or_null(const char *s) { return s ? s : "(null)"; }

static char *path_of(const char *rel) {
    size_t n = strlen(root) + strlen(rel) + 2;
    char *p = malloc(n);
    if (p == NULL) abort();
    snprintf(p, n, "%s/%s", root, rel);
    return p;
}

/* ---------------------------------------------------------------- shared reference fixtures */

/* Splits `line` in place on tabs; returns the number of fields. */
static int split_tabs(char *line, char **fields, int max) {
    int n = 0;
    char *p = line;
    while (n < max) {
        fields[n++] = p;
        char *tab = strchr(p, '\t');
        if (tab == NULL) break;
        *tab = '\0';
        p = tab + 1;
    }
    return n;
}

static const char *fixture_input(const char *field) {
    return strcmp(field, "(empty)") == 0 ? "" : field;
}

static const char *dash_null(const char *field) {
    return strcmp(field, "-") == 0 ? NULL : field;
}

static void check_valid_row(char **f) {
    const char *input = fixture_input(f[1]);
    runbeam_reference *ref = NULL;
    runbeam_status s = runbeam_reference_parse(input, &ref);
    CHECK(s == RUNBEAM_OK, "%s: %s", input, runbeam_last_error_message());
    if (s != RUNBEAM_OK) return;
    CHECK(streq(runbeam_reference_as_str(ref), f[2]), "%s canonical %s", input,
          or_null(runbeam_reference_as_str(ref)));
    CHECK(streq(runbeam_reference_provider(ref), f[3]), "%s provider", input);
    CHECK(streq(runbeam_reference_team(ref), dash_null(f[4])), "%s team %s", input,
          or_null(runbeam_reference_team(ref)));
    CHECK(streq(runbeam_reference_type(ref), dash_null(f[5])), "%s type", input);
    CHECK(streq(runbeam_lookup_str(runbeam_reference_lookup(ref)), f[6]), "%s lookup", input);
    CHECK(streq(runbeam_reference_value(ref), f[7]), "%s value", input);
    CHECK(runbeam_reference_is_local(ref) == (strcmp(f[8], "1") == 0), "%s is_local", input);

    char *text = NULL;
    CHECK(runbeam_reference_to_string(ref, &text) == RUNBEAM_OK, "to_string");
    CHECK(streq(text, f[2]), "%s to_string %s", input, or_null(text));
    runbeam_reference *again = NULL;
    CHECK(runbeam_reference_parse(text, &again) == RUNBEAM_OK, "reparse %s", or_null(text));
    CHECK(runbeam_reference_equal(ref, again), "%s round trip", input);
    runbeam_reference_free(again);
    runbeam_string_free(text);
    runbeam_reference_free(ref);
}

static void check_invalid_row(char **f) {
    const char *input = fixture_input(f[1]);
    runbeam_reference *ref = (runbeam_reference *)&passed; /* sentinel: must stay untouched */
    runbeam_status s = runbeam_reference_parse(input, &ref);
    CHECK(s == RUNBEAM_STATUS_INVALID_REFERENCE, "%s: status %s", input, runbeam_status_str(s));
    CHECK(ref == (runbeam_reference *)&passed, "%s: out written on failure", input);
    CHECK(runbeam_last_error_status() == RUNBEAM_STATUS_INVALID_REFERENCE, "last status");
    CHECK(streq(runbeam_last_error_kind(), "InvalidReference"), "kind");
    const char *msg = runbeam_last_error_message();
    CHECK(strncmp(msg, "invalid reference '", 19) == 0, "%s: message %s", input, msg);
    if (strcmp(f[2], "-") != 0) {
        char seg[32];
        snprintf(seg, sizeof seg, "segment %s", f[2]);
        CHECK(strstr(msg, seg) != NULL, "%s: %s lacks %s", input, msg, seg);
    }
    CHECK(strstr(msg, f[3]) != NULL, "%s: %s lacks %s", input, msg, f[3]);
}

static void test_reference_fixtures(void) {
    char *path = path_of("tests/fixtures/references.tsv");
    FILE *fp = fopen(path, "r");
    CHECK(fp != NULL, "cannot open %s", path);
    free(path);
    if (fp == NULL) return;
    char line[4096];
    int valid = 0, invalid = 0;
    while (fgets(line, sizeof line, fp) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0') continue;
        char *f[9] = {0};
        int n = split_tabs(line, f, 9);
        if (strcmp(f[0], "valid") == 0 && n == 9) {
            check_valid_row(f);
            valid++;
        } else if (strcmp(f[0], "invalid") == 0 && n == 4) {
            check_invalid_row(f);
            invalid++;
        } else {
            CHECK(0, "malformed fixture line: %s", line);
        }
    }
    fclose(fp);
    CHECK(valid >= 20 && invalid >= 25, "only %d valid / %d invalid rows", valid, invalid);
}

/* ---------------------------------------------------------------- bad input */

static void test_null_and_utf8(void) {
    runbeam_reference *ref = NULL;
    CHECK(runbeam_reference_parse(NULL, &ref) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL text");
    CHECK(strstr(runbeam_last_error_message(), "'text' is NULL") != NULL, "%s",
          runbeam_last_error_message());
    CHECK(runbeam_reference_parse("runbeam.id.x", NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL out");
    CHECK(runbeam_reference_parse("runbeam.id.\xff\xfe", &ref) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "invalid UTF-8");
    CHECK(strstr(runbeam_last_error_message(), "not valid UTF-8 (invalid byte at offset 11)") != NULL,
          "%s", runbeam_last_error_message());
    CHECK(ref == NULL, "out untouched");
    CHECK(runbeam_reference_parse_len("runbeam.id.x", 12, &ref) == RUNBEAM_OK, "parse_len");
    CHECK(streq(runbeam_reference_value(ref), "x"), "parse_len value");
    runbeam_reference_free(ref);
    ref = NULL;
    CHECK(runbeam_reference_parse_len("runbeam.id.xyz", 12, &ref) == RUNBEAM_OK, "slice");
    CHECK(streq(runbeam_reference_value(ref), "x"), "slice is not read past len");
    runbeam_reference_free(ref);
    ref = NULL;
    CHECK(runbeam_reference_parse_len("a\0b", 3, &ref) == RUNBEAM_STATUS_INVALID_REFERENCE,
          "embedded NUL");
    CHECK(strstr(runbeam_last_error_message(), "control character") != NULL, "%s", runbeam_last_error_message());
    CHECK(runbeam_reference_parse_len(NULL, 0, &ref) == RUNBEAM_STATUS_INVALID_REFERENCE,
          "NULL with len 0 is the empty reference");
    CHECK(runbeam_reference_parse_len(NULL, 5, &ref) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL with len");

    /* Getters and frees tolerate NULL. */
    CHECK(runbeam_reference_provider(NULL) == NULL, "provider(NULL)");
    CHECK(runbeam_reference_team(NULL) == NULL, "team(NULL)");
    CHECK(runbeam_reference_type(NULL) == NULL, "type(NULL)");
    CHECK(runbeam_reference_value(NULL) == NULL, "value(NULL)");
    CHECK(runbeam_reference_as_str(NULL) == NULL, "as_str(NULL)");
    CHECK(runbeam_reference_lookup(NULL) == RUNBEAM_LOOKUP_NONE, "lookup(NULL)");
    CHECK(!runbeam_reference_is_local(NULL), "is_local(NULL)");
    CHECK(!runbeam_reference_equal(NULL, NULL), "equal(NULL, NULL)");
    char *text = NULL;
    CHECK(runbeam_reference_to_string(NULL, &text) == RUNBEAM_STATUS_INVALID_ARGUMENT, "to_string");
    CHECK(text == NULL, "to_string out untouched");
    runbeam_reference_free(NULL);
    runbeam_string_free(NULL);
    runbeam_mesh_config_free(NULL);
    runbeam_problem_list_free(NULL);
    CHECK(streq(runbeam_lookup_str(42), ""), "unknown lookup");
}

static void test_huge_input(void) {
    size_t n = 1u << 20;
    char *big = malloc(n + 1);
    if (big == NULL) abort();
    memset(big, 'a', n);
    big[n] = '\0';
    runbeam_reference *ref = NULL;
    CHECK(runbeam_reference_parse(big, &ref) == RUNBEAM_STATUS_INVALID_REFERENCE, "1 MB reference");
    const char *msg = runbeam_last_error_message();
    CHECK(strstr(msg, "1048576 bytes long") != NULL, "%s", msg);
    CHECK(strlen(msg) < 300, "message of %zu bytes echoes the input", strlen(msg));

    runbeam_mesh_config *cfg = NULL;
    CHECK(runbeam_mesh_config_from_toml(big, &cfg) == RUNBEAM_STATUS_CONFIG, "1 MB of 'a' is not TOML");
    CHECK(strlen(runbeam_last_error_message()) < 2000, "short message");

    /* 100k nested arrays: refused, not a stack overflow. */
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 8);
    if (deep == NULL) abort();
    memcpy(deep, "a = ", 4);
    memset(deep + 4, '[', depth);
    memset(deep + 4 + depth, ']', depth);
    deep[4 + 2 * depth] = '\0';
    CHECK(runbeam_mesh_config_from_toml(deep, &cfg) == RUNBEAM_STATUS_CONFIG, "deep nesting");
    CHECK(strstr(runbeam_last_error_message(), "nested more than") != NULL, "%s",
          runbeam_last_error_message());
    CHECK(cfg == NULL, "out untouched");
    free(deep);
    free(big);
}

/* ---------------------------------------------------------------- last error semantics */

static void *fail_in_thread(void *arg) {
    runbeam_reference *ref = NULL;
    int *status = arg;
    *status = runbeam_reference_parse("runbeam.name.x", &ref);
    /* This thread's error must not be the main thread's. */
    if (strstr(runbeam_last_error_message(), "segment 1 'name'") == NULL) *status = -1;
    return NULL;
}

static void test_last_error(void) {
    runbeam_reference *ref = NULL;
    CHECK(runbeam_reference_parse("bad..ref", &ref) == RUNBEAM_STATUS_INVALID_REFERENCE, "fail");
    const char *before = runbeam_last_error_message();
    char copy[512];
    snprintf(copy, sizeof copy, "%s", before);

    pthread_t t;
    int thread_status = 0;
    CHECK(pthread_create(&t, NULL, fail_in_thread, &thread_status) == 0, "pthread_create");
    pthread_join(t, NULL);
    CHECK(thread_status == RUNBEAM_STATUS_INVALID_REFERENCE, "thread status %d", thread_status);
    CHECK(streq(runbeam_last_error_message(), copy), "main thread error changed by another thread");

    CHECK(runbeam_reference_parse("ok", &ref) == RUNBEAM_OK, "success");
    CHECK(streq(runbeam_last_error_message(), ""), "cleared on success");
    CHECK(runbeam_last_error_status() == RUNBEAM_OK, "status cleared");
    CHECK(streq(runbeam_last_error_kind(), ""), "kind cleared");
    runbeam_reference_free(ref);

    CHECK(streq(runbeam_status_str(RUNBEAM_OK), "RUNBEAM_OK"), "status_str ok");
    CHECK(streq(runbeam_status_str(RUNBEAM_STATUS_NOT_IN_MESH), "RUNBEAM_STATUS_NOT_IN_MESH"), "str");
    CHECK(streq(runbeam_status_str(-7), "RUNBEAM_STATUS_UNKNOWN"), "unknown status");
    CHECK(streq(runbeam_version(), RUNBEAM_VERSION_STRING), "version %s", runbeam_version());
}

/* ---------------------------------------------------------------- configuration */

static runbeam_mesh_config *load_files(const char **rel, size_t n) {
    char *paths[8];
    for (size_t i = 0; i < n; i++) paths[i] = path_of(rel[i]);
    runbeam_mesh_config *cfg = NULL;
    runbeam_status s = runbeam_mesh_config_from_files((const char *const *)paths, n, &cfg);
    CHECK(s == RUNBEAM_OK, "load: %s", runbeam_last_error_message());
    for (size_t i = 0; i < n; i++) free(paths[i]);
    return cfg;
}

static size_t count_problems(const runbeam_mesh_config *cfg, runbeam_status kind, const char *needle) {
    runbeam_problem_list *list = NULL;
    CHECK(runbeam_mesh_config_validate(cfg, &list) == RUNBEAM_OK, "validate");
    size_t hits = 0;
    for (size_t i = 0; i < runbeam_problem_list_count(list); i++) {
        if (runbeam_problem_list_status(list, i) == kind &&
            strstr(runbeam_problem_list_message(list, i), needle) != NULL)
            hits++;
    }
    CHECK(runbeam_problem_list_message(list, runbeam_problem_list_count(list)) == NULL, "range");
    runbeam_problem_list_free(list);
    return hits;
}

static void test_config_seed_snippets(void) {
    const char *alone[] = {"tests/fixtures/configs/seed-partner-integration.toml"};
    runbeam_mesh_config *cfg = load_files(alone, 1);
    CHECK(count_problems(cfg, RUNBEAM_STATUS_UNKNOWN_PROVIDER,
                         "Unknown provider 'runbeam' in reference "
                         "'runbeam.partner-team.ingress.name.their-api' (mesh 'partner-integration')") == 1,
          "seed snippet alone must report Unknown provider");
    runbeam_mesh_config_free(cfg);

    const char *completed[] = {"tests/fixtures/configs/seed-partner-integration.toml",
                               "tests/fixtures/configs/seed-team-a.toml",
                               "tests/fixtures/configs/seed-team-b.toml",
                               "tests/fixtures/configs/completion.toml"};
    cfg = load_files(completed, 4);
    runbeam_problem_list *list = NULL;
    CHECK(runbeam_mesh_config_validate(cfg, &list) == RUNBEAM_OK, "validate");
    CHECK(runbeam_problem_list_count(list) == 0, "completed seed has %zu problems: %s",
          runbeam_problem_list_count(list), or_null(runbeam_problem_list_message(list, 0)));
    runbeam_problem_list_free(list);

    runbeam_reference *theirs = NULL, *other = NULL, *unknown = NULL;
    runbeam_reference_parse("runbeam.partner-team.ingress.name.their-api", &theirs);
    runbeam_reference_parse("runbeam.partner-team.ingress.name.other", &other);
    runbeam_reference_parse("unknown.team.ingress.name.api", &unknown);
    bool listed = false;
    CHECK(runbeam_mesh_config_in_mesh_context(cfg, theirs, &listed) == RUNBEAM_OK && listed, "listed");
    CHECK(runbeam_mesh_config_in_mesh_context(cfg, other, &listed) == RUNBEAM_OK && !listed, "not listed");
    const char *mesh = NULL;
    CHECK(runbeam_mesh_config_check_mesh_context(cfg, theirs, &mesh) == RUNBEAM_OK, "check");
    CHECK(streq(mesh, "partner-integration"), "mesh %s", or_null(mesh));
    CHECK(runbeam_mesh_config_check_mesh_context(cfg, other, &mesh) == RUNBEAM_STATUS_NOT_IN_MESH,
          "not in mesh");
    CHECK(strstr(runbeam_last_error_message(), "not listed in any enabled mesh") != NULL, "%s",
          runbeam_last_error_message());
    CHECK(runbeam_mesh_config_check_mesh_context(cfg, unknown, NULL) == RUNBEAM_STATUS_UNKNOWN_PROVIDER,
          "unknown provider");
    CHECK(runbeam_mesh_config_in_mesh_context(NULL, theirs, &listed) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL config");
    CHECK(runbeam_mesh_config_in_mesh_context(cfg, NULL, &listed) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL reference");
    CHECK(runbeam_mesh_config_in_mesh_context(cfg, theirs, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL out");

    CHECK(runbeam_mesh_config_mesh_count(cfg) == 2, "meshes %zu", runbeam_mesh_config_mesh_count(cfg));
    CHECK(streq(runbeam_mesh_config_mesh_name(cfg, 1), "imaging-integration"), "mesh name");
    CHECK(runbeam_mesh_config_mesh_name(cfg, 2) == NULL, "mesh out of range");
    CHECK(runbeam_mesh_config_remote_reference_count(cfg) == 3, "members %zu", runbeam_mesh_config_remote_reference_count(cfg));
    runbeam_mesh_member m;
    CHECK(runbeam_mesh_config_remote_reference(cfg, 1, &m) == RUNBEAM_OK, "member");
    CHECK(streq(m.mesh, "partner-integration") && streq(m.direction, "ingress"), "member 1");
    CHECK(runbeam_reference_equal(m.reference, theirs), "member reference");
    CHECK(runbeam_mesh_config_remote_reference(cfg, 0, &m) == RUNBEAM_OK && runbeam_reference_is_local(m.reference),
          "local member");
    CHECK(runbeam_mesh_config_remote_reference(cfg, 3, &m) == RUNBEAM_STATUS_INVALID_ARGUMENT, "member range");
    runbeam_reference_free(theirs);
    runbeam_reference_free(other);
    runbeam_reference_free(unknown);
    runbeam_mesh_config_free(cfg);
}

static void test_config_errors(void) {
    runbeam_mesh_config *cfg = NULL;
    char *path = path_of("tests/fixtures/configs/invalid-shape.toml");
    CHECK(runbeam_mesh_config_from_file(path, &cfg) == RUNBEAM_STATUS_CONFIG, "invalid shape");
    CHECK(cfg == NULL, "out untouched");
    CHECK(strstr(runbeam_last_error_message(), "invalid-shape.toml") != NULL, "names the file");
    runbeam_problem_list *list = NULL;
    CHECK(runbeam_last_error_problems(&list) == RUNBEAM_OK, "problems");
    CHECK(runbeam_problem_list_count(list) == 3, "%zu problems", runbeam_problem_list_count(list));
    CHECK(streq(runbeam_problem_list_path(list, 0), "provider.runbeam.poll_interval_secs"), "p0");
    CHECK(streq(runbeam_problem_list_path(list, 1), "mesh.imaging.enabeld"), "p1");
    CHECK(streq(runbeam_problem_list_path(list, 2), "mesh.imaging.egress"), "p2");
    CHECK(strstr(runbeam_problem_list_message(list, 1), "unknown key") != NULL, "unknown key");
    runbeam_problem_list_free(list);
    free(path);

    CHECK(runbeam_mesh_config_from_file("/nonexistent/gw.toml", &cfg) == RUNBEAM_STATUS_CONFIG, "missing");
    CHECK(strstr(runbeam_last_error_message(), "/nonexistent/gw.toml") != NULL, "names path");
    CHECK(runbeam_mesh_config_from_file(NULL, &cfg) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL path");
    CHECK(runbeam_mesh_config_from_toml("[mesh.m]\ntype = 1\n", NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL out");
    CHECK(runbeam_mesh_config_from_toml("a = \"\xc3\x28\"", &cfg) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "invalid UTF-8 TOML");
    CHECK(runbeam_mesh_config_from_toml("[mesh.m\n", &cfg) == RUNBEAM_STATUS_CONFIG, "syntax");
    CHECK(strstr(runbeam_last_error_message(), "line 1") != NULL, "%s", runbeam_last_error_message());
    CHECK(runbeam_mesh_config_from_files(NULL, 2, &cfg) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL paths");
    const char *with_null[] = {"x.toml", NULL};
    CHECK(runbeam_mesh_config_from_files(with_null, 2, &cfg) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL element");
    CHECK(strstr(runbeam_last_error_message(), "paths[1]") != NULL, "%s", runbeam_last_error_message());
    CHECK(runbeam_mesh_config_validate(NULL, &list) == RUNBEAM_STATUS_INVALID_ARGUMENT, "validate NULL");

    /* A valid but broken configuration: every problem, each with its path and kind. */
    path = path_of("examples/config/broken-unknown-provider.toml");
    CHECK(runbeam_mesh_config_from_file(path, &cfg) == RUNBEAM_OK, "broken loads");
    free(path);
    CHECK(runbeam_mesh_config_validate(cfg, &list) == RUNBEAM_OK, "validate");
    CHECK(runbeam_problem_list_count(list) == 3, "%zu problems", runbeam_problem_list_count(list));
    CHECK(runbeam_problem_list_status(list, 0) == RUNBEAM_STATUS_UNKNOWN_PROVIDER, "kind 0");
    CHECK(streq(runbeam_problem_list_path(list, 1), "mesh.imaging-integration.egress[1]"), "path 1");
    CHECK(runbeam_problem_list_status(list, 2) == RUNBEAM_STATUS_INVALID_REFERENCE, "kind 2");
    CHECK(runbeam_problem_list_status(list, 3) == RUNBEAM_OK, "status out of range");
    runbeam_problem_list_free(list);
    runbeam_mesh_config_free(cfg);
}

int main(int argc, char **argv) {
    root = argc > 1 ? argv[1] : ".";
    test_reference_fixtures();
    test_null_and_utf8();
    test_huge_input();
    test_last_error();
    test_config_seed_snippets();
    test_config_errors();
    return check_summary();
}
