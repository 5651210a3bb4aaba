/*
 * A C gateway on libmicrohttpd that carries real requests across the Runbeam mesh, with
 * libcurl for the outbound call (docs/edge.md). One program, two roles:
 *
 *   mesh_gateway ingress CONFIG CLOUD_URL            radiology-dept's gateway: serves
 *       GET /studies and /studies/<uid> (QIDO-RS-like application/dicom+json) behind the mesh
 *       guard of mesh `imaging-integration`: runbeam_resolver_verify_mesh_request() with the
 *       served URL = its own address + the request path (its address is its public URL here:
 *       the demo registers it as the URL of the ingress `dicomweb` in Runbeam Cloud).
 *
 *   mesh_gateway egress CONFIG CLOUD_URL [--watch]   ai-analytics' gateway: checks the user's
 *       JWT (runbeam_validator_authenticate(), issuer CLOUD_URL/api), then forwards
 *       GET /imaging/<rest> to runbeam.radiology-dept.ingress.name.dicomweb and
 *       GET /pacs/<rest> to runbeam.radiology-dept.ingress.name.pacs (outside every mesh of
 *       the configuration: refused 403 by the SDK) with runbeam_resolver_outbound() and
 *       libcurl, relaying the answer's status, Content-Type and body. With --watch the
 *       resolver follows the Cloud's change feed and every event is printed.
 *
 * Both answer GET /healthz without a token. Every failure of a librunbeam check is answered
 * with runbeam_refusal_from_last_error(): 401 + WWW-Authenticate for a bad token, 403 outside
 * the mesh, 400 for a path that would leave the resource, 503 + Retry-After when the Cloud
 * cannot be reached — never a 500. An upstream that cannot be reached is the gateway's own
 * 502 (504 when it does not answer within the deadline).
 *
 * CONFIG is a gateway TOML file (examples/config/ai-analytics.toml, radiology-dept.toml):
 * its provider `runbeam` is pointed at CLOUD_URL and its `[proxy] id` is the gateway code.
 * Environment: RUNBEAM_HOME (the encrypted token files; a temporary directory, removed at
 * exit, when unset), RUNBEAM_SANCTUM_TOKEN (the credential that authorizes the gateway; the
 * egress defaults to the devcloud's seeded token of bob, the ingress needs none: verifying
 * needs only the Cloud's public keys).
 *
 * Listens on 127.0.0.1 on a port the OS picks, prints `listening http://127.0.0.1:PORT` once
 * ready, then one line per request (never a token); stops cleanly on SIGTERM or SIGINT.
 * Exit status: 0 after a clean stop, 1 when it cannot start, 2 on usage.
 *
 *   make c-examples && build/c/mesh_gateway egress examples/config/ai-analytics.toml \
 *       http://127.0.0.1:PORT
 *
 * Threads: libmicrohttpd runs one thread per client connection, so the blocking librunbeam
 * calls are fine there — with the keys, the resolution and the mesh token cached they answer
 * on the calling thread without I/O (the cost of each is in BENCHMARKS.md); a cold call waits
 * for the Cloud within the client's deadline. Each connection keeps its own libcurl handle,
 * so keep-alive connections to the partner are reused.
 */
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <ftw.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runbeam.h"

#define TAG "[C]"
#define MESH "imaging-integration"
#define DICOMWEB "runbeam.radiology-dept.ingress.name.dicomweb"
#define PACS "runbeam.radiology-dept.ingress.name.pacs"
#define BOB_SANCTUM "2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f"

/* Deadlines: of one Runbeam Cloud call (retries included), of one upstream request, of its
 * connection, and how long an idle client connection stays open. */
#define CLOUD_DEADLINE_MS 10000
#define UPSTREAM_TIMEOUT_MS 10000L
#define UPSTREAM_CONNECT_TIMEOUT_MS 3000L
#define CLIENT_IDLE_SECS 30
#define MAX_CONNECTIONS 256
/* The largest upstream answer relayed; a larger one is a 502. */
#define MAX_UPSTREAM_BODY (16u << 20)

/* ------------------------------------------------------------------------------ the gateway */

enum role { INGRESS, EGRESS };

static struct {
    enum role role;
    runbeam_resolver *resolver;
    runbeam_validator *validator; /* egress: the user JWT check */
    char public_url[64];          /* ingress: http://127.0.0.1:PORT, its served base URL */
    char *studies_json;           /* ingress: the answer of GET /studies */
} gw;

/* One line on stdout, whole (request threads print concurrently). */
static void out_line(const char *format, ...) {
    va_list args;
    va_start(args, format);
    flockfile(stdout);
    vprintf(format, args);
    putchar('\n');
    fflush(stdout);
    funlockfile(stdout);
    va_end(args);
}

/* The path part of a request target for a log line: at most 200 bytes, without the query
 * (it may carry anything), bytes that are not printable ASCII shown as '?'. */
static void printable_path(const char *target, char *buf, size_t len) {
    size_t n = 0;
    for (; target[n] != '\0' && target[n] != '?' && n + 1 < len && n < 200; n++) {
        unsigned char c = (unsigned char)target[n];
        buf[n] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    buf[n] = '\0';
}

/* The same for text from a token or the Cloud (claims, messages): one line, printable. */
static void printable(const char *text, char *buf, size_t len) {
    size_t n = 0;
    for (; text != NULL && text[n] != '\0' && n + 1 < len; n++) {
        unsigned char c = (unsigned char)text[n];
        buf[n] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    buf[n] = '\0';
}

/* ------------------------------------------------------------------------- HTTP plumbing */

/* One request: its target exactly as received (path and query, not percent-decoded: what
 * runbeam_join_path() and runbeam_resolver_outbound() check), from libmicrohttpd's URI
 * callback. */
struct request {
    char *target;
    bool headers_done;
};

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *connection) {
    (void)cls;
    (void)connection;
    struct request *req = calloc(1, sizeof *req);
    if (req != NULL && (req->target = strdup(uri)) == NULL) {
        free(req);
        req = NULL;
    }
    return req; /* NULL: out of memory, the connection is closed */
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **req_cls,
                         enum MHD_RequestTerminationCode why) {
    (void)cls;
    (void)connection;
    (void)why;
    struct request *req = *req_cls;
    if (req != NULL) {
        free(req->target);
        free(req);
        *req_cls = NULL;
    }
}

/* Queues `body` (`mode` says who owns it) with `status` and `content_type`, and optional
 * extra header pairs (name, value, …, NULL). */
static enum MHD_Result send_body(struct MHD_Connection *c, unsigned status,
                                 const char *content_type, void *body, size_t len,
                                 enum MHD_ResponseMemoryMode mode, ...) {
    struct MHD_Response *res = MHD_create_response_from_buffer(len, body, mode);
    if (res == NULL) {
        if (mode == MHD_RESPMEM_MUST_FREE) free(body);
        return MHD_NO; /* out of memory: libmicrohttpd closes the connection */
    }
    if (content_type != NULL) MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    va_list headers;
    va_start(headers, mode);
    for (const char *name; (name = va_arg(headers, const char *)) != NULL;) {
        const char *value = va_arg(headers, const char *);
        if (value != NULL) MHD_add_response_header(res, name, value);
    }
    va_end(headers);
    enum MHD_Result queued = MHD_queue_response(c, status, res);
    MHD_destroy_response(res);
    return queued;
}

/* A fixed JSON answer of the gateway itself. */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, const char *json) {
    return send_body(c, status, "application/json", (void *)json, strlen(json),
                     MHD_RESPMEM_PERSISTENT, NULL);
}

/* The answer to the librunbeam check that just failed at `stage`: the SDK's status, headers
 * and body. The error's message goes to stderr for the operator when the gateway cannot
 * serve (a 503); the client never sees it. `note` gets the error kind for the request line. */
static enum MHD_Result refuse(struct MHD_Connection *c, runbeam_stage stage, unsigned *status,
                              const char **note) {
    runbeam_refusal r;
    if (runbeam_refusal_from_last_error(stage, &r) != RUNBEAM_OK) {
        /* Cannot happen after a failed call; still an answer, not a crash. */
        *status = MHD_HTTP_SERVICE_UNAVAILABLE;
        *note = "no error to answer";
        return send_json(c, *status, "{\"error\":\"unavailable\"}");
    }
    if (r.status == MHD_HTTP_SERVICE_UNAVAILABLE) {
        char message[512];
        printable(runbeam_last_error_message(), message, sizeof message);
        fprintf(stderr, TAG " unavailable (%s): %s\n", r.kind, message);
    }
    char retry_after[24] = "";
    if (r.retry_after_secs > 0)
        snprintf(retry_after, sizeof retry_after, "%llu", (unsigned long long)r.retry_after_secs);
    *status = r.status;
    *note = r.kind;
    return send_body(c, r.status, r.content_type, (void *)r.body, strlen(r.body),
                     MHD_RESPMEM_PERSISTENT, MHD_HTTP_HEADER_WWW_AUTHENTICATE, r.www_authenticate,
                     MHD_HTTP_HEADER_RETRY_AFTER, r.retry_after_secs > 0 ? retry_after : NULL,
                     NULL);
}

/* The path part of `target` equals `path` (any query). */
static bool path_is(const char *target, const char *path) {
    size_t n = strlen(path);
    return strncmp(target, path, n) == 0 && (target[n] == '\0' || target[n] == '?');
}

/* ---------------------------------------------------------------------- ingress: /studies */

struct study {
    const char *uid, *modality, *patient, *date;
};

static const struct study STUDIES[] = {
    {"1.2.826.0.1.3680043.8.498.10001", "CT", "RAD-0001", "20240115"},
    {"1.2.826.0.1.3680043.8.498.10002", "MR", "RAD-0002", "20240203"},
    {"1.2.826.0.1.3680043.8.498.10003", "CR", "RAD-0001", "20240311"},
};
#define STUDY_COUNT (sizeof STUDIES / sizeof STUDIES[0])

/* One study as a DICOM JSON object (PS3.18 F.2): StudyInstanceUID, ModalitiesInStudy,
 * PatientID, StudyDate. */
static int study_json(const struct study *s, char *buf, size_t len) {
    return snprintf(buf, len,
                    "{\"0020000D\":{\"vr\":\"UI\",\"Value\":[\"%s\"]},"
                    "\"00080061\":{\"vr\":\"CS\",\"Value\":[\"%s\"]},"
                    "\"00100020\":{\"vr\":\"LO\",\"Value\":[\"%s\"]},"
                    "\"00080020\":{\"vr\":\"DA\",\"Value\":[\"%s\"]}}",
                    s->uid, s->modality, s->patient, s->date);
}

static char *all_studies_json(void) {
    size_t cap = 2 + STUDY_COUNT * 512, used = 0;
    char *json = malloc(cap);
    if (json == NULL) return NULL;
    json[used++] = '[';
    for (size_t i = 0; i < STUDY_COUNT; i++) {
        if (i > 0) json[used++] = ',';
        used += (size_t)study_json(&STUDIES[i], json + used, cap - used);
    }
    json[used++] = ']';
    json[used] = '\0';
    return json;
}

/* `sub` and the `source_team` claim of a verified mesh token, for the request line. */
static void caller_of(const runbeam_claims *claims, char *buf, size_t len) {
    char *team_json = NULL, sub[128], team[128] = "-";
    printable(runbeam_claims_sub(claims), sub, sizeof sub);
    if (runbeam_claims_get_json(claims, "source_team", &team_json) == RUNBEAM_OK &&
        team_json != NULL) {
        size_t n = strlen(team_json);
        if (n >= 2 && team_json[0] == '"') { /* a string claim comes quoted */
            team_json[n - 1] = '\0';
            printable(team_json + 1, team, sizeof team);
        }
    }
    runbeam_string_free(team_json);
    snprintf(buf, len, "from %s, team %s", sub[0] ? sub : "-", team);
}

static enum MHD_Result serve_ingress(struct MHD_Connection *c, const char *target,
                                     unsigned *status, const char **note, char *caller,
                                     size_t caller_len) {
    /* The mesh guard: the token must be for this mesh and for the URL being served. */
    const char *authorization =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    char *served = NULL;
    runbeam_claims *claims = NULL;
    if (runbeam_join_path(gw.public_url, target, &served) != RUNBEAM_OK ||
        runbeam_resolver_verify_mesh_request(gw.resolver, authorization, MESH, served,
                                             &claims) != RUNBEAM_OK) {
        runbeam_string_free(served);
        return refuse(c, RUNBEAM_STAGE_MESH_TOKEN, status, note);
    }
    runbeam_string_free(served);
    caller_of(claims, caller, caller_len);
    runbeam_claims_free(claims);

    if (path_is(target, "/studies")) {
        *status = MHD_HTTP_OK;
        return send_body(c, *status, "application/dicom+json", gw.studies_json,
                         strlen(gw.studies_json), MHD_RESPMEM_PERSISTENT, NULL);
    }
    const char *prefix = "/studies/";
    if (strncmp(target, prefix, strlen(prefix)) == 0) {
        const char *uid = target + strlen(prefix);
        for (size_t i = 0; i < STUDY_COUNT; i++) {
            if (path_is(uid, STUDIES[i].uid)) {
                char json[600];
                int n = study_json(&STUDIES[i], json + 1, sizeof json - 2);
                json[0] = '[';
                json[n + 1] = ']';
                *status = MHD_HTTP_OK;
                return send_body(c, *status, "application/dicom+json", json, (size_t)n + 2,
                                 MHD_RESPMEM_MUST_COPY, NULL);
            }
        }
    }
    *status = MHD_HTTP_NOT_FOUND;
    return send_json(c, *status, "{\"error\":\"not_found\"}");
}

/* ------------------------------------------------------------------ egress: the upstream */

/* The libcurl handle of one client connection (MHD_OPTION_NOTIFY_CONNECTION): its
 * connections to the partner are kept alive between that client's requests. */
struct conn {
    CURL *curl;
};

static void on_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    (void)cls;
    (void)connection;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = calloc(1, sizeof(struct conn)); /* NULL: a handle per request */
    } else if (*socket_context != NULL) {
        struct conn *conn = *socket_context;
        if (conn->curl != NULL) curl_easy_cleanup(conn->curl);
        free(conn);
        *socket_context = NULL;
    }
}

struct upstream_body {
    char *data;
    size_t len, cap;
    bool too_big;
};

static size_t on_upstream_data(char *data, size_t size, size_t count, void *user) {
    struct upstream_body *b = user;
    size_t n = size * count;
    if (n > MAX_UPSTREAM_BODY - b->len) {
        b->too_big = true;
        return 0; /* stops the transfer */
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 16384;
        while (cap < b->len + n + 1) cap *= 2;
        char *grown = realloc(b->data, cap);
        if (grown == NULL) return 0;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return n;
}

/* Sends the request `out` describes and relays the answer; 502 (504 on the deadline) when
 * the upstream cannot be reached or answers too much. */
static enum MHD_Result forward(struct MHD_Connection *c, const runbeam_outbound *out,
                               unsigned *status, const char **note) {
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct conn *conn = info != NULL ? info->socket_context : NULL;
    CURL *curl = conn != NULL ? conn->curl : NULL;
    if (curl == NULL) curl = curl_easy_init();
    if (curl == NULL) {
        *status = MHD_HTTP_BAD_GATEWAY;
        *note = "curl_easy_init failed";
        return send_json(c, *status, "{\"error\":\"bad_gateway\"}");
    }
    if (conn != NULL) conn->curl = curl;
    curl_easy_reset(curl); /* keeps the connection cache */

    /* The mesh token's header: copied into libcurl's list, and the local copy wiped. */
    char header[16384];
    int n = snprintf(header, sizeof header, "Authorization: %s",
                     runbeam_outbound_authorization_secret(out));
    struct curl_slist *headers =
        n > 0 && (size_t)n < sizeof header ? curl_slist_append(NULL, header) : NULL;
    explicit_bzero(header, sizeof header);

    struct upstream_body body = {0};
    curl_easy_setopt(curl, CURLOPT_URL, runbeam_outbound_url(out));
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, UPSTREAM_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, UPSTREAM_TIMEOUT_MS);
    /* The mesh token is for this URL only: never follow a redirect, never leave http(s). */
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "runbeam-mesh-gateway-c");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_upstream_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);

    CURLcode sent = headers != NULL ? curl_easy_perform(curl) : CURLE_OUT_OF_MEMORY;
    curl_slist_free_all(headers);
    long code = 0;
    char *content_type = NULL, type[256] = "";
    if (sent == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &content_type);
        if (content_type != NULL) printable(content_type, type, sizeof type);
    }
    if (conn == NULL) curl_easy_cleanup(curl);

    if (sent != CURLE_OK || body.too_big || code < 100 || code > 599) {
        free(body.data);
        const char *why = body.too_big ? "answer too large" : curl_easy_strerror(sent);
        char base[256];
        printable(runbeam_outbound_base_url(out), base, sizeof base);
        fprintf(stderr, TAG " upstream %s: %s\n", base, why);
        *note = why;
        if (sent == CURLE_OPERATION_TIMEDOUT) {
            *status = MHD_HTTP_GATEWAY_TIMEOUT;
            return send_json(c, *status, "{\"error\":\"gateway_timeout\"}");
        }
        *status = MHD_HTTP_BAD_GATEWAY;
        return send_json(c, *status, "{\"error\":\"bad_gateway\"}");
    }
    *status = (unsigned)code;
    if (runbeam_outbound_is_stale(out)) *note = "stale resolution";
    if (body.data == NULL) return send_body(c, *status, type[0] ? type : NULL, (void *)"", 0,
                                            MHD_RESPMEM_PERSISTENT, NULL);
    return send_body(c, *status, type[0] ? type : NULL, body.data, body.len,
                     MHD_RESPMEM_MUST_FREE, NULL);
}

/* `/imaging/<rest>` → (DICOMWEB, "/<rest>"), `/pacs/<rest>` → (PACS, "/<rest>"), queries
 * kept; NULL for any other target. The path returned is new (free it). */
static char *route_egress(const char *target, const char **reference) {
    static const struct {
        const char *prefix, *reference;
    } routes[] = {{"/imaging", DICOMWEB}, {"/pacs", PACS}};
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        size_t n = strlen(routes[i].prefix);
        if (strncmp(target, routes[i].prefix, n) != 0) continue;
        const char *rest = target + n;
        if (rest[0] != '\0' && rest[0] != '/' && rest[0] != '?') continue; /* /imagingX */
        char *path = malloc(strlen(rest) + 2);
        if (path == NULL) return NULL;
        snprintf(path, strlen(rest) + 2, "%s%s", rest[0] == '/' ? "" : "/", rest);
        *reference = routes[i].reference;
        return path;
    }
    return NULL;
}

static enum MHD_Result serve_egress(struct MHD_Connection *c, const char *target,
                                    unsigned *status, const char **note) {
    /* The user's JWT: 401 + WWW-Authenticate without a valid one, 503 without the keys. */
    const char *authorization =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    runbeam_claims *user = NULL;
    if (runbeam_validator_authenticate(gw.validator, authorization, &user) != RUNBEAM_OK)
        return refuse(c, RUNBEAM_STAGE_USER_TOKEN, status, note);
    runbeam_claims_free(user);

    const char *reference = NULL;
    char *path = route_egress(target, &reference);
    if (path == NULL) {
        *status = MHD_HTTP_NOT_FOUND;
        return send_json(c, *status, "{\"error\":\"not_found\"}");
    }
    /* Where to send it, with the mesh token: 403 outside the mesh, 400 for a path that would
     * leave the resource, 503 when the Cloud cannot be reached and nothing is cached. */
    runbeam_outbound *out = NULL;
    runbeam_status s = runbeam_resolver_outbound(gw.resolver, reference, path, &out);
    free(path);
    if (s != RUNBEAM_OK) return refuse(c, RUNBEAM_STAGE_OUTBOUND, status, note);
    enum MHD_Result queued = forward(c, out, status, note);
    runbeam_outbound_free(out); /* zeroizes its copy of the header */
    return queued;
}

/* ------------------------------------------------------------------------ request handler */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls) {
    (void)cls;
    (void)url; /* percent-decoded by libmicrohttpd: the raw target is req->target */
    (void)version;
    (void)upload_data;
    struct request *req = *req_cls;
    if (req == NULL) return MHD_NO;
    if (!req->headers_done) { /* first call: the headers are in */
        req->headers_done = true;
        return MHD_YES;
    }
    if (*upload_data_size != 0) { /* a body on a GET: read and ignored */
        *upload_data_size = 0;
        return MHD_YES;
    }

    unsigned status = 0;
    const char *note = NULL;
    char caller[300] = "";
    enum MHD_Result queued;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        queued = send_body(c, status, "application/json", (void *)"{\"error\":\"method_not_allowed\"}",
                           strlen("{\"error\":\"method_not_allowed\"}"), MHD_RESPMEM_PERSISTENT,
                           MHD_HTTP_HEADER_ALLOW, "GET, HEAD", NULL);
    } else if (path_is(req->target, "/healthz")) {
        status = MHD_HTTP_OK;
        queued = send_json(c, status, "{\"status\":\"ok\"}");
    } else if (gw.role == INGRESS) {
        queued = serve_ingress(c, req->target, &status, &note, caller, sizeof caller);
    } else {
        queued = serve_egress(c, req->target, &status, &note);
    }

    char path[256];
    printable_path(req->target, path, sizeof path);
    if (caller[0] != '\0')
        out_line(TAG " %s %s -> %u (%s)", method, path, status, caller);
    else if (note != NULL)
        out_line(TAG " %s %s -> %u (%s)", method, path, status, note);
    else
        out_line(TAG " %s %s -> %u", method, path, status);
    return queued;
}

/* ------------------------------------------------------------------------------- watching */

static void on_watch_event(void *user_data, const runbeam_watch_event *e) {
    (void)user_data;
    char message[512];
    printable(e->message, message, sizeof message);
    if (e->kind == RUNBEAM_WATCH_POLL_FAILED)
        out_line(TAG " watcher: %s (%s): %s", e->kind_name, e->error_kind, message);
    else
        out_line(TAG " watcher: %s change %s (%s %s): %s", e->kind_name, e->change_id,
                 e->change_type, e->action, message);
}

/* ------------------------------------------------------------------------------- start-up */

static int fail(const char *what) {
    char message[1024];
    printable(runbeam_last_error_message(), message, sizeof message);
    fprintf(stderr, TAG " error: %s: %s: %s\n", what, runbeam_last_error_kind(), message);
    return 1;
}

/* The gateway code: the `id` of the `[proxy]` table of the TOML file at `path`. librunbeam
 * reads the mesh part of the file; this line scan reads the one other key the example needs
 * (a table header `[proxy]`, then `id = "<code>"`). */
static bool gateway_code(const char *path, char *code, size_t len) {
    FILE *f = fopen(path, "r");
    if (f == NULL) return false;
    char line[1024];
    bool in_proxy = false, found = false;
    while (!found && fgets(line, sizeof line, f) != NULL) {
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '[') {
            in_proxy = strncmp(p, "[proxy]", 7) == 0;
            continue;
        }
        if (!in_proxy || strncmp(p, "id", 2) != 0) continue;
        p += 2;
        while (*p == ' ' || *p == '\t') p++;
        if (*p++ != '=') continue;
        while (*p == ' ' || *p == '\t') p++;
        if (*p++ != '"') continue;
        size_t n = 0;
        while (p[n] != '"' && p[n] != '\0' && n + 1 < len &&
               (isalnum((unsigned char)p[n]) || strchr("._-", p[n]) != NULL))
            n++;
        if (p[n] == '"' && n > 0) {
            memcpy(code, p, n);
            code[n] = '\0';
            found = true;
        }
    }
    fclose(f);
    return found;
}

/* `path` with its provider `runbeam` pointed at `cloud_url`, validated (problems printed). */
static runbeam_mesh_config *load_config(const char *path, const char *cloud_url) {
    runbeam_mesh_config *file = NULL, *config = NULL;
    if (runbeam_mesh_config_from_file(path, &file) != RUNBEAM_OK) {
        fail(path);
        return NULL;
    }
    if (runbeam_mesh_config_with_provider_api(file, "runbeam", cloud_url, &config) != RUNBEAM_OK)
        fail("pointing the configuration at the Cloud");
    runbeam_mesh_config_free(file);
    if (config == NULL) return NULL;
    runbeam_problem_list *problems = NULL;
    size_t n = 0;
    if (runbeam_mesh_config_validate(config, &problems) == RUNBEAM_OK)
        n = runbeam_problem_list_count(problems);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, TAG " %s: %s: %s\n", path, runbeam_problem_list_path(problems, i),
                runbeam_problem_list_message(problems, i));
    runbeam_problem_list_free(problems);
    if (n > 0) {
        runbeam_mesh_config_free(config);
        return NULL;
    }
    return config;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int usage(const char *argv0) {
    fprintf(stderr,
            "usage: %s ingress CONFIG CLOUD_URL\n"
            "       %s egress CONFIG CLOUD_URL [--watch]\n",
            argv0, argv0);
    return 2;
}

int main(int argc, char **argv) {
    if (argc < 4) return usage(argv[0]);
    bool watch = false;
    if (strcmp(argv[1], "ingress") == 0 && argc == 4) {
        gw.role = INGRESS;
    } else if (strcmp(argv[1], "egress") == 0 && (argc == 4 || argc == 5)) {
        gw.role = EGRESS;
        if (argc == 5 && !(watch = strcmp(argv[4], "--watch") == 0)) return usage(argv[0]);
    } else {
        return usage(argv[0]);
    }
    const char *config_path = argv[2], *cloud_url = argv[3];

    /* SIGTERM and SIGINT are taken by sigwait() below: blocked here, before librunbeam,
     * libmicrohttpd or libcurl start a thread, so that every thread inherits the mask. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    const char *credential = getenv("RUNBEAM_SANCTUM_TOKEN");
    if (credential != NULL && credential[0] == '\0') credential = NULL;
    if (credential == NULL && gw.role == EGRESS) credential = BOB_SANCTUM;
    char temp_home[] = "/tmp/runbeam-mesh-gateway-XXXXXX";
    const char *home = getenv("RUNBEAM_HOME");
    bool own_home = home == NULL || home[0] == '\0';
    if (own_home) {
        if (mkdtemp(temp_home) == NULL) {
            perror(TAG " mkdtemp");
            return 1;
        }
        home = temp_home;
    }
    if (gw.role == EGRESS && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, TAG " error: curl_global_init failed\n");
        return 1;
    }

    int rc = 1;
    char code[128];
    runbeam_mesh_config *config = NULL;
    runbeam_token_store *store = NULL;
    runbeam_token_manager_config *mc = NULL;
    runbeam_token_manager *manager = NULL;
    runbeam_machine_token *machine = NULL;
    runbeam_client_config *cc = NULL;
    runbeam_client *client = NULL;
    runbeam_validator_config *vc = NULL;
    runbeam_watcher *watcher = NULL;
    struct MHD_Daemon *daemon = NULL;

    /* The configuration, the token store and manager, the client and the resolver. */
    if (!gateway_code(config_path, code, sizeof code)) {
        fprintf(stderr, TAG " error: %s has no [proxy] id (the gateway code)\n", config_path);
        goto out;
    }
    if ((config = load_config(config_path, cloud_url)) == NULL) goto out;
    if (runbeam_token_store_file_new(home, &store) != RUNBEAM_OK ||
        runbeam_token_manager_config_new(code, &mc) != RUNBEAM_OK ||
        runbeam_token_manager_config_set_api_url(mc, cloud_url) != RUNBEAM_OK ||
        (credential != NULL &&
         runbeam_token_manager_config_set_credential_token(mc, credential) != RUNBEAM_OK) ||
        runbeam_token_manager_new(mc, store, &manager) != RUNBEAM_OK) {
        rc = fail("the token manager");
        goto out;
    }
    if (runbeam_client_config_new(cloud_url, &cc) != RUNBEAM_OK ||
        runbeam_client_config_set_deadline_ms(cc, CLOUD_DEADLINE_MS) != RUNBEAM_OK ||
        runbeam_client_new(cc, &client) != RUNBEAM_OK) {
        rc = fail("the Runbeam Cloud client");
        goto out;
    }
    if (runbeam_resolver_new(config, client, manager, NULL, &gw.resolver) != RUNBEAM_OK ||
        runbeam_resolver_validate_startup(gw.resolver) != RUNBEAM_OK) {
        rc = fail("the resolver");
        goto out;
    }

    if (gw.role == EGRESS) {
        /* User JWTs: issued by the Cloud's API root, keys from its JWKS. */
        char issuer[1024];
        size_t n = strlen(cloud_url);
        while (n > 0 && cloud_url[n - 1] == '/') n--;
        snprintf(issuer, sizeof issuer, "%.*s/api", (int)n, cloud_url);
        if (runbeam_validator_config_new(&vc) != RUNBEAM_OK ||
            runbeam_validator_config_add_trusted_issuer(vc, issuer) != RUNBEAM_OK ||
            runbeam_validator_new(vc, &gw.validator) != RUNBEAM_OK) {
            rc = fail("the JWT validator");
            goto out;
        }
        /* Warm-up, so that the first requests do not wait: the machine token and the keys.
         * A Cloud that is down now is not fatal: requests get 503 until it is back. */
        if (runbeam_token_manager_ensure_token(manager, &machine) != RUNBEAM_OK)
            fail("warning: no machine token yet");
        if (runbeam_validator_refresh_keys(gw.validator) != RUNBEAM_OK)
            fail("warning: no signing keys yet");
        if (watch && runbeam_resolver_watch(gw.resolver, on_watch_event, NULL, &watcher) != RUNBEAM_OK) {
            rc = fail("the watcher");
            goto out;
        }
    } else if ((gw.studies_json = all_studies_json()) == NULL) {
        fprintf(stderr, TAG " error: out of memory\n");
        goto out;
    }

    /* libmicrohttpd on 127.0.0.1, a port the OS picks, a thread per connection. */
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    daemon = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG, 0,
        NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        NULL, MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CLIENT_IDLE_SECS,
        MHD_OPTION_END);
    const union MHD_DaemonInfo *bound =
        daemon != NULL ? MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (bound == NULL || bound->port == 0) {
        fprintf(stderr, TAG " error: cannot listen on 127.0.0.1\n");
        goto out;
    }
    snprintf(gw.public_url, sizeof gw.public_url, "http://127.0.0.1:%u", (unsigned)bound->port);
    fprintf(stderr, TAG " %s gateway %s (%s%s), Runbeam Cloud %s\n",
            gw.role == INGRESS ? "ingress" : "egress", code,
            gw.role == INGRESS ? "mesh guard of " MESH : "forwarding to " DICOMWEB,
            watch ? ", watching for changes" : "", cloud_url);
    out_line("listening %s", gw.public_url);

    int signal_number = 0;
    while (sigwait(&stop_signals, &signal_number) != 0) {
    }
    fprintf(stderr, TAG " %s: stopping\n", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
    rc = 0;

out:
    /* Requests first (libmicrohttpd joins its threads), then the watcher, then the handles. */
    if (daemon != NULL) MHD_stop_daemon(daemon);
    runbeam_watcher_free(watcher);
    runbeam_validator_free(gw.validator);
    runbeam_validator_config_free(vc);
    runbeam_resolver_free(gw.resolver);
    runbeam_client_free(client);
    runbeam_client_config_free(cc);
    runbeam_machine_token_free(machine);
    runbeam_token_manager_free(manager);
    runbeam_token_manager_config_free(mc);
    runbeam_token_store_free(store);
    runbeam_mesh_config_free(config);
    free(gw.studies_json);
    if (gw.role == EGRESS) curl_global_cleanup();
    if (own_home) nftw(temp_home, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
