/*
 * C test of the OS keyring token store (docs/spec.md §5.2) against a real Secret Service
 * (gnome-keyring-daemon): runbeam_token_store_open("keyring") reports the keyring backend and
 * saves, loads, replaces and deletes a machine token there.
 *
 * Not part of `make c-test`: `make keyring-test` runs it (under AddressSanitizer + UBSan and
 * under valgrind) inside `dbus-run-session -- bash scripts/with-keyring.sh`, which sets
 * RUNBEAM_TEST_SECRET_SERVICE=1. Without that variable it fails at once saying how to run it.
 *
 * Usage: test_keyring
 * Prints one line per failed check and ends with "N passed, N failed".
 */
#define _POSIX_C_SOURCE 200809L

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "runbeam.h"

#define SECRET "mt-KEYRING-c-2d8e41b7-do-not-leak"
#define SECRET2 "mt-KEYRING-c-2d8e41b7-second"

static const char *or_null(const char *s) { return s ? s : "(null)"; }
static const char *last(void) { return runbeam_last_error_message(); }

int main(void) {
    const char *env = getenv("RUNBEAM_TEST_SECRET_SERVICE");
    if (env == NULL || strcmp(env, "1") != 0) {
        fprintf(stderr, "test_keyring needs a Secret Service: run it with\n"
                        "  dbus-run-session -- bash scripts/with-keyring.sh build/c/test_keyring\n"
                        "(make keyring-test does)\n");
        return 2;
    }
    unsetenv("RUNBEAM_MACHINE_TOKEN");
    unsetenv("RUNBEAM_TOKEN_STORE");

    char instance[64];
    snprintf(instance, sizeof instance, "c-kr-%ld", (long)getpid());

    runbeam_token_store *store = NULL;
    CHECK(runbeam_token_store_open("keyring", &store) == RUNBEAM_OK, "open(keyring): %s", last());
    CHECK(store != NULL, "no store");
    CHECK(strcmp(runbeam_token_store_backend(store), "keyring") == 0, "backend: %s",
          runbeam_token_store_backend(store));

    runbeam_machine_token *loaded = NULL;
    CHECK(runbeam_token_store_load_machine_token(store, instance, &loaded) == RUNBEAM_OK, "%s",
          last());
    CHECK(loaded == NULL, "nothing stored yet");

    runbeam_machine_token *t = NULL;
    CHECK(runbeam_machine_token_new(SECRET, "2099-01-01T00:00:00Z", "gw-c-kr", &t) == RUNBEAM_OK,
          "%s", last());
    CHECK(runbeam_token_store_save_machine_token(store, instance, t) == RUNBEAM_OK, "save: %s",
          last());
    runbeam_machine_token_free(t);

    CHECK(runbeam_token_store_load_machine_token(store, instance, &loaded) == RUNBEAM_OK,
          "load: %s", last());
    CHECK(loaded != NULL, "the token is stored");
    CHECK(strcmp(or_null(runbeam_machine_token_secret(loaded)), SECRET) == 0, "secret");
    CHECK(strcmp(or_null(runbeam_machine_token_gateway_id(loaded)), "gw-c-kr") == 0,
          "gateway id %s", or_null(runbeam_machine_token_gateway_id(loaded)));
    CHECK(strcmp(or_null(runbeam_machine_token_expires_at_rfc3339(loaded)),
                 "2099-01-01T00:00:00Z") == 0,
          "expires_at %s", or_null(runbeam_machine_token_expires_at_rfc3339(loaded)));
    runbeam_machine_token_free(loaded);
    loaded = NULL;

    /* A second handle (a new connection) sees the same entry; a save replaces it. */
    runbeam_token_store *other = NULL;
    CHECK(runbeam_token_store_open("keyring", &other) == RUNBEAM_OK, "%s", last());
    t = NULL;
    CHECK(runbeam_machine_token_new(SECRET2, "2099-01-02 00:00:00", "gw-c-kr", &t) == RUNBEAM_OK,
          "%s", last());
    CHECK(runbeam_token_store_save_machine_token(other, instance, t) == RUNBEAM_OK, "%s", last());
    runbeam_machine_token_free(t);
    CHECK(runbeam_token_store_load_machine_token(store, instance, &loaded) == RUNBEAM_OK, "%s",
          last());
    CHECK(loaded != NULL && strcmp(or_null(runbeam_machine_token_secret(loaded)), SECRET2) == 0,
          "replaced");
    runbeam_machine_token_free(loaded);
    loaded = NULL;
    runbeam_token_store_free(other);

    /* Auto picks the working keyring. */
    runbeam_token_store *auto_store = NULL;
    CHECK(runbeam_token_store_open("auto", &auto_store) == RUNBEAM_OK, "%s", last());
    CHECK(strcmp(runbeam_token_store_backend(auto_store), "keyring") == 0, "auto: %s",
          runbeam_token_store_backend(auto_store));
    runbeam_token_store_free(auto_store);

    /* Delete: true once, then false; nothing left. */
    bool existed = false;
    CHECK(runbeam_token_store_delete(store, instance, "auth", &existed) == RUNBEAM_OK,
          "delete: %s", last());
    CHECK(existed, "the slot held the token");
    CHECK(runbeam_token_store_delete(store, instance, "auth", &existed) == RUNBEAM_OK,
          "%s", last());
    CHECK(!existed, "deleted already");
    CHECK(runbeam_token_store_load_machine_token(store, instance, &loaded) == RUNBEAM_OK, "%s",
          last());
    CHECK(loaded == NULL, "gone");

    /* A bad id is refused before the keyring is touched; the message never leaks a token. */
    CHECK(runbeam_token_store_load_machine_token(store, "../x", &loaded) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT,
          "bad id");
    CHECK(strstr(last(), SECRET) == NULL, "leak: %s", last());

    runbeam_token_store_free(store);
    return check_summary();
}
