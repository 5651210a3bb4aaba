/*
 * A runbeam-devcloud subprocess for the C test suites and benchmarks, a minimal HTTP/1.1
 * client over a plain socket for its /_dev endpoints (faults, counters), and small helpers
 * (clock, sleep, JSON string lookup). One devcloud per program: `devcloud_start()` sets
 * `api_url` ("http://127.0.0.1:PORT") and `api_port`.
 *
 * Needs _POSIX_C_SOURCE >= 200809L before the first #include of the program.
 */
#ifndef RUNBEAM_TESTS_DEVCLOUD_H
#define RUNBEAM_TESTS_DEVCLOUD_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t devcloud_pid = -1;
static char api_url[256];
static int api_port;

/* Starts `binary --listen 127.0.0.1:0` and reads its URL from the first stdout line.
 * Returns 0 on success. */
static inline int devcloud_start(const char *binary) {
    int fds[2];
    if (pipe(fds) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        FILE *null = freopen("/dev/null", "w", stderr);
        (void)null;
        execl(binary, binary, "--listen", "127.0.0.1:0", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    devcloud_pid = pid;
    FILE *out = fdopen(fds[0], "r");
    if (out == NULL) return -1;
    char line[256] = {0};
    char *got = fgets(line, sizeof line, out);
    fclose(out);
    if (got == NULL) return -1;
    line[strcspn(line, "\r\n")] = '\0';
    snprintf(api_url, sizeof api_url, "%s", line);
    if (sscanf(api_url, "http://127.0.0.1:%d", &api_port) != 1) return -1;
    return 0;
}

/* Stops the devcloud (SIGTERM) and reaps it. */
static inline void devcloud_stop(void) {
    if (devcloud_pid > 0) {
        kill(devcloud_pid, SIGTERM);
        int status = 0;
        waitpid(devcloud_pid, &status, 0);
        devcloud_pid = -1;
    }
}

/* A connected TCP socket to the devcloud, or -1. */
static inline int devcloud_connect(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)api_port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One HTTP/1.1 request to the devcloud on a fresh connection (`Connection: close`).
 * `body` may be NULL (no body). When `response` is not NULL it receives the whole answer,
 * headers included, NUL-terminated and truncated to `len`. Returns the status code or -1. */
static inline int dev_request(const char *method, const char *path, const char *body,
                              char *response, size_t len) {
    int fd = devcloud_connect();
    if (fd < 0) return -1;
    char request[2048];
    int n = snprintf(request, sizeof request,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     method, path, api_port, body ? strlen(body) : 0, body ? body : "");
    if (n < 0 || (size_t)n >= sizeof request) {
        close(fd);
        return -1;
    }
    ssize_t sent = 0;
    while (sent < n) {
        ssize_t w = write(fd, request + sent, (size_t)(n - sent));
        if (w <= 0) break;
        sent += w;
    }
    char local[1024];
    char *buf = response != NULL && len > 0 ? response : local;
    size_t cap = buf == local ? sizeof local : len;
    size_t got = 0;
    /* Read to the end (the server closes); keep only what fits. */
    for (;;) {
        char chunk[4096];
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r <= 0) break;
        size_t keep = (size_t)r;
        if (got + keep > cap - 1) keep = cap - 1 - got;
        memcpy(buf + got, chunk, keep);
        got += keep;
    }
    close(fd);
    buf[got] = '\0';
    int status = -1;
    if (sscanf(buf, "HTTP/1.1 %d", &status) != 1) return -1;
    return status;
}

/* POST to a /_dev endpoint; returns the status code (201 for an injected fault). */
static inline int dev_post(const char *path, const char *body) {
    return dev_request("POST", path, body, NULL, 0);
}

/* DELETE a /_dev collection ("/_dev/faults", "/_dev/counters"); returns the status code. */
static inline int dev_delete(const char *path) {
    return dev_request("DELETE", path, NULL, NULL, 0);
}

/* How many `"<METHOD> <path>"` requests the devcloud served since the last
 * `dev_delete("/_dev/counters")` (GET /_dev/counters); -1 if the counters cannot be read. */
static inline long dev_count(const char *key) {
    char response[16384];
    if (dev_request("GET", "/_dev/counters", NULL, response, sizeof response) != 200) return -1;
    char pattern[256];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *p = strstr(response, pattern);
    if (p == NULL) return 0;
    return strtol(p + strlen(pattern), NULL, 10);
}

/* ------------------------------------------------------------ small helpers of the suites */

/* Monotonic seconds. */
static inline double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Copies the string value of `"key":"` in compact JSON into `buf` (empty if absent). */
static inline void json_string(const char *json, const char *key, char *buf, size_t len) {
    char pattern[128];
    buf[0] = '\0';
    if (json == NULL) return;
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char *p = strstr(json, pattern);
    if (p == NULL) return;
    p += strlen(pattern);
    size_t n = 0;
    while (p[n] != '\0' && p[n] != '"' && n + 1 < len) n++;
    memcpy(buf, p, n);
    buf[n] = '\0';
}

#endif
