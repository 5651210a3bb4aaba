/*
 * C test of the OS keyring token store (docs/spec.md §5.2) against a real Secret Service
 * (gnome-keyring-daemon): runbeam_token_store_open("keyring") reports the keyring backend and
 * saves, loads, replaces and deletes a machine token there, and a user token through the
 * _async forms of the store.
 *
 * Not part of `make c-test`: `make keyring-test` runs it (under AddressSanitizer + UBSan and
 * under valgrind) inside `dbus-run-session -- bash scripts/with-keyring.sh`, which sets
 * RUNBEAM_TEST_SECRET_SERVICE=1. Without that variable it fails at once saying how to run it.
 *
 * Usage: test_keyring
 * Prints one line per failed check and ends with "N passed, N failed".
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "runbeam.h"
#include "waiter.h"

#define SECRET "mt-KEYRING-c-2d8e41b7-do-not-leak"
#define SECRET2 "mt-KEYRING-c-2d8e41b7-second"
#define USER_SECRET "ut-KEYRING-c-93a1f0d2-do-not-leak"

static const char *or_null(const char *s) { return s ? s : "(null)"; }
static const char *last(void) { return runbeam_last_error_message(); }

/* ------------------------------------------------- the _async forms on the real keyring */

struct waiter {
    struct waiter_sync sync;
    runbeam_status status;
    bool value;
    char secret[256];
    char message[512];
};

static void on_user_token(void *user_data, runbeam_status status, runbeam_user_token *token,
                          const char *error_message) {
    struct waiter *w = user_data;
    waiter_sync_lock(&w->sync);
    w->status = status;
    snprintf(w->secret, sizeof w->secret, "%s", or_null(runbeam_user_token_secret(token)));
    snprintf(w->message, sizeof w->message, "%s", or_null(error_message));
    waiter_sync_signal(&w->sync);
    runbeam_user_token_free(token);
}

static void on_status(void *user_data, runbeam_status status, const char *error_message) {
    struct waiter *w = user_data;
    waiter_sync_lock(&w->sync);
    w->status = status;
    snprintf(w->message, sizeof w->message, "%s", or_null(error_message));
    waiter_sync_signal(&w->sync);
}

static void on_bool(void *user_data, runbeam_status status, bool value, const char *error_message) {
    struct waiter *w = user_data;
    waiter_sync_lock(&w->sync);
    w->status = status;
    w->value = value;
    snprintf(w->message, sizeof w->message, "%s", or_null(error_message));
    waiter_sync_signal(&w->sync);
}

/* Starts one call with `w` (reset first); waits for its callback and checks its status. */
#define AWAIT(w, call, want)                                                                  \
    do {                                                                                      \
        memset(&(w), 0, sizeof(w));                                                           \
        waiter_sync_init(&(w).sync);                                                          \
        CHECK((call) == RUNBEAM_OK, "%s: %s", #call, last());                                 \
        CHECK(waiter_sync_wait(&(w).sync, 1, 30) == 1, "%s: no callback", #call);            \
        CHECK((w).status == (want), "%s: %s %s", #call, runbeam_status_str((w).status),      \
              (w).message);                                                                   \
        CHECK(strstr((w).message, USER_SECRET) == NULL, "leak: %s", (w).message);             \
        waiter_sync_destroy(&(w).sync);                                                       \
    } while (0)

/* A user token saved, loaded and deleted through the _async forms (D-Bus calls on the
 * store's blocking threads, never on the caller's). */
static void test_async_user_token(runbeam_token_store *store, const char *instance) {
    struct waiter w;
    runbeam_user_token *t = NULL;
    CHECK(runbeam_user_token_new(USER_SECRET, "2099-01-01T00:00:00Z",
                                 "{\"id\":\"1\",\"email\":\"kr@example.com\",\"name\":\"K\"}",
                                 &t) == RUNBEAM_OK,
          "%s", last());
    AWAIT(w, runbeam_token_store_save_user_token_async(store, instance, t, on_status, &w, NULL), RUNBEAM_OK);
    runbeam_user_token_free(t);
    AWAIT(w, runbeam_token_store_load_user_token_async(store, instance, on_user_token, &w, NULL), RUNBEAM_OK);
    CHECK(strcmp(w.secret, USER_SECRET) == 0, "loaded %s", w.secret);

    /* The blocking form sees the same entry. */
    runbeam_user_token *loaded = NULL;
    CHECK(runbeam_token_store_load_user_token(store, instance, &loaded) == RUNBEAM_OK && loaded != NULL,
          "%s", last());
    CHECK(strstr(or_null(runbeam_user_token_user_json(loaded)), "kr@example.com") != NULL, "user %s",
          or_null(runbeam_user_token_user_json(loaded)));
    runbeam_user_token_free(loaded);

    AWAIT(w, runbeam_token_store_delete_async(store, instance, "user_auth", on_bool, &w, NULL), RUNBEAM_OK);
    CHECK(w.value, "the slot held the user token");
    AWAIT(w, runbeam_token_store_delete_async(store, instance, "user_auth", on_bool, &w, NULL), RUNBEAM_OK);
    CHECK(!w.value, "deleted already");
    AWAIT(w, runbeam_token_store_load_user_token_async(store, instance, on_user_token, &w, NULL), RUNBEAM_OK);
    CHECK(strcmp(w.secret, "(null)") == 0, "gone: %s", w.secret);
}

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

    test_async_user_token(store, instance);

    /* A bad id is refused before the keyring is touched; the message never leaks a token. */
    CHECK(runbeam_token_store_load_machine_token(store, "../x", &loaded) ==
              RUNBEAM_STATUS_INVALID_ARGUMENT,
          "bad id");
    CHECK(strstr(last(), SECRET) == NULL, "leak: %s", last());

    runbeam_token_store_free(store);
    return check_summary();
}
