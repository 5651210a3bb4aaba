/*
 * C test suite of token storage and the machine-token lifecycle (docs/spec.md §5): runbeam_token_store,
 * runbeam_machine_token and runbeam_token_manager. The file store runs in a mkdtemp directory;
 * the manager talks to a runbeam-devcloud subprocess over real HTTP (authorize counts read from
 * /_dev/counters). Compiled with -Wall -Wextra -Werror -pedantic against include/runbeam.h, run
 * under AddressSanitizer + UBSan and under valgrind (see tests/c/c.mk).
 *
 * Usage: test_storage <path-to-runbeam-devcloud>
 * Prints one line per failed check and ends with "N passed, N failed".
 */
#define _XOPEN_SOURCE 700
#define _POSIX_C_SOURCE 200809L

#include <ftw.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "check.h"
#include "devcloud.h"
#include "runbeam.h"
#include "waiter.h"

#define BOB "2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f"
#define SECRET "mt-SECRET-7f3a9c1e-do-not-leak"
#define AUTHORIZE "POST /api/harmony/authorize"

static const char *or_null(const char *s) { return s ? s : "(null)"; }
static const char *last(void) { return runbeam_last_error_message(); }

/* Every failure message must be free of the secrets this suite uses. */
static void check_no_secret(const char *what) {
    const char *m = last();
    CHECK(strstr(m, SECRET) == NULL && strstr(m, "ai-dev-4b8e") == NULL,
          "%s: the error message leaks a secret: %s", what, m);
}

static mode_t mode_of(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return (mode_t)-1;
    return st.st_mode & 07777;
}

static bool exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_tree(const char *root) { nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

static size_t read_file(const char *path, char *buf, size_t len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return 0;
    size_t n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n;
}

static bool contains_bytes(const char *hay, size_t n, const char *needle) {
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0) return true;
    return false;
}

/* ----------------------------------------------------------------------- machine tokens */

static void test_machine_token(void) {
    runbeam_machine_token *t = NULL;
    CHECK(runbeam_machine_token_new(SECRET, "2099-01-01 00:00:00", "gw-42", &t) == RUNBEAM_OK,
          "%s", last());
    CHECK(t != NULL, "no token");
    CHECK(strcmp(or_null(runbeam_machine_token_secret(t)), SECRET) == 0, "secret");
    CHECK(strcmp(or_null(runbeam_machine_token_gateway_id(t)), "gw-42") == 0, "gateway id");
    CHECK(runbeam_machine_token_expires_at(t) == 4070908800LL, "expires_at %lld",
          (long long)runbeam_machine_token_expires_at(t));
    CHECK(strcmp(or_null(runbeam_machine_token_expires_at_rfc3339(t)), "2099-01-01T00:00:00Z") == 0,
          "rfc3339 %s", or_null(runbeam_machine_token_expires_at_rfc3339(t)));
    CHECK(runbeam_machine_token_ability_count(t) == 0, "abilities");
    CHECK(runbeam_machine_token_ability(t, 0) == NULL, "ability out of range");
    int64_t issued = -7;
    CHECK(!runbeam_machine_token_issued_at(t, &issued) && issued == -7, "issued_at unknown");
    CHECK(!runbeam_machine_token_is_expired(t), "not expired");
    CHECK(runbeam_machine_token_expires_in_ms(t) > 60ull * 365 * 24 * 3600 * 1000, "expires_in");
    CHECK(!runbeam_machine_token_needs_renewal(t, 604800000), "no renewal");
    runbeam_machine_token_free(t);

    t = NULL;
    CHECK(runbeam_machine_token_new(SECRET, "2001-02-03T04:05:06Z", "gw-old", &t) == RUNBEAM_OK,
          "%s", last());
    CHECK(runbeam_machine_token_is_expired(t), "expired");
    CHECK(runbeam_machine_token_expires_in_ms(t) == 0, "expires_in of an expired token");
    CHECK(runbeam_machine_token_needs_renewal(t, 0), "expired needs renewal");
    runbeam_machine_token_free(t);

    /* Bad arguments: clear errors, out untouched, no secret in messages. */
    runbeam_machine_token *untouched = (runbeam_machine_token *)&untouched;
    CHECK(runbeam_machine_token_new(SECRET, "tomorrow", "gw", &untouched) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "bad date");
    CHECK(strstr(last(), "expires_at") != NULL, "names the argument: %s", last());
    check_no_secret("bad date");
    CHECK(untouched == (runbeam_machine_token *)&untouched, "out written on failure");
    CHECK(runbeam_machine_token_new("", "2099-01-01 00:00:00", "gw", &t) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "empty secret");
    CHECK(runbeam_machine_token_new(SECRET, "2099-01-01 00:00:00", "", &t) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "empty gateway id");
    CHECK(runbeam_machine_token_new(NULL, "2099-01-01 00:00:00", "gw", &t) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL secret");
    CHECK(strstr(last(), "secret") != NULL, "%s", last());
    CHECK(runbeam_machine_token_new(SECRET, "2099-01-01 00:00:00", "\xff\xfe", &t) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "invalid UTF-8");
    CHECK(strstr(last(), "UTF-8") != NULL, "%s", last());
    CHECK(runbeam_machine_token_new(SECRET, "2099-01-01 00:00:00", "gw", NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL out");

    /* NULL handles: documented defaults, no crash. */
    CHECK(runbeam_machine_token_secret(NULL) == NULL, "NULL secret getter");
    CHECK(runbeam_machine_token_gateway_id(NULL) == NULL, "NULL getter");
    CHECK(runbeam_machine_token_expires_at(NULL) == 0, "NULL expires_at");
    CHECK(runbeam_machine_token_is_expired(NULL), "NULL is expired");
    CHECK(runbeam_machine_token_needs_renewal(NULL, 1), "NULL needs renewal");
    CHECK(!runbeam_machine_token_issued_at(NULL, NULL), "NULL issued_at");
    runbeam_machine_token_free(NULL);
}

/* ---------------------------------------------------------------------------- file store */

static void test_file_store(const char *root) {
    char path[1024], key_path[1024], dir[1024], sub[1024];
    runbeam_token_store *store = NULL;
    CHECK(runbeam_token_store_file_new(root, &store) == RUNBEAM_OK, "%s", last());
    CHECK(strcmp(runbeam_token_store_backend(store), "file") == 0, "backend %s",
          runbeam_token_store_backend(store));

    runbeam_machine_token *loaded = (runbeam_machine_token *)&loaded;
    CHECK(runbeam_token_store_load_machine_token(store, "gw-a", &loaded) == RUNBEAM_OK, "%s",
          last());
    CHECK(loaded == NULL, "empty store gives NULL");

    runbeam_machine_token *t = NULL;
    runbeam_machine_token_new(SECRET, "2099-01-01T00:00:00Z", "gw-42", &t);
    CHECK(runbeam_token_store_save_machine_token(store, "gw-a", t) == RUNBEAM_OK, "%s", last());
    loaded = NULL;
    CHECK(runbeam_token_store_load_machine_token(store, "gw-a", &loaded) == RUNBEAM_OK, "%s",
          last());
    CHECK(loaded != NULL && strcmp(or_null(runbeam_machine_token_secret(loaded)), SECRET) == 0,
          "round trip secret");
    CHECK(loaded != NULL && strcmp(or_null(runbeam_machine_token_gateway_id(loaded)), "gw-42") == 0,
          "round trip gateway id");
    CHECK(runbeam_machine_token_expires_at(loaded) == runbeam_machine_token_expires_at(t),
          "round trip expiry");
    runbeam_machine_token_free(loaded);

    /* Layout and modes (docs/spec.md §5.2). */
    snprintf(dir, sizeof dir, "%s/gw-a", root);
    snprintf(sub, sizeof sub, "%s/gw-a/runbeam", root);
    snprintf(path, sizeof path, "%s/gw-a/runbeam/auth.json", root);
    snprintf(key_path, sizeof key_path, "%s/gw-a/encryption.key", root);
    CHECK(mode_of(dir) == 0700, "%s mode %o", dir, (unsigned)mode_of(dir));
    CHECK(mode_of(sub) == 0700, "%s mode %o", sub, (unsigned)mode_of(sub));
    CHECK(mode_of(path) == 0600, "%s mode %o", path, (unsigned)mode_of(path));
    CHECK(mode_of(key_path) == 0600, "%s mode %o", key_path, (unsigned)mode_of(key_path));
    char content[8192];
    size_t n = read_file(path, content, sizeof content);
    CHECK(n > 0 && !contains_bytes(content, n, SECRET), "the token file is not encrypted (%zu)", n);
    CHECK(n > 0 && contains_bytes(content, n, "age-encryption.org"), "not an age file");

    /* Path-escaping and malformed ids are refused before any file is touched. */
    const char *bad_ids[] = {"../escaped", "..", ".", "a/b", "", "x\\y"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof *bad_ids; i++) {
        CHECK(runbeam_token_store_save_machine_token(store, bad_ids[i], t) ==
                  RUNBEAM_STATUS_INVALID_ARGUMENT, "id '%s' accepted", bad_ids[i]);
        runbeam_machine_token *x = NULL;
        CHECK(runbeam_token_store_load_machine_token(store, bad_ids[i], &x) ==
                  RUNBEAM_STATUS_INVALID_ARGUMENT, "id '%s' accepted on load", bad_ids[i]);
    }
    char escaped[1024];
    snprintf(escaped, sizeof escaped, "%s/../escaped", root);
    CHECK(!exists(escaped), "%s was created", escaped);
    bool existed = true;
    CHECK(runbeam_token_store_delete(store, "gw-a", "../machine_token", &existed) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "token type escape");
    CHECK(runbeam_token_store_load_machine_token(store, "\xff\xfe", &loaded) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "invalid UTF-8 id");
    CHECK(runbeam_token_store_load_machine_token(store, NULL, &loaded) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL id");
    CHECK(runbeam_token_store_load_machine_token(NULL, "gw-a", &loaded) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL store");
    CHECK(runbeam_token_store_load_machine_token(store, "gw-a", NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL out");

    /* A corrupted file: StorageCorrupt naming the file, the file kept as it is. */
    FILE *f = fopen(path, "wb");
    if (f != NULL) {
        fputs("this is not an age file", f);
        fclose(f);
    }
    loaded = (runbeam_machine_token *)&loaded;
    CHECK(runbeam_token_store_load_machine_token(store, "gw-a", &loaded) ==
              RUNBEAM_STATUS_STORAGE_CORRUPT, "%s", last());
    CHECK(strstr(last(), path) != NULL, "the message names the file: %s", last());
    CHECK(strcmp(runbeam_last_error_kind(), "StorageCorrupt") == 0, "kind %s",
          runbeam_last_error_kind());
    check_no_secret("corrupt file");
    CHECK(loaded == (runbeam_machine_token *)&loaded, "out written on failure");
    n = read_file(path, content, sizeof content);
    CHECK(n > 0 && strcmp(content, "this is not an age file") == 0, "the bad file was not kept");

    /* A wrong key: also StorageCorrupt, file kept. */
    CHECK(runbeam_token_store_save_machine_token(store, "gw-a", t) == RUNBEAM_OK, "%s", last());
    f = fopen(key_path, "wb");
    if (f != NULL) {
        fputs("QUdFLVNFQ1JFVC1LRVktMVFRUVFRUVFRUVFRUVFRUVFRUVFRUVFRUVFRUVFRUVFRUVFRUVFRUVFRUVFRUVFRUVFRUQQ==", f);
        fclose(f);
    }
    CHECK(runbeam_token_store_load_machine_token(store, "gw-a", &loaded) != RUNBEAM_OK,
          "a replaced key still decrypts");
    check_no_secret("wrong key");
    CHECK(exists(path), "the token file was removed");

    /* Delete reports whether something was there. */
    existed = false;
    CHECK(runbeam_token_store_delete(store, "gw-a", "auth", &existed) == RUNBEAM_OK, "%s",
          last());
    CHECK(existed, "delete: existed");
    CHECK(!exists(path), "the file is gone after delete");
    existed = true;
    CHECK(runbeam_token_store_delete(store, "gw-a", "auth", &existed) == RUNBEAM_OK, "%s",
          last());
    CHECK(!existed, "delete of an empty slot");
    CHECK(runbeam_token_store_delete(store, "gw-a", "auth", NULL) == RUNBEAM_OK,
          "NULL out_existed allowed");

    /* RUNBEAM_MACHINE_TOKEN takes precedence; a malformed one never echoes the token. */
    setenv("RUNBEAM_MACHINE_TOKEN",
           "{\"machine_token\":\"" SECRET "\",\"expires_at\":\"2099-01-01 00:00:00\","
           "\"gateway_id\":\"gw-env\",\"abilities\":[\"resolve\",\"mesh\"],"
           "\"issued_at\":\"2026-01-01T00:00:00Z\"}",
           1);
    loaded = NULL;
    CHECK(runbeam_token_store_load_machine_token(store, "gw-b", &loaded) == RUNBEAM_OK, "%s",
          last());
    CHECK(loaded != NULL && strcmp(or_null(runbeam_machine_token_gateway_id(loaded)), "gw-env") == 0,
          "env token preferred");
    CHECK(runbeam_machine_token_ability_count(loaded) == 2, "abilities count");
    CHECK(strcmp(or_null(runbeam_machine_token_ability(loaded, 1)), "mesh") == 0, "ability 1");
    int64_t issued = 0;
    CHECK(runbeam_machine_token_issued_at(loaded, &issued) && issued == 1767225600LL,
          "issued_at %lld", (long long)issued);
    runbeam_machine_token_free(loaded);
    setenv("RUNBEAM_MACHINE_TOKEN", "{\"machine_token\":\"" SECRET "\",\"expires_at\":\"never\"}", 1);
    CHECK(runbeam_token_store_load_machine_token(store, "gw-b", &loaded) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "malformed env token");
    CHECK(strstr(last(), "RUNBEAM_MACHINE_TOKEN") != NULL, "%s", last());
    check_no_secret("malformed RUNBEAM_MACHINE_TOKEN");
    unsetenv("RUNBEAM_MACHINE_TOKEN");

    runbeam_machine_token_free(t);
    runbeam_token_store_free(store);

    /* Opening by choice. */
    setenv("RUNBEAM_HOME", root, 1);
    store = NULL;
    CHECK(runbeam_token_store_open("file", &store) == RUNBEAM_OK, "%s", last());
    CHECK(strcmp(runbeam_token_store_backend(store), "file") == 0, "open(file)");
    runbeam_token_store_free(store);
    store = NULL;
    setenv("RUNBEAM_TOKEN_STORE", "file", 1);
    CHECK(runbeam_token_store_open(NULL, &store) == RUNBEAM_OK, "%s", last());
    CHECK(strcmp(runbeam_token_store_backend(store), "file") == 0, "open(NULL) with env=file");
    runbeam_token_store_free(store);
    setenv("RUNBEAM_TOKEN_STORE", "floppy", 1);
    CHECK(runbeam_token_store_open(NULL, &store) == RUNBEAM_STATUS_INVALID_ARGUMENT, "bad env");
    CHECK(strstr(last(), "RUNBEAM_TOKEN_STORE") != NULL, "%s", last());
    unsetenv("RUNBEAM_TOKEN_STORE");
    CHECK(runbeam_token_store_open("floppy", &store) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "bad choice");
    CHECK(runbeam_token_store_open("file", NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL out");
    store = NULL;
    CHECK(runbeam_token_store_file_new(NULL, &store) == RUNBEAM_OK, "%s", last());
    CHECK(strcmp(runbeam_token_store_backend(store), "file") == 0, "file_new(NULL)");
    runbeam_token_store_free(store);
    unsetenv("RUNBEAM_HOME");
    CHECK(strcmp(runbeam_token_store_backend(NULL), "") == 0, "NULL backend");
    runbeam_token_store_free(NULL);
}

/* -------------------------------------------------------------------------- memory store */

static void test_memory_store(void) {
    runbeam_token_store *a = NULL, *b = NULL;
    CHECK(runbeam_token_store_memory_new(&a) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_token_store_memory_new(&b) == RUNBEAM_OK, "%s", last());
    CHECK(strcmp(runbeam_token_store_backend(a), "memory") == 0, "backend");
    runbeam_machine_token *t = NULL, *got = NULL;
    runbeam_machine_token_new(SECRET, "2099-01-01 00:00:00", "gw-m", &t);
    CHECK(runbeam_token_store_save_machine_token(a, "gw-m", t) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_token_store_load_machine_token(a, "gw-m", &got) == RUNBEAM_OK, "%s", last());
    CHECK(got != NULL && strcmp(or_null(runbeam_machine_token_secret(got)), SECRET) == 0, "memory round trip");
    runbeam_machine_token_free(got);
    got = NULL;
    CHECK(runbeam_token_store_load_machine_token(a, "gw-other", &got) == RUNBEAM_OK && got == NULL,
          "instances never share a slot");
    CHECK(runbeam_token_store_load_machine_token(b, "gw-m", &got) == RUNBEAM_OK && got == NULL,
          "stores never share slots");
    CHECK(runbeam_token_store_save_machine_token(a, "..", t) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "memory store checks ids too");
    CHECK(runbeam_token_store_save_machine_token(a, "gw-m", NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL token");
    bool existed = false;
    CHECK(runbeam_token_store_delete(a, "gw-m", "auth", &existed) == RUNBEAM_OK && existed,
          "delete");
    runbeam_machine_token_free(t);
    runbeam_token_store_free(a);
    runbeam_token_store_free(b);
}

/* --------------------------------------------------------------------------- user tokens */

#define USER_SECRET "ut-SECRET-51c0e2b9-do-not-leak"
#define USER_JSON "{\"id\":\"7\",\"email\":\"bob@example.com\",\"name\":\"Bob\"}"

static void test_user_token(void) {
    runbeam_user_token *t = NULL;
    CHECK(runbeam_user_token_new(USER_SECRET, "2099-01-01T00:00:00Z", USER_JSON, &t) == RUNBEAM_OK, "%s",
          last());
    CHECK(strcmp(or_null(runbeam_user_token_secret(t)), USER_SECRET) == 0, "secret");
    int64_t at = 0;
    CHECK(runbeam_user_token_expires_at(t, &at) && at == 4070908800LL, "expires_at %lld", (long long)at);
    CHECK(runbeam_user_token_expires_at(t, NULL), "known expiry, NULL out");
    CHECK(strcmp(or_null(runbeam_user_token_expires_at_rfc3339(t)), "2099-01-01T00:00:00Z") == 0, "%s",
          or_null(runbeam_user_token_expires_at_rfc3339(t)));
    const char *user = runbeam_user_token_user_json(t);
    CHECK(user != NULL && strstr(user, "\"email\":\"bob@example.com\"") != NULL, "user %s", or_null(user));
    CHECK(!runbeam_user_token_is_expired(t), "not expired");
    runbeam_user_token_free(t);

    /* Expiry and user are optional; the SDK's second date format is read. */
    t = NULL;
    CHECK(runbeam_user_token_new(USER_SECRET, NULL, NULL, &t) == RUNBEAM_OK, "%s", last());
    at = 42;
    CHECK(!runbeam_user_token_expires_at(t, &at) && at == 42, "unknown expiry, out untouched");
    CHECK(runbeam_user_token_expires_at_rfc3339(t) == NULL, "no expiry text");
    CHECK(runbeam_user_token_user_json(t) == NULL, "no user");
    CHECK(!runbeam_user_token_is_expired(t), "an unknown expiry is not expired");
    runbeam_user_token_free(t);
    t = NULL;
    CHECK(runbeam_user_token_new(USER_SECRET, "2001-01-01 00:00:00", NULL, &t) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_user_token_is_expired(t), "expired");
    CHECK(strcmp(or_null(runbeam_user_token_expires_at_rfc3339(t)), "2001-01-01T00:00:00Z") == 0, "%s",
          or_null(runbeam_user_token_expires_at_rfc3339(t)));
    runbeam_user_token_free(t);

    /* Refusals name the argument and never quote the secret. */
    t = (runbeam_user_token *)&t;
    CHECK(runbeam_user_token_new(USER_SECRET, "never", NULL, &t) == RUNBEAM_STATUS_INVALID_ARGUMENT, "date");
    CHECK(strstr(last(), "expires_at") != NULL && strstr(last(), USER_SECRET) == NULL, "%s", last());
    CHECK(runbeam_user_token_new(USER_SECRET, NULL, "{\"id\":", &t) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "user JSON");
    CHECK(strstr(last(), "user_json") != NULL && strstr(last(), USER_SECRET) == NULL, "%s", last());
    CHECK(runbeam_user_token_new("", NULL, NULL, &t) == RUNBEAM_STATUS_INVALID_ARGUMENT, "empty secret");
    CHECK(runbeam_user_token_new(NULL, NULL, NULL, &t) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL secret");
    CHECK(runbeam_user_token_new("\xff", NULL, NULL, &t) == RUNBEAM_STATUS_INVALID_ARGUMENT, "bad UTF-8");
    CHECK(runbeam_user_token_new(USER_SECRET, NULL, NULL, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL out");
    CHECK(t == (runbeam_user_token *)&t, "out written on failure");

    /* NULL handles. */
    CHECK(runbeam_user_token_secret(NULL) == NULL, "NULL secret");
    CHECK(!runbeam_user_token_expires_at(NULL, &at), "NULL expires_at");
    CHECK(runbeam_user_token_expires_at_rfc3339(NULL) == NULL, "NULL rfc3339");
    CHECK(runbeam_user_token_user_json(NULL) == NULL, "NULL user");
    CHECK(runbeam_user_token_is_expired(NULL), "NULL is expired");
    runbeam_user_token_free(NULL);
}

/* Save and load a user token in `store` for `instance`. */
static void check_user_token_round_trip(runbeam_token_store *store, const char *instance) {
    runbeam_user_token *t = NULL, *got = (runbeam_user_token *)&got;
    CHECK(runbeam_token_store_load_user_token(store, instance, &got) == RUNBEAM_OK, "%s", last());
    CHECK(got == NULL, "nothing stored yet");
    runbeam_user_token_new(USER_SECRET, "2099-01-01T00:00:00Z", USER_JSON, &t);
    CHECK(runbeam_token_store_save_user_token(store, instance, t) == RUNBEAM_OK, "%s", last());
    runbeam_user_token_free(t);
    got = NULL;
    CHECK(runbeam_token_store_load_user_token(store, instance, &got) == RUNBEAM_OK, "%s", last());
    CHECK(got != NULL && strcmp(or_null(runbeam_user_token_secret(got)), USER_SECRET) == 0, "secret");
    CHECK(strcmp(or_null(runbeam_user_token_expires_at_rfc3339(got)), "2099-01-01T00:00:00Z") == 0, "%s",
          or_null(runbeam_user_token_expires_at_rfc3339(got)));
    CHECK(strstr(or_null(runbeam_user_token_user_json(got)), "bob@example.com") != NULL, "%s",
          or_null(runbeam_user_token_user_json(got)));
    runbeam_user_token_free(got);
    /* The machine-token slot is another one. */
    runbeam_machine_token *m = (runbeam_machine_token *)&m;
    CHECK(runbeam_token_store_load_machine_token(store, instance, &m) == RUNBEAM_OK && m == NULL,
          "the user token is not the machine token");
    if (m != (runbeam_machine_token *)&m) runbeam_machine_token_free(m);
    CHECK(runbeam_token_store_save_user_token(store, "..", t) == RUNBEAM_STATUS_INVALID_ARGUMENT, "bad id");
    CHECK(runbeam_token_store_save_user_token(store, instance, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL token");
    CHECK(runbeam_token_store_load_user_token(store, instance, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL out");
    CHECK(runbeam_token_store_load_user_token(NULL, instance, &got) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL store");
}

static void test_user_token_storage(const char *root) {
    runbeam_token_store *store = NULL;
    CHECK(runbeam_token_store_file_new(root, &store) == RUNBEAM_OK, "%s", last());
    check_user_token_round_trip(store, "gw-u");
    char path[1024], content[8192];
    snprintf(path, sizeof path, "%s/gw-u/runbeam/user_auth.json", root);
    CHECK(mode_of(path) == 0600, "%s mode %o", path, (unsigned)mode_of(path));
    size_t n = read_file(path, content, sizeof content);
    CHECK(n > 0 && !contains_bytes(content, n, USER_SECRET), "the user token file is not encrypted");
    bool existed = false;
    CHECK(runbeam_token_store_delete(store, "gw-u", "user_auth", &existed) == RUNBEAM_OK && existed, "%s",
          last());
    CHECK(!exists(path), "deleted");
    runbeam_token_store_free(store);

    store = NULL;
    runbeam_token_store_memory_new(&store);
    check_user_token_round_trip(store, "gw-u");
    runbeam_token_store_free(store);
}

/* ------------------------------------------------------------- file store with a given key */

/* The content of `<root>/<instance>/encryption.key` (base64 of the age key) into `buf`. */
static void read_key(const char *root, const char *instance, char *buf, size_t len) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s/encryption.key", root, instance);
    buf[0] = '\0';
    read_file(path, buf, len);
}

static void test_file_store_with_key(const char *root) {
    char one[512], two[512], path[1024];
    snprintf(one, sizeof one, "%s/one", root);
    snprintf(two, sizeof two, "%s/two", root);
    mkdir(one, 0700);
    mkdir(two, 0700);

    /* Keys made by a store that keeps them in files. */
    runbeam_token_store *files = NULL;
    runbeam_machine_token *t = NULL;
    runbeam_token_store_file_new(one, &files);
    runbeam_machine_token_new(SECRET, "2099-01-01T00:00:00Z", "gw-k", &t);
    CHECK(runbeam_token_store_save_machine_token(files, "gw-k", t) == RUNBEAM_OK, "%s", last());
    char key[512];
    read_key(one, "gw-k", key, sizeof key);
    CHECK(strlen(key) > 20, "a key file");
    runbeam_token_store_free(files);

    /* With the key given, no key file is made, and the key decrypts what the files' key did. */
    runbeam_token_store *keyed = NULL;
    CHECK(runbeam_token_store_file_new_with_key(two, key, &keyed) == RUNBEAM_OK, "%s", last());
    CHECK(strcmp(runbeam_token_store_backend(keyed), "file") == 0, "backend");
    check_user_token_round_trip(keyed, "gw-k");
    CHECK(runbeam_token_store_save_machine_token(keyed, "gw-k", t) == RUNBEAM_OK, "%s", last());
    snprintf(path, sizeof path, "%s/gw-k/encryption.key", two);
    CHECK(!exists(path), "%s was created", path);
    snprintf(path, sizeof path, "%s/gw-k/runbeam/auth.json", two);
    CHECK(mode_of(path) == 0600, "%s mode %o", path, (unsigned)mode_of(path));
    runbeam_token_store_free(keyed);
    keyed = NULL;
    CHECK(runbeam_token_store_file_new_with_key(one, key, &keyed) == RUNBEAM_OK, "%s", last());
    runbeam_machine_token *got = NULL;
    CHECK(runbeam_token_store_load_machine_token(keyed, "gw-k", &got) == RUNBEAM_OK && got != NULL,
          "the same key reads the files' token: %s", last());
    CHECK(strcmp(or_null(runbeam_machine_token_secret(got)), SECRET) == 0, "secret");
    runbeam_machine_token_free(got);
    runbeam_token_store_free(keyed);

    /* (A wrong key is StorageCorrupt: tests/e2e covers it. Not here: the age crate builds a
     * process-wide message catalogue the first time it formats a decryption error, which
     * valgrind reports as "possibly lost" at exit.) */

    /* What is not an age key is refused at once, without quoting it. */
    keyed = NULL;
    CHECK(runbeam_token_store_file_new_with_key(two, "AGE-SECRET-KEY-1NOTAKEY-hushhush", &keyed) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "not a key");
    CHECK(strstr(last(), "hushhush") == NULL && strstr(last(), "X25519") != NULL, "%s", last());
    CHECK(runbeam_token_store_file_new_with_key(two, "", &keyed) == RUNBEAM_STATUS_INVALID_ARGUMENT, "empty");
    CHECK(runbeam_token_store_file_new_with_key(two, NULL, &keyed) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL");
    CHECK(runbeam_token_store_file_new_with_key("", key, &keyed) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "empty root");
    CHECK(runbeam_token_store_file_new_with_key(two, key, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL out");
    CHECK(keyed == NULL, "out untouched");

    /* A NULL root is RUNBEAM_HOME. */
    setenv("RUNBEAM_HOME", one, 1);
    CHECK(runbeam_token_store_file_new_with_key(NULL, key, &keyed) == RUNBEAM_OK, "%s", last());
    got = NULL;
    CHECK(runbeam_token_store_load_machine_token(keyed, "gw-k", &got) == RUNBEAM_OK && got != NULL, "%s",
          last());
    runbeam_machine_token_free(got);
    runbeam_token_store_free(keyed);
    unsetenv("RUNBEAM_HOME");
    runbeam_machine_token_free(t);
}

/* ------------------------------------------------------------------- async store calls */

/* The outcome of one async store call. */
struct store_waiter {
    struct waiter_sync sync;
    runbeam_status status;
    bool has_token;
    bool value;
    bool message_null;
    char secret[256];
    char message[1024];
    char kind[64];
};

static void store_waiter_init(struct store_waiter *w) {
    memset(w, 0, sizeof *w);
    waiter_sync_init(&w->sync);
    w->status = -1;
}

static void store_record(struct store_waiter *w, runbeam_status status, bool has_token, const char *secret,
                         bool value, const char *message) {
    waiter_sync_lock(&w->sync);
    w->status = status;
    w->has_token = has_token;
    w->value = value;
    w->message_null = message == NULL;
    snprintf(w->secret, sizeof w->secret, "%s", or_null(secret));
    snprintf(w->message, sizeof w->message, "%s", or_null(message));
    snprintf(w->kind, sizeof w->kind, "%s", runbeam_last_error_kind());
    waiter_sync_signal(&w->sync);
}

static void on_machine_token(void *user_data, runbeam_status status, runbeam_machine_token *token,
                             const char *error_message) {
    store_record(user_data, status, token != NULL, runbeam_machine_token_secret(token), false,
                 error_message);
    runbeam_machine_token_free(token); /* the callback owns it */
}

static void on_user_token(void *user_data, runbeam_status status, runbeam_user_token *token,
                          const char *error_message) {
    store_record(user_data, status, token != NULL, runbeam_user_token_secret(token), false, error_message);
    runbeam_user_token_free(token);
}

static void on_status(void *user_data, runbeam_status status, const char *error_message) {
    store_record(user_data, status, false, NULL, false, error_message);
}

static void on_bool(void *user_data, runbeam_status status, bool value, const char *error_message) {
    store_record(user_data, status, false, NULL, value, error_message);
}

/* Waits for the one callback of `w`, checks it came once with `status`, then resets `w`. */
static void expect_store_call(struct store_waiter *w, runbeam_status status, int line) {
    CHECK(waiter_sync_wait(&w->sync, 1, 30) == 1, "line %d: no callback", line);
    sleep_ms(20);
    CHECK(waiter_sync_count(&w->sync) == 1, "line %d: called %d times", line, waiter_sync_count(&w->sync));
    CHECK(w->status == status, "line %d: %s, expected %s: %s", line, runbeam_status_str(w->status),
          runbeam_status_str(status), w->message);
    CHECK(w->message_null == (status == RUNBEAM_OK), "line %d: message %s", line, w->message);
    CHECK(strstr(w->message, SECRET) == NULL && strstr(w->message, USER_SECRET) == NULL,
          "line %d: a secret in the message: %s", line, w->message);
}

static void test_store_async(const char *root) {
    runbeam_token_store *store = NULL;
    CHECK(runbeam_token_store_file_new(root, &store) == RUNBEAM_OK, "%s", last());
    struct store_waiter w;

    /* Load of an empty slot: OK with no token. */
    store_waiter_init(&w);
    CHECK(runbeam_token_store_load_machine_token_async(store, "gw-async", on_machine_token, &w, NULL) ==
              RUNBEAM_OK, "%s", last());
    expect_store_call(&w, RUNBEAM_OK, __LINE__);
    CHECK(!w.has_token, "nothing stored");
    waiter_sync_destroy(&w.sync);

    /* Save (the token is copied: freed at once), then load. */
    runbeam_machine_token *t = NULL;
    runbeam_machine_token_new(SECRET, "2099-01-01T00:00:00Z", "gw-77", &t);
    store_waiter_init(&w);
    runbeam_cancel *cancel = NULL;
    CHECK(runbeam_token_store_save_machine_token_async(store, "gw-async", t, on_status, &w, &cancel) ==
              RUNBEAM_OK, "%s", last());
    runbeam_machine_token_free(t);
    CHECK(cancel != NULL, "cancel handle");
    expect_store_call(&w, RUNBEAM_OK, __LINE__);
    CHECK(runbeam_cancel_request(cancel) == RUNBEAM_OK, "a cancel after completion is a no-op");
    runbeam_cancel_free(cancel);
    waiter_sync_destroy(&w.sync);
    store_waiter_init(&w);
    CHECK(runbeam_token_store_load_machine_token_async(store, "gw-async", on_machine_token, &w, NULL) ==
              RUNBEAM_OK, "%s", last());
    expect_store_call(&w, RUNBEAM_OK, __LINE__);
    CHECK(w.has_token && strcmp(w.secret, SECRET) == 0, "loaded: %s", w.secret);
    waiter_sync_destroy(&w.sync);

    /* User tokens. */
    runbeam_user_token *u = NULL;
    runbeam_user_token_new(USER_SECRET, NULL, USER_JSON, &u);
    store_waiter_init(&w);
    CHECK(runbeam_token_store_save_user_token_async(store, "gw-async", u, on_status, &w, NULL) == RUNBEAM_OK,
          "%s", last());
    runbeam_user_token_free(u);
    expect_store_call(&w, RUNBEAM_OK, __LINE__);
    waiter_sync_destroy(&w.sync);
    store_waiter_init(&w);
    CHECK(runbeam_token_store_load_user_token_async(store, "gw-async", on_user_token, &w, NULL) == RUNBEAM_OK,
          "%s", last());
    expect_store_call(&w, RUNBEAM_OK, __LINE__);
    CHECK(w.has_token && strcmp(w.secret, USER_SECRET) == 0, "loaded: %s", w.secret);
    waiter_sync_destroy(&w.sync);

    /* Delete tells whether the slot held something. */
    store_waiter_init(&w);
    CHECK(runbeam_token_store_delete_async(store, "gw-async", "user_auth", on_bool, &w, NULL) == RUNBEAM_OK,
          "%s", last());
    expect_store_call(&w, RUNBEAM_OK, __LINE__);
    CHECK(w.value, "existed");
    waiter_sync_destroy(&w.sync);
    store_waiter_init(&w);
    CHECK(runbeam_token_store_delete_async(store, "gw-async", "user_auth", on_bool, &w, NULL) == RUNBEAM_OK,
          "%s", last());
    expect_store_call(&w, RUNBEAM_OK, __LINE__);
    CHECK(!w.value, "deleted already");
    waiter_sync_destroy(&w.sync);

    /* A store error reaches the callback: a damaged token file is StorageCorrupt naming it. */
    char path[1024];
    snprintf(path, sizeof path, "%s/gw-async/runbeam/auth.json", root);
    FILE *f = fopen(path, "wb");
    if (f != NULL) {
        fputs("not an age file", f);
        fclose(f);
    }
    store_waiter_init(&w);
    CHECK(runbeam_token_store_load_machine_token_async(store, "gw-async", on_machine_token, &w, NULL) ==
              RUNBEAM_OK, "%s", last());
    expect_store_call(&w, RUNBEAM_STATUS_STORAGE_CORRUPT, __LINE__);
    CHECK(!w.has_token, "no token with an error");
    CHECK(strstr(w.message, path) != NULL, "the message names the file: %s", w.message);
    CHECK(strcmp(w.kind, "StorageCorrupt") == 0, "last error kind in the callback: %s", w.kind);
    waiter_sync_destroy(&w.sync);

    /* Argument errors are reported at once and nothing is started. */
    store_waiter_init(&w);
    runbeam_user_token_new(USER_SECRET, NULL, NULL, &u);
    CHECK(runbeam_token_store_load_machine_token_async(store, "../x", on_machine_token, &w, NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "bad id");
    CHECK(runbeam_token_store_load_user_token_async(store, "gw-async", NULL, &w, NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL callback");
    CHECK(runbeam_token_store_save_user_token_async(store, "gw-async", NULL, on_status, &w, NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL token");
    CHECK(runbeam_token_store_save_machine_token_async(NULL, "gw-async", NULL, on_status, &w, NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL store");
    CHECK(runbeam_token_store_delete_async(store, "gw-async", "../auth", on_bool, &w, NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "bad token type");
    CHECK(runbeam_token_store_save_user_token_async(store, "", u, on_status, &w, NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "empty id");
    sleep_ms(50);
    CHECK(waiter_sync_count(&w.sync) == 0, "never called");
    waiter_sync_destroy(&w.sync);
    runbeam_token_store_free(store);

    /* Freed with calls pending: each callback is called exactly once before the free returns
     * (done or CANCELLED), and nothing runs after it. */
    enum { CALLS = 24 };
    store = NULL;
    runbeam_token_store_file_new(root, &store);
    store_waiter_init(&w);
    int started = 0;
    for (int i = 0; i < CALLS / 2; i++) {
        char instance[32];
        snprintf(instance, sizeof instance, "gw-free-%d", i);
        started += runbeam_token_store_save_user_token_async(store, instance, u, on_status, &w, NULL) == RUNBEAM_OK;
        started += runbeam_token_store_load_user_token_async(store, instance, on_user_token, &w, NULL) == RUNBEAM_OK;
    }
    CHECK(started == CALLS, "%d started", started);
    runbeam_token_store_free(store);
    CHECK(waiter_sync_count(&w.sync) == CALLS, "%d of %d callbacks before the free returned",
          waiter_sync_count(&w.sync), CALLS);
    sleep_ms(50);
    CHECK(waiter_sync_count(&w.sync) == CALLS, "a callback after the free: %d", waiter_sync_count(&w.sync));
    waiter_sync_destroy(&w.sync);
    runbeam_user_token_free(u);
}

/* ------------------------------------------------------------------------ token managers */

struct counter {
    pthread_mutex_t mu;
    int calls;
    runbeam_status answer; /* what the credential callback returns */
};

static struct counter credential_calls = {PTHREAD_MUTEX_INITIALIZER, 0, RUNBEAM_OK};
static struct counter window_calls = {PTHREAD_MUTEX_INITIALIZER, 0, RUNBEAM_OK};

static int counter_get(struct counter *c) {
    pthread_mutex_lock(&c->mu);
    int n = c->calls;
    pthread_mutex_unlock(&c->mu);
    return n;
}

static runbeam_status supply_credential(void *user_data, runbeam_credential *out) {
    struct counter *c = user_data;
    pthread_mutex_lock(&c->mu);
    c->calls++;
    runbeam_status answer = c->answer;
    pthread_mutex_unlock(&c->mu);
    if (answer != RUNBEAM_OK) return answer;
    char buffer[64];
    snprintf(buffer, sizeof buffer, "%s", BOB);
    runbeam_status s = runbeam_credential_set_token(out, buffer);
    memset(buffer, 0, sizeof buffer); /* the library keeps its own copy */
    return s;
}

static void on_window(void *user_data, const runbeam_machine_token *token) {
    struct counter *c = user_data;
    pthread_mutex_lock(&c->mu);
    if (token != NULL && runbeam_machine_token_secret(token) != NULL) c->calls++;
    pthread_mutex_unlock(&c->mu);
}

/* A manager for `instance` on `store`: credential token or callback, window in seconds
 * (0 = default). */
static runbeam_token_manager *new_manager(const char *instance, runbeam_token_store *store,
                                          const char *credential, bool callback,
                                          uint64_t window) {
    runbeam_token_manager_config *cfg = NULL;
    runbeam_token_manager *m = NULL;
    CHECK(runbeam_token_manager_config_new(instance, &cfg) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_token_manager_config_set_api_url(cfg, api_url) == RUNBEAM_OK, "%s", last());
    if (credential != NULL)
        CHECK(runbeam_token_manager_config_set_credential_token(cfg, credential) == RUNBEAM_OK,
              "%s", last());
    if (callback)
        CHECK(runbeam_token_manager_config_set_credential_callback(cfg, supply_credential,
                                                                   &credential_calls) == RUNBEAM_OK,
              "%s", last());
    if (window > 0) {
        CHECK(runbeam_token_manager_config_set_renewal_window_ms(cfg, window * 1000) == RUNBEAM_OK, "%s",
              last());
        CHECK(runbeam_token_manager_config_set_renewal_window_callback(cfg, on_window,
                                                                       &window_calls) == RUNBEAM_OK,
              "%s", last());
    }
    CHECK(runbeam_token_manager_new(cfg, store, &m) == RUNBEAM_OK, "%s", last());
    runbeam_token_manager_config_free(cfg);
    return m;
}

struct ensure_thread {
    runbeam_token_manager *manager;
    pthread_barrier_t *barrier;
    runbeam_status status;
    char secret[256];
};

static void *ensure_in_thread(void *arg) {
    struct ensure_thread *e = arg;
    pthread_barrier_wait(e->barrier);
    runbeam_machine_token *t = NULL;
    e->status = runbeam_token_manager_ensure_token(e->manager, &t);
    snprintf(e->secret, sizeof e->secret, "%s", or_null(runbeam_machine_token_secret(t)));
    runbeam_machine_token_free(t);
    return NULL;
}

struct waiter {
    struct waiter_sync sync;
    runbeam_status status;
    bool exclusive;
    char secret[256];
};

static void on_token(void *user_data, runbeam_status status, runbeam_machine_token *token,
                     const char *error_message) {
    struct waiter *w = user_data;
    waiter_sync_lock(&w->sync);
    w->status = status;
    w->exclusive = (status == RUNBEAM_OK) == (token != NULL && error_message == NULL);
    snprintf(w->secret, sizeof w->secret, "%s", or_null(runbeam_machine_token_secret(token)));
    waiter_sync_signal(&w->sync);
    runbeam_machine_token_free(token); /* the callback owns it */
}

static int waiter_wait(struct waiter *w, int calls) {
    return waiter_sync_wait(&w->sync, calls, 30);
}

static void test_manager_arguments(runbeam_token_store *store) {
    runbeam_token_manager_config *cfg = NULL;
    runbeam_token_manager *m = NULL;
    CHECK(runbeam_token_manager_config_new("../gw", &cfg) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "escaping instance id");
    CHECK(runbeam_token_manager_config_new(NULL, &cfg) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL");
    CHECK(runbeam_token_manager_config_new("gw-args", &cfg) == RUNBEAM_OK, "%s", last());
    CHECK(runbeam_token_manager_new(cfg, store, &m) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "no API set");
    CHECK(strstr(last(), "set_api_url") != NULL, "%s", last());
    CHECK(runbeam_token_manager_config_set_api_url(cfg, "http://example.com") ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "plain http to a remote host");
    CHECK(runbeam_token_manager_config_set_credential_token(cfg, "") ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "empty credential");
    CHECK(runbeam_token_manager_config_set_credential_callback(cfg, NULL, NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL callback");
    CHECK(runbeam_token_manager_config_set_gateway_code(cfg, "") ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "empty gateway code");
    runbeam_client_config *cc = NULL;
    runbeam_client_config_new(api_url, &cc);
    CHECK(runbeam_token_manager_config_set_client_config(cfg, cc) == RUNBEAM_OK, "%s", last());
    runbeam_client_config_free(cc);
    CHECK(runbeam_token_manager_new(cfg, NULL, &m) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL store");
    CHECK(runbeam_token_manager_new(cfg, store, &m) == RUNBEAM_OK, "%s", last());
    runbeam_token_manager_config_free(cfg);
    runbeam_machine_token *t = NULL;
    CHECK(runbeam_token_manager_ensure_token(m, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL out");
    CHECK(runbeam_token_manager_ensure_token(NULL, &t) == RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL");
    CHECK(runbeam_token_manager_ensure_token_async(m, NULL, NULL, NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL callback");
    runbeam_token_manager_free(m);
    runbeam_token_manager_free(NULL);
    runbeam_token_manager_config_free(NULL);
}

static void test_manager(void) {
    runbeam_token_store *store = NULL;
    runbeam_token_store_memory_new(&store);
    test_manager_arguments(store);

    /* No credential: NoToken saying what to do; revoke needs one too. */
    runbeam_token_manager *bare = new_manager("gw-bare", store, NULL, false, 0);
    runbeam_machine_token *t = (runbeam_machine_token *)&t;
    CHECK(runbeam_token_manager_ensure_token(bare, &t) == RUNBEAM_STATUS_NO_TOKEN, "%s", last());
    CHECK(strstr(last(), "authorize") != NULL, "next step in the message: %s", last());
    CHECK(t == (runbeam_machine_token *)&t, "out written on failure");
    CHECK(runbeam_token_manager_revoke(bare) == RUNBEAM_STATUS_NO_TOKEN, "revoke: %s", last());
    runbeam_token_manager_free(bare);

    /* Expired stored token, no credential: TokenExpired. */
    runbeam_machine_token *old = NULL;
    runbeam_machine_token_new(SECRET, "2001-01-01 00:00:00", "gw-x", &old);
    runbeam_token_store_save_machine_token(store, "gw-expired", old);
    runbeam_machine_token_free(old);
    bare = new_manager("gw-expired", store, NULL, false, 0);
    CHECK(runbeam_token_manager_ensure_token(bare, &t) == RUNBEAM_STATUS_TOKEN_EXPIRED, "%s", last());
    check_no_secret("expired");
    runbeam_token_manager_free(bare);

    /* A bad credential: Unauthorized from the API, nothing saved. */
    runbeam_token_manager *wrong = new_manager("gw-wrong", store, "2|not-a-real-token", false, 0);
    CHECK(runbeam_token_manager_ensure_token(wrong, &t) == RUNBEAM_STATUS_UNAUTHORIZED, "%s", last());
    runbeam_token_manager_free(wrong);

    /* First ensure_token authorizes exactly once; the next one is served from the store. */
    dev_delete("/_dev/counters");
    runbeam_token_manager *m = new_manager("storage-gw-first", store, BOB, false, 0);
    t = NULL;
    CHECK(runbeam_token_manager_ensure_token(m, &t) == RUNBEAM_OK, "%s", last());
    CHECK(dev_count(AUTHORIZE) == 1, "authorize count %ld", dev_count(AUTHORIZE));
    char first[256];
    snprintf(first, sizeof first, "%s", or_null(runbeam_machine_token_secret(t)));
    CHECK(strlen(first) > 0 && strcmp(first, "(null)") != 0, "a secret");
    CHECK(runbeam_machine_token_ability_count(t) > 0, "abilities from the API");
    CHECK(runbeam_machine_token_issued_at(t, NULL), "issued_at set on renewal");
    runbeam_machine_token_free(t);
    t = NULL;
    CHECK(runbeam_token_manager_ensure_token(m, &t) == RUNBEAM_OK, "%s", last());
    CHECK(strcmp(or_null(runbeam_machine_token_secret(t)), first) == 0, "same token");
    CHECK(dev_count(AUTHORIZE) == 1, "no second authorize: %ld", dev_count(AUTHORIZE));
    runbeam_machine_token_free(t);
    runbeam_machine_token *current = NULL;
    CHECK(runbeam_token_manager_current(m, &current) == RUNBEAM_OK && current != NULL, "%s", last());
    runbeam_machine_token_free(current);
    runbeam_token_manager_free(m);

    /* Renewal inside the window with many threads: exactly one authorize. */
    CHECK(dev_post("/_dev/machine-token-lifetime", "{\"secs\":4}") == 200, "lifetime 4 s");
    m = new_manager("storage-gw-renew", store, BOB, false, 2);
    t = NULL;
    CHECK(runbeam_token_manager_ensure_token(m, &t) == RUNBEAM_OK, "%s", last());
    char old_secret[256];
    snprintf(old_secret, sizeof old_secret, "%s", or_null(runbeam_machine_token_secret(t)));
    for (int i = 0; i < 200 && !runbeam_machine_token_needs_renewal(t, 2000); i++) sleep_ms(50);
    CHECK(runbeam_machine_token_needs_renewal(t, 2000), "the 4 s token never entered its window");
    runbeam_machine_token_free(t);
    /* The renewed token lives long, so no thread can see it inside the window again. */
    CHECK(dev_post("/_dev/machine-token-lifetime", "{\"secs\":3600}") == 200, "lifetime 1 h");
    dev_delete("/_dev/counters");
    enum { THREADS = 6 };
    pthread_t threads[THREADS];
    struct ensure_thread ensure[THREADS];
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) {
        memset(&ensure[i], 0, sizeof ensure[i]);
        ensure[i].manager = m;
        ensure[i].barrier = &barrier;
        ensure[i].status = -1;
        pthread_create(&threads[i], NULL, ensure_in_thread, &ensure[i]);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&barrier);
    CHECK(dev_count(AUTHORIZE) == 1, "%d threads caused %ld authorizes", THREADS,
          dev_count(AUTHORIZE));
    for (int i = 0; i < THREADS; i++) {
        CHECK(ensure[i].status == RUNBEAM_OK, "thread %d: %s", i,
              runbeam_status_str(ensure[i].status));
        CHECK(strcmp(ensure[i].secret, ensure[0].secret) == 0, "thread %d got another token", i);
    }
    CHECK(strcmp(ensure[0].secret, old_secret) != 0, "the token was not renewed");
    CHECK(counter_get(&window_calls) >= 1, "the renewal-window callback was not called");
    runbeam_token_manager_free(m);
    /* Back to 30 days, far outside the default 7-day window of the managers below. */
    CHECK(dev_post("/_dev/machine-token-lifetime", "{\"secs\":2592000}") == 200, "lifetime 30 d");

    /* Credential from a callback (called only when needed), and its failure status. */
    m = new_manager("storage-gw-callback", store, NULL, true, 0);
    t = NULL;
    CHECK(runbeam_token_manager_ensure_token(m, &t) == RUNBEAM_OK, "%s", last());
    CHECK(counter_get(&credential_calls) == 1, "callback calls %d", counter_get(&credential_calls));
    runbeam_machine_token_free(t);
    t = NULL;
    CHECK(runbeam_token_manager_ensure_token(m, &t) == RUNBEAM_OK, "%s", last());
    CHECK(counter_get(&credential_calls) == 1, "callback called without need");
    runbeam_machine_token_free(t);
    runbeam_token_manager_free(m);
    pthread_mutex_lock(&credential_calls.mu);
    credential_calls.answer = RUNBEAM_STATUS_PERMISSION_DENIED;
    pthread_mutex_unlock(&credential_calls.mu);
    m = new_manager("storage-gw-callback-fails", store, NULL, true, 0);
    CHECK(runbeam_token_manager_ensure_token(m, &t) == RUNBEAM_STATUS_PERMISSION_DENIED, "%s",
          last());
    runbeam_token_manager_free(m);

    /* Revoke: the store is cleared and the old token gets 401 from the API. */
    m = new_manager("storage-gw-revoke", store, BOB, false, 0);
    t = NULL;
    CHECK(runbeam_token_manager_ensure_token(m, &t) == RUNBEAM_OK, "%s", last());
    runbeam_client_config *cc = NULL;
    runbeam_client *gateway = NULL;
    runbeam_client_config_new(api_url, &cc);
    runbeam_client_config_set_token(cc, or_null(runbeam_machine_token_secret(t)));
    runbeam_client_new(cc, &gateway);
    runbeam_client_config_free(cc);
    runbeam_machine_token_free(t);
    char *json = NULL;
    CHECK(runbeam_client_base_url(gateway, &json) == RUNBEAM_OK, "before revoke: %s", last());
    runbeam_string_free(json);
    json = NULL;
    CHECK(runbeam_token_manager_revoke(m) == RUNBEAM_OK, "%s", last());
    current = (runbeam_machine_token *)&current;
    CHECK(runbeam_token_manager_current(m, &current) == RUNBEAM_OK && current == NULL,
          "revoke cleared the store");
    CHECK(runbeam_client_base_url(gateway, &json) == RUNBEAM_STATUS_UNAUTHORIZED,
          "after revoke: %s", runbeam_status_str(runbeam_last_error_status()));
    CHECK(runbeam_last_error_http_status() == 401, "http %u", runbeam_last_error_http_status());
    runbeam_string_free(json);
    runbeam_client_free(gateway);

    /* current and revoke in their callback forms. */
    struct store_waiter sw;
    store_waiter_init(&sw);
    CHECK(runbeam_token_manager_current_async(m, on_machine_token, &sw, NULL) == RUNBEAM_OK, "%s", last());
    expect_store_call(&sw, RUNBEAM_OK, __LINE__);
    CHECK(!sw.has_token, "revoked: nothing stored");
    waiter_sync_destroy(&sw.sync);
    runbeam_token_manager *m2 = new_manager("storage-gw-revoke-async", store, BOB, false, 0);
    t = NULL;
    CHECK(runbeam_token_manager_ensure_token(m2, &t) == RUNBEAM_OK, "%s", last());
    char issued[256];
    snprintf(issued, sizeof issued, "%s", or_null(runbeam_machine_token_secret(t)));
    runbeam_machine_token_free(t);
    store_waiter_init(&sw);
    CHECK(runbeam_token_manager_current_async(m2, on_machine_token, &sw, NULL) == RUNBEAM_OK, "%s", last());
    expect_store_call(&sw, RUNBEAM_OK, __LINE__);
    CHECK(sw.has_token && strcmp(sw.secret, issued) == 0, "current: the stored token");
    waiter_sync_destroy(&sw.sync);
    store_waiter_init(&sw);
    CHECK(runbeam_token_manager_revoke_async(m2, on_status, &sw, NULL) == RUNBEAM_OK, "%s", last());
    expect_store_call(&sw, RUNBEAM_OK, __LINE__);
    waiter_sync_destroy(&sw.sync);
    current = (runbeam_machine_token *)&current;
    CHECK(runbeam_token_manager_current(m2, &current) == RUNBEAM_OK && current == NULL,
          "revoke_async cleared the store");
    runbeam_token_manager_free(m2);
    bare = new_manager("gw-bare-async", store, NULL, false, 0);
    store_waiter_init(&sw);
    CHECK(runbeam_token_manager_revoke_async(bare, on_status, &sw, NULL) == RUNBEAM_OK, "%s", last());
    expect_store_call(&sw, RUNBEAM_STATUS_NO_TOKEN, __LINE__);
    CHECK(strcmp(sw.kind, "NoToken") == 0, "kind in the callback: %s", sw.kind);
    waiter_sync_destroy(&sw.sync);
    CHECK(runbeam_token_manager_revoke_async(bare, NULL, NULL, NULL) == RUNBEAM_STATUS_INVALID_ARGUMENT,
          "NULL callback");
    CHECK(runbeam_token_manager_current_async(NULL, on_machine_token, NULL, NULL) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT, "NULL manager");
    runbeam_token_manager_free(bare);

    /* Async form: exactly one callback with a token it owns. */
    struct waiter w;
    memset(&w, 0, sizeof w);
    waiter_sync_init(&w.sync);
    runbeam_cancel *cancel = NULL;
    CHECK(runbeam_token_manager_ensure_token_async(m, on_token, &w, &cancel) == RUNBEAM_OK, "%s",
          last());
    CHECK(waiter_wait(&w, 1) == 1, "no callback");
    CHECK(w.status == RUNBEAM_OK && w.exclusive, "async: %s", runbeam_status_str(w.status));
    CHECK(strlen(w.secret) > 0 && strcmp(w.secret, "(null)") != 0, "async secret");
    runbeam_cancel_request(cancel); /* after completion: nothing happens */
    runbeam_cancel_free(cancel);
    runbeam_token_manager_free(m); /* joins the runtime: a second callback would be in by now */
    CHECK(w.sync.calls == 1, "callback called %d times", w.sync.calls);
    waiter_sync_destroy(&w.sync);

    runbeam_token_store_free(store);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s <runbeam-devcloud>\n", argv[0]);
        return 2;
    }
    unsetenv("RUNBEAM_ENCRYPTION_KEY");
    unsetenv("RUNBEAM_MACHINE_TOKEN");
    unsetenv("RUNBEAM_TOKEN_STORE");

    test_machine_token();

    char root[] = "/tmp/runbeam-c-storage-XXXXXX";
    if (mkdtemp(root) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    test_file_store(root);
    test_user_token_storage(root);
    test_file_store_with_key(root);
    test_store_async(root);
    remove_tree(root);
    test_memory_store();
    test_user_token();

    if (devcloud_start(argv[1]) != 0) {
        fprintf(stderr, "cannot start %s\n", argv[1]);
        devcloud_stop();
        return 2;
    }
    test_manager();
    devcloud_stop();
    return check_summary();
}
