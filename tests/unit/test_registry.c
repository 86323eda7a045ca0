/*
 * test_registry.c: unit tests of the registry module (the Schema Registry client)
 *
 * Each test runs a tiny HTTP/1.1 server on a loopback port in a thread of its own: it accepts
 * one connection at a time, serves requests on it until the client closes it (so libcurl's
 * keep-alive is real), records method, path, headers and body of each request, and answers with
 * the next canned reply: a status and a body, or closing without an answer, or never answering,
 * or an endless body. The tests then check what the client sent, what it returned and what its
 * errstr says: ids parsed, cache hits that send nothing, basic auth sent and the password never
 * shown, which statuses are REJECTED and which UNAVAILABLE, the subject escaped in the path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "registry.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_EXCHANGES 200   /* requests one server records, replies it holds */

#define SCHEMA "{\"type\":\"record\",\"name\":\"Order\",\"namespace\":\"shop\"," \
               "\"fields\":[{\"name\":\"id\",\"type\":\"string\"}]}"
#define PASSWORD "s3cret-pass"

/* ---- the fake registry ----------------------------------------------------------------- */

enum reply_kind {
    REPLY_NORMAL,   /* status and body */
    REPLY_CLOSE,    /* close the connection without answering */
    REPLY_HANG,     /* never answer (until the client gives up) */
    REPLY_HUGE      /* 200 with a body far above REGISTRY_BODY_MAX */
};

struct reply {
    enum reply_kind kind;
    int status;
    const char *body;
};

struct request {
    char method[16];
    char path[1024];
    char headers[8192];     /* the header lines, CRLF-separated */
    char *body;
};

struct server {
    int listen_fd;
    int wake[2];            /* written to stop the thread */
    uint16_t port;
    pthread_t thread;
    pthread_mutex_t mu;
    struct reply replies[MAX_EXCHANGES];
    size_t n_replies, next_reply;
    struct request requests[MAX_EXCHANGES];
    size_t n_requests;
    int n_connections;
};

/* Waits until fd is readable; 0, or -1 when the server is being stopped. */
static int
wait_readable(struct server *s, int fd)
{
    struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = s->wake[0], .events = POLLIN } };

    for (;;) {
        if (poll(p, 2, -1) < 0)
            return -1;
        if (p[1].revents)
            return -1;
        if (p[0].revents)
            return 0;
    }
}

static int
send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static const char *
reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 302: return "Found";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 409: return "Conflict";
    case 422: return "Unprocessable Entity";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Whatever";
    }
}

/* Sends the reply; -1 when the connection is to be closed. */
static int
send_reply(int fd, const struct reply *rp)
{
    char head[256];
    int n;

    switch (rp->kind) {
    case REPLY_CLOSE:
        return -1;
    case REPLY_HANG:
        return 0;
    case REPLY_HUGE: {
        static char chunk[65536];
        size_t total = 4 * (size_t)REGISTRY_BODY_MAX;

        memset(chunk, ' ', sizeof(chunk));
        n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", total);
        if (send_all(fd, head, (size_t)n) != 0)
            return -1;
        for (size_t sent = 0; sent < total; sent += sizeof(chunk))
            if (send_all(fd, chunk, sizeof(chunk)) != 0)
                return -1;  /* the client gave up, as it should */
        return -1;
    }
    case REPLY_NORMAL:
        break;
    }
    /* head and body in one send: two would meet the client's delayed ACK (40 ms a request) */
    {
        char *msg = NULL;

        n = asprintf(&msg,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\n"
                     "Content-Length: %zu\r\n%s\r\n%s",
                     rp->status, reason(rp->status), strlen(rp->body),
                     rp->status == 302 ? "Location: http://127.0.0.1:1/elsewhere\r\n" : "",
                     rp->body);
        if (n < 0)
            return -1;
        n = send_all(fd, msg, (size_t)n);
        free(msg);
        return n;
    }
}

/* Serves requests on one connection until it closes; -1 when the server is being stopped. */
static int
serve_connection(struct server *s, int fd)
{
    static char buf[4 * 1024 * 1024];
    size_t len = 0;

    for (;;) {
        char *end, *line_end, *cl;
        size_t head_len, body_len = 0;
        struct request *rq;
        struct reply rp = { REPLY_NORMAL, 500,
                            "{\"error_code\":50001,\"message\":\"no canned reply\"}" };
        ssize_t n;

        buf[len] = '\0';
        while (!(end = strstr(buf, "\r\n\r\n"))) {
            if (wait_readable(s, fd) != 0)
                return -1;
            if ((n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) <= 0)
                return 0;
            len += (size_t)n;
            buf[len] = '\0';
        }
        head_len = (size_t)(end - buf) + 4;
        for (cl = buf; (cl = strcasestr(cl, "\r\ncontent-length:")); cl++) {
            body_len = strtoul(cl + 17, NULL, 10);
            break;
        }
        while (len < head_len + body_len) {
            if (wait_readable(s, fd) != 0)
                return -1;
            if ((n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) <= 0)
                return 0;
            len += (size_t)n;
        }

        /* no cmocka asserts here: they longjmp, which only works on the test's own thread */
        pthread_mutex_lock(&s->mu);
        if (s->n_requests == MAX_EXCHANGES) {
            fprintf(stderr, "fake registry: more than %d requests\n", MAX_EXCHANGES);
            abort();
        }
        rq = &s->requests[s->n_requests++];
        line_end = strstr(buf, "\r\n");
        if (sscanf(buf, "%15s %1023s", rq->method, rq->path) != 2) {
            fprintf(stderr, "fake registry: bad request line\n");
            abort();
        }
        snprintf(rq->headers, sizeof(rq->headers), "%.*s", (int)(end - line_end), line_end);
        rq->body = strndup(buf + head_len, body_len);
        if (s->next_reply < s->n_replies)
            rp = s->replies[s->next_reply++];
        pthread_mutex_unlock(&s->mu);

        memmove(buf, buf + head_len + body_len, len - head_len - body_len);
        len -= head_len + body_len;
        if (send_reply(fd, &rp) != 0)
            return 0;
    }
}

static void *
server_main(void *arg)
{
    struct server *s = arg;

    while (wait_readable(s, s->listen_fd) == 0) {
        int fd = accept(s->listen_fd, NULL, NULL);

        if (fd < 0)
            continue;
        pthread_mutex_lock(&s->mu);
        s->n_connections++;
        pthread_mutex_unlock(&s->mu);
        if (serve_connection(s, fd) != 0) {
            close(fd);
            break;
        }
        close(fd);
    }
    return NULL;
}

static void
server_start(struct server *s)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof(a);

    memset(s, 0, sizeof(*s));
    assert_int_equal(pipe(s->wake), 0);
    assert_true((s->listen_fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
    assert_int_equal(bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->listen_fd, 8), 0);
    assert_int_equal(getsockname(s->listen_fd, (struct sockaddr *)&a, &alen), 0);
    s->port = ntohs(a.sin_port);
    pthread_mutex_init(&s->mu, NULL);
    assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
}

static void
server_stop(struct server *s)
{
    assert_int_equal(write(s->wake[1], "x", 1), 1);
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
    close(s->wake[0]);
    close(s->wake[1]);
    for (size_t i = 0; i < s->n_requests; i++)
        free(s->requests[i].body);
    pthread_mutex_destroy(&s->mu);
}

static void
server_reply(struct server *s, int status, const char *body)
{
    pthread_mutex_lock(&s->mu);
    assert_true(s->n_replies < MAX_EXCHANGES);
    s->replies[s->n_replies++] = (struct reply){ REPLY_NORMAL, status, body };
    pthread_mutex_unlock(&s->mu);
}

static void
server_reply_kind(struct server *s, enum reply_kind kind)
{
    pthread_mutex_lock(&s->mu);
    assert_true(s->n_replies < MAX_EXCHANGES);
    s->replies[s->n_replies++] = (struct reply){ kind, 0, "" };
    pthread_mutex_unlock(&s->mu);
}

static size_t
server_requests(struct server *s)
{
    size_t n;

    pthread_mutex_lock(&s->mu);
    n = s->n_requests;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* The value of header name in request i (a static copy), or NULL. */
static const char *
header(struct server *s, size_t i, const char *name)
{
    static char value[1024];
    char key[128];
    const char *p;

    snprintf(key, sizeof(key), "\r\n%s:", name);
    pthread_mutex_lock(&s->mu);
    p = strcasestr(s->requests[i].headers, key);
    if (p) {
        p += strlen(key);
        while (*p == ' ')
            p++;
        snprintf(value, sizeof(value), "%.*s", (int)strcspn(p, "\r"), p);
    }
    pthread_mutex_unlock(&s->mu);
    return p ? value : NULL;
}

/* ---- fixture --------------------------------------------------------------------------- */

struct fixture {
    struct server srv;
    char url[128];
    struct registry *reg;
    char errstr[512];
};

static struct registry *
new_registry(const char *url, const char *user, const char *password, long timeout_ms)
{
    struct registry_conf c = {
        .url = url, .username = user, .password = password, .verify_peer = 1,
        .timeout_ms = timeout_ms,
    };
    char errstr[256] = "";
    struct registry *r = registry_new(&c, errstr, sizeof(errstr));

    if (!r)
        fail_msg("registry_new(%s): %s", url, errstr);
    return r;
}

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    server_start(&f->srv);
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u", f->srv.port);
    f->reg = new_registry(f->url, NULL, NULL, 5000);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    registry_free(f->reg);
    server_stop(&f->srv);
    free(f);
    return 0;
}

/* ---- registering ----------------------------------------------------------------------- */

static void
test_register_returns_id(void **state)
{
    struct fixture *f = *state;
    int32_t id = -1;
    json_t *sent;

    server_reply(&f->srv, 200, "{\"id\":42}");
    assert_int_equal(registry_register(f->reg, "orders-value", SCHEMA, &id, f->errstr,
                                       sizeof(f->errstr)), REGISTRY_OK);
    assert_int_equal(id, 42);

    assert_int_equal(server_requests(&f->srv), 1);
    assert_string_equal(f->srv.requests[0].method, "POST");
    assert_string_equal(f->srv.requests[0].path, "/subjects/orders-value/versions");
    assert_string_equal(header(&f->srv, 0, "Content-Type"),
                        "application/vnd.schemaregistry.v1+json");
    assert_null(header(&f->srv, 0, "Authorization"));
    assert_null(header(&f->srv, 0, "Expect"));
    /* the body is {"schema": <the text, as is>} */
    sent = json_loads(f->srv.requests[0].body, 0, NULL);
    assert_non_null(sent);
    assert_int_equal(json_object_size(sent), 1);
    assert_string_equal(json_string_value(json_object_get(sent, "schema")), SCHEMA);
    json_decref(sent);
}

static void
test_register_cache(void **state)
{
    struct fixture *f = *state;
    int32_t id = -1;
    char other[sizeof(SCHEMA)];

    memcpy(other, SCHEMA, sizeof(SCHEMA));
    other[sizeof(SCHEMA) - 3] = ' ';    /* "}]}" -> "} }": other text, same meaning */
    server_reply(&f->srv, 200, "{\"id\":7}");
    server_reply(&f->srv, 200, "{\"id\":7}");
    server_reply(&f->srv, 200, "{\"id\":8}");

    assert_int_equal(registry_register(f->reg, "a-value", SCHEMA, &id, f->errstr,
                                       sizeof(f->errstr)), REGISTRY_OK);
    assert_int_equal(id, 7);
    id = -1;
    assert_int_equal(registry_register(f->reg, "a-value", SCHEMA, &id, f->errstr,
                                       sizeof(f->errstr)), REGISTRY_OK);
    assert_int_equal(id, 7);
    assert_int_equal(server_requests(&f->srv), 1);     /* the second call sent nothing */

    /* same text under another subject, other text under the same subject: both ask */
    assert_int_equal(registry_register(f->reg, "b-value", SCHEMA, &id, f->errstr,
                                       sizeof(f->errstr)), REGISTRY_OK);
    assert_int_equal(id, 7);
    assert_int_equal(registry_register(f->reg, "a-value", other, &id, f->errstr,
                                       sizeof(f->errstr)), REGISTRY_OK);
    assert_int_equal(id, 8);
    assert_int_equal(server_requests(&f->srv), 3);
    assert_string_equal(f->srv.requests[1].path, "/subjects/b-value/versions");

    /* all of them now answered from the cache */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(registry_register(f->reg, "a-value", SCHEMA, &id, f->errstr,
                                           sizeof(f->errstr)), REGISTRY_OK);
        assert_int_equal(id, 7);
        assert_int_equal(registry_register(f->reg, "b-value", SCHEMA, &id, f->errstr,
                                           sizeof(f->errstr)), REGISTRY_OK);
        assert_int_equal(id, 7);
        assert_int_equal(registry_register(f->reg, "a-value", other, &id, f->errstr,
                                           sizeof(f->errstr)), REGISTRY_OK);
        assert_int_equal(id, 8);
    }
    assert_int_equal(server_requests(&f->srv), 3);
}

/* Many subjects: the cache grows past its first tables (64, 128 buckets) and still finds
 * every one. */
static void
test_register_cache_grows(void **state)
{
    enum { N = 150 };
    struct fixture *f = *state;
    int32_t id;
    char subject[32];
    static char bodies[N][32];

    for (int i = 0; i < N; i++) {
        snprintf(bodies[i], sizeof(bodies[i]), "{\"id\":%d}", 100 + i);
        server_reply(&f->srv, 200, bodies[i]);
    }
    for (int i = 0; i < N; i++) {
        snprintf(subject, sizeof(subject), "s%d-value", i);
        assert_int_equal(registry_register(f->reg, subject, SCHEMA, &id, f->errstr,
                                           sizeof(f->errstr)), REGISTRY_OK);
        assert_int_equal(id, 100 + i);
    }
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            snprintf(subject, sizeof(subject), "s%d-value", i);
            assert_int_equal(registry_register(f->reg, subject, SCHEMA, &id, f->errstr,
                                               sizeof(f->errstr)), REGISTRY_OK);
            assert_int_equal(id, 100 + i);
        }
    }
    assert_int_equal(server_requests(&f->srv), N);
}

static void
test_register_failure_not_cached(void **state)
{
    struct fixture *f = *state;
    int32_t id = -1;

    server_reply(&f->srv, 503, "{\"error_code\":50003,\"message\":\"store not ready\"}");
    server_reply(&f->srv, 200, "{\"id\":3}");
    assert_int_equal(registry_register(f->reg, "t-value", SCHEMA, &id, f->errstr,
                                       sizeof(f->errstr)), REGISTRY_UNAVAILABLE);
    assert_int_equal(id, -1);     /* untouched on failure */
    assert_int_equal(registry_register(f->reg, "t-value", SCHEMA, &id, f->errstr,
                                       sizeof(f->errstr)), REGISTRY_OK);
    assert_int_equal(id, 3);
    assert_int_equal(server_requests(&f->srv), 2);
}

static void
test_register_keeps_connection(void **state)
{
    struct fixture *f = *state;
    int32_t id;

    server_reply(&f->srv, 200, "{\"id\":1}");
    server_reply(&f->srv, 409, "{\"error_code\":409,\"message\":\"incompatible\"}");
    server_reply(&f->srv, 200, "{\"id\":2}");
    registry_register(f->reg, "x-value", SCHEMA, &id, f->errstr, sizeof(f->errstr));
    registry_register(f->reg, "y-value", SCHEMA, &id, f->errstr, sizeof(f->errstr));
    registry_register(f->reg, "z-value", SCHEMA, &id, f->errstr, sizeof(f->errstr));
    assert_int_equal(server_requests(&f->srv), 3);
    pthread_mutex_lock(&f->srv.mu);
    assert_int_equal(f->srv.n_connections, 1);
    pthread_mutex_unlock(&f->srv.mu);
}

static void
test_register_escapes_subject(void **state)
{
    struct fixture *f = *state;
    int32_t id;

    server_reply(&f->srv, 200, "{\"id\":5}");
    assert_int_equal(registry_register(f->reg, "shop/orders v1?x=%&y#z-\xc3\xa9", SCHEMA, &id,
                                       f->errstr, sizeof(f->errstr)), REGISTRY_OK);
    assert_string_equal(f->srv.requests[0].path,
                        "/subjects/shop%2Forders%20v1%3Fx%3D%25%26y%23z-%C3%A9/versions");
}

/* A base with a path and trailing slashes: Apicurio's /apis/ccompat/v7/. */
static void
test_register_base_path(void **state)
{
    struct fixture *f = *state;
    char url[160];
    struct registry *r;
    int32_t id;

    snprintf(url, sizeof(url), "%s/apis/ccompat/v7//", f->url);
    r = new_registry(url, NULL, NULL, 5000);
    server_reply(&f->srv, 200, "{\"id\":9}");
    assert_int_equal(registry_register(r, "t-value", SCHEMA, &id, f->errstr,
                                       sizeof(f->errstr)), REGISTRY_OK);
    assert_int_equal(id, 9);
    assert_string_equal(f->srv.requests[0].path, "/apis/ccompat/v7/subjects/t-value/versions");
    registry_free(r);
}

static void
test_register_basic_auth(void **state)
{
    struct fixture *f = *state;
    struct registry *r = new_registry(f->url, "relay", PASSWORD, 5000);
    int32_t id;

    server_reply(&f->srv, 200, "{\"id\":11}");
    assert_int_equal(registry_register(r, "t-value", SCHEMA, &id, f->errstr,
                                       sizeof(f->errstr)), REGISTRY_OK);
    /* base64("relay:s3cret-pass"), on the first request: no 401 round trip */
    assert_int_equal(server_requests(&f->srv), 1);
    assert_string_equal(header(&f->srv, 0, "Authorization"), "Basic cmVsYXk6czNjcmV0LXBhc3M=");
    registry_free(r);
}

/* 401 and 403 are configuration errors: UNAVAILABLE, and the password stays out of errstr even
 * when the registry echoes it. */
static void
test_register_auth_failure(void **state)
{
    struct fixture *f = *state;
    struct registry *r = new_registry(f->url, "relay", PASSWORD, 5000);
    int32_t id;

    server_reply(&f->srv, 401, "{\"error_code\":40101,\"message\":\"bad credentials relay:"
                 PASSWORD " (" PASSWORD ")\"}");
    server_reply(&f->srv, 403, "{\"error_code\":40301,\"message\":\"User relay cannot access "
                 "the resource.\"}");
    assert_int_equal(registry_register(r, "t-value", SCHEMA, &id, f->errstr,
                                       sizeof(f->errstr)), REGISTRY_UNAVAILABLE);
    assert_non_null(strstr(f->errstr, "POST /subjects/t-value/versions: HTTP 401"));
    assert_non_null(strstr(f->errstr, "bad credentials relay:*** (***)"));
    assert_non_null(strstr(f->errstr, "check the registry's username and password"));
    assert_null(strstr(f->errstr, PASSWORD));
    assert_null(strstr(f->errstr, "s3cret"));

    assert_int_equal(registry_register(r, "t-value", SCHEMA, &id, f->errstr,
                                       sizeof(f->errstr)), REGISTRY_UNAVAILABLE);
    assert_non_null(strstr(f->errstr, "HTTP 403 (error_code 40301): User relay cannot"));

    /* an errstr that cuts the echoed password in half shows none of it either */
    {
        char small[96];

        server_reply(&f->srv, 401, "{\"message\":\"xxxxxxxxxxxxxxxxxxxxxxxxxx " PASSWORD "\"}");
        registry_register(r, "t-value", SCHEMA, &id, small, sizeof(small));
        assert_null(strstr(small, "s3cr"));
    }
    registry_free(r);
}

/* ---- how answers are classified -------------------------------------------------------- */

static const struct {
    int status;
    const char *body;
    enum registry_result result;
    const char *error;      /* substring of errstr */
} answer_cases[] = {
    { 409, "{\"error_code\":409,\"message\":\"Schema being registered is incompatible with an "
           "earlier schema for subject \\\"t-value\\\"\"}", REGISTRY_REJECTED,
      "schema registry POST /subjects/t-value/versions: HTTP 409 (error_code 409): Schema "
      "being registered is incompatible with an earlier schema for subject \"t-value\"" },
    { 422, "{\"error_code\":42201,\"message\":\"Invalid schema\"}", REGISTRY_REJECTED,
      "HTTP 422 (error_code 42201): Invalid schema" },
    { 422, "", REGISTRY_REJECTED, "versions: HTTP 422" },
    { 500, "{\"error_code\":50001,\"message\":\"Error in the backend data store\"}",
      REGISTRY_UNAVAILABLE, "HTTP 500 (error_code 50001): Error in the backend data store" },
    { 503, "<html><body>\n<h1>503 Service Unavailable</h1>\n</body></html>",
      REGISTRY_UNAVAILABLE, "HTTP 503: <html><body> <h1>503 Service Unavailable</h1> </body>" },
    { 429, "{\"message\":\"slow down\"}", REGISTRY_UNAVAILABLE, "HTTP 429: slow down" },
    { 408, "", REGISTRY_UNAVAILABLE, "HTTP 408" },
    { 404, "{\"error_code\":404,\"message\":\"HTTP 404 Not Found\"}", REGISTRY_UNAVAILABLE,
      "is the url the registry's API base" },
    { 400, "Not able to deserialize data provided.", REGISTRY_UNAVAILABLE,
      "HTTP 400: Not able to deserialize data provided." },
    { 302, "", REGISTRY_UNAVAILABLE, "redirects are not followed" },
    /* 2xx, but not what the API promises: not the schema's fault */
    { 200, "<html>login page</html>", REGISTRY_UNAVAILABLE,
      "HTTP 200 but the answer is not {\"id\": <schema id>}: \"<html>login page</html>\"" },
    { 200, "", REGISTRY_UNAVAILABLE, "the answer is not {\"id\"" },
    { 200, "{\"id\":\"7\"}", REGISTRY_UNAVAILABLE, "the answer is not {\"id\"" },
    { 200, "{\"id\":7.5}", REGISTRY_UNAVAILABLE, "the answer is not {\"id\"" },
    { 200, "{\"id\":-1}", REGISTRY_UNAVAILABLE, "the answer is not {\"id\"" },
    { 200, "{\"id\":2147483648}", REGISTRY_UNAVAILABLE, "the answer is not {\"id\"" },
    { 200, "[{\"id\":7}]", REGISTRY_UNAVAILABLE, "the answer is not {\"id\"" },
    { 200, "{\"id\":7", REGISTRY_UNAVAILABLE, "the answer is not {\"id\"" },
};

static void
test_register_answers(void **state)
{
    struct fixture *f = *state;

    for (size_t i = 0; i < ARRAY_SIZE(answer_cases); i++) {
        int32_t id = -1;
        enum registry_result res;

        server_reply(&f->srv, answer_cases[i].status, answer_cases[i].body);
        f->errstr[0] = '\0';
        res = registry_register(f->reg, "t-value", SCHEMA, &id, f->errstr, sizeof(f->errstr));
        if (res != answer_cases[i].result || !strstr(f->errstr, answer_cases[i].error))
            fail_msg("case %zu (HTTP %d %s): result %d, errstr \"%s\"; expected %d and \"%s\"",
                     i, answer_cases[i].status, answer_cases[i].body, res, f->errstr,
                     answer_cases[i].result, answer_cases[i].error);
        assert_int_equal(id, -1);
        assert_null(strchr(f->errstr, '\n'));
    }
    assert_int_equal(server_requests(&f->srv), ARRAY_SIZE(answer_cases));
}

static void
test_register_connection_refused(void **state)
{
    struct fixture *f = *state;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof(a);
    char url[64];
    struct registry *r;
    int32_t id = -1;
    /* bound but not listening: connecting is refused, and nobody else can take the port */
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", ntohs(a.sin_port));
    r = new_registry(url, "relay", PASSWORD, 5000);

    assert_int_equal(registry_register(r, "t-value", SCHEMA, &id, f->errstr,
                                       sizeof(f->errstr)), REGISTRY_UNAVAILABLE);
    assert_non_null(strstr(f->errstr, "schema registry POST /subjects/t-value/versions: "));
    /* "Failed to connect to 127.0.0.1 port N ...: Couldn't connect to server" */
    assert_non_null(strstr(f->errstr, "onnect"));
    assert_null(strstr(f->errstr, PASSWORD));
    assert_int_equal(id, -1);
    registry_free(r);
    close(fd);
}

static void
test_register_timeout(void **state)
{
    struct fixture *f = *state;
    struct registry *r = new_registry(f->url, NULL, NULL, 300);
    int32_t id = -1;

    server_reply_kind(&f->srv, REPLY_HANG);
    assert_int_equal(registry_register(r, "t-value", SCHEMA, &id, f->errstr,
                                       sizeof(f->errstr)), REGISTRY_UNAVAILABLE);
    assert_non_null(strstr(f->errstr, "imed out"));
    registry_free(r);
}

static void
test_register_no_answer(void **state)
{
    struct fixture *f = *state;
    int32_t id = -1;

    server_reply_kind(&f->srv, REPLY_CLOSE);
    assert_int_equal(registry_register(f->reg, "t-value", SCHEMA, &id, f->errstr,
                                       sizeof(f->errstr)), REGISTRY_UNAVAILABLE);
    assert_non_null(strstr(f->errstr, "schema registry POST /subjects/t-value/versions: "));
    /* the next request opens a new connection and succeeds */
    server_reply(&f->srv, 200, "{\"id\":4}");
    assert_int_equal(registry_register(f->reg, "t-value", SCHEMA, &id, f->errstr,
                                       sizeof(f->errstr)), REGISTRY_OK);
    assert_int_equal(id, 4);
}

static void
test_register_answer_too_large(void **state)
{
    struct fixture *f = *state;
    int32_t id = -1;

    server_reply_kind(&f->srv, REPLY_HUGE);
    assert_int_equal(registry_register(f->reg, "t-value", SCHEMA, &id, f->errstr,
                                       sizeof(f->errstr)), REGISTRY_UNAVAILABLE);
    assert_non_null(strstr(f->errstr, "answer larger than 1048576 bytes"));
}

static void
test_register_refuses_before_sending(void **state)
{
    struct fixture *f = *state;
    int32_t id = -1;

    assert_int_equal(registry_register(f->reg, "t-value", "{\"doc\":\"\xff\xfe\"}", &id,
                                       f->errstr, sizeof(f->errstr)), REGISTRY_REJECTED);
    assert_non_null(strstr(f->errstr, "not valid UTF-8"));
    assert_int_equal(registry_register(f->reg, "", SCHEMA, &id, f->errstr, sizeof(f->errstr)),
                     REGISTRY_REJECTED);
    assert_non_null(strstr(f->errstr, "subject is empty"));
    assert_int_equal(server_requests(&f->srv), 0);
    assert_int_equal(id, -1);
}

/* A schema above libcurl's "Expect: 100-continue" threshold (1 MiB in 7.88, less in older ones)
 * goes in one round trip, without the 1 s wait for a "100 Continue" registries do not send. */
static void
test_register_large_schema(void **state)
{
    struct fixture *f = *state;
    static const char head[] = "{\"type\":\"enum\",\"name\":\"E\",\"doc\":\"";
    size_t n = 1500000;
    char *big = malloc(n + 64);
    int32_t id = -1;
    json_t *sent;

    assert_non_null(big);
    memcpy(big, head, sizeof(head) - 1);
    memset(big + sizeof(head) - 1, 'd', n);
    strcpy(big + sizeof(head) - 1 + n, "\",\"symbols\":[\"A\"]}");
    server_reply(&f->srv, 200, "{\"id\":12}");
    assert_int_equal(registry_register(f->reg, "e-value", big, &id, f->errstr,
                                       sizeof(f->errstr)), REGISTRY_OK);
    assert_int_equal(id, 12);
    assert_null(header(&f->srv, 0, "Expect"));
    sent = json_loads(f->srv.requests[0].body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(sent, "schema")), big);
    json_decref(sent);
    free(big);
}

/* ---- fetching -------------------------------------------------------------------------- */

static void
test_fetch(void **state)
{
    struct fixture *f = *state;
    char *text = NULL;

    server_reply(&f->srv, 200, "{\"schema\":\"{\\\"type\\\":\\\"string\\\"}\",\"references\":[]}");
    assert_int_equal(registry_fetch(f->reg, 7, &text, f->errstr, sizeof(f->errstr)),
                     REGISTRY_OK);
    assert_string_equal(text, "{\"type\":\"string\"}");
    free(text);
    assert_string_equal(f->srv.requests[0].method, "GET");
    assert_string_equal(f->srv.requests[0].path, "/schemas/ids/7");
    assert_null(header(&f->srv, 0, "Content-Type"));
    assert_string_equal(f->srv.requests[0].body, "");
}

static void
test_fetch_failures(void **state)
{
    struct fixture *f = *state;
    char *text = NULL;

    server_reply(&f->srv, 404, "{\"error_code\":40403,\"message\":\"Schema 99 not found\"}");
    assert_int_equal(registry_fetch(f->reg, 99, &text, f->errstr, sizeof(f->errstr)),
                     REGISTRY_REJECTED);
    assert_non_null(strstr(f->errstr, "schema registry GET /schemas/ids/99: HTTP 404 "
                                      "(error_code 40403): Schema 99 not found"));
    /* a 404 that is not the registry's "no such schema": the url is wrong */
    server_reply(&f->srv, 404, "<html>Not Found</html>");
    assert_int_equal(registry_fetch(f->reg, 1, &text, f->errstr, sizeof(f->errstr)),
                     REGISTRY_UNAVAILABLE);
    server_reply(&f->srv, 404, "{\"error_code\":404,\"message\":\"HTTP 404 Not Found\"}");
    assert_int_equal(registry_fetch(f->reg, 1, &text, f->errstr, sizeof(f->errstr)),
                     REGISTRY_UNAVAILABLE);
    assert_non_null(strstr(f->errstr, "is the url the registry's API base"));
    server_reply(&f->srv, 200, "{\"schema\":{\"type\":\"string\"}}");
    assert_int_equal(registry_fetch(f->reg, 1, &text, f->errstr, sizeof(f->errstr)),
                     REGISTRY_UNAVAILABLE);
    assert_non_null(strstr(f->errstr, "the answer is not {\"schema\": <text>}"));
    server_reply(&f->srv, 503, "");
    assert_int_equal(registry_fetch(f->reg, 1, &text, f->errstr, sizeof(f->errstr)),
                     REGISTRY_UNAVAILABLE);
    assert_int_equal(server_requests(&f->srv), 5);
    assert_int_equal(registry_fetch(f->reg, -1, &text, f->errstr, sizeof(f->errstr)),
                     REGISTRY_REJECTED);
    assert_int_equal(server_requests(&f->srv), 5);
    assert_null(text);
}

/* ---- registry_new ---------------------------------------------------------------------- */

static void
test_new_bad_urls(void **state)
{
    static const struct {
        const char *url, *error;
    } cases[] = {
        { "", "url is empty" },
        { NULL, "url is empty" },
        { "ftp://registry:8081", "must start with http:// or https://" },
        { "registry:8081", "must start with http:// or https://" },
        { "http://", "is not a valid URL" },
        { "http://relay:" PASSWORD "@registry:8081", "must not contain credentials" },
    };
    (void)state;

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct registry_conf c = { .url = cases[i].url, .verify_peer = 1 };
        char errstr[256] = "";
        struct registry *r = registry_new(&c, errstr, sizeof(errstr));

        if (r || !strstr(errstr, cases[i].error))
            fail_msg("url \"%s\": %s, errstr \"%s\"", cases[i].url ? cases[i].url : "(null)",
                     r ? "accepted" : "refused", errstr);
        assert_null(strstr(errstr, PASSWORD));
    }
}

static void
test_new_free_null(void **state)
{
    (void)state;
    registry_free(NULL);
}

static int
group_setup(void **state)
{
    (void)state;
    log_set_level(LOG_LEVEL_WARNING);
    return registry_global_init();
}

static int
group_teardown(void **state)
{
    (void)state;
    registry_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_register_returns_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_cache_grows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_failure_not_cached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_keeps_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_escapes_subject, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_base_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_basic_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_auth_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_connection_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_no_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_answer_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_refuses_before_sending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_large_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_failures, setup, teardown),
        cmocka_unit_test(test_new_bad_urls),
        cmocka_unit_test(test_new_free_null),
    };

    return cmocka_run_group_tests_name("registry", tests, group_setup, group_teardown);
}
