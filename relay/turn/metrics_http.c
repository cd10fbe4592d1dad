/* metrics_http.c — see metrics_http.h. */
#include "metrics_http.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"
#include "net_tcp.h"
#include "net_udp.h"

#define METRICS_BODY_MAX 16384

struct metrics_http {
    int fd;
    uint16_t port;
    pthread_t thread;
    atomic_int stop;
    metrics_render_fn render;
    void *ctx;
};

static void metrics_serve(metrics_http_t *m, int fd)
{
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    /* The accepted socket is blocking with timeouts: this thread serves nothing else. */
    char req[2048];
    size_t got = 0;
    while (got < sizeof req - 1) {
        ssize_t r = recv(fd, req + got, sizeof req - 1 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
        req[got] = 0;
        if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
            break;
    }
    req[got] = 0;
    static char body[METRICS_BODY_MAX];
    char head[256];
    size_t blen;
    const char *status;
    if (strncmp(req, "GET /metrics ", 13) == 0 || strncmp(req, "GET /metrics?", 13) == 0 ||
        strncmp(req, "GET /metrics\r", 13) == 0) {
        blen = m->render(m->ctx, body, sizeof body);
        status = "200 OK";
    } else {
        blen = (size_t)snprintf(body, sizeof body, "not found: try GET /metrics\n");
        status = "404 Not Found";
    }
    int hl = snprintf(head, sizeof head,
                      "HTTP/1.0 %s\r\nContent-Type: text/plain; version=0.0.4\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                      status, blen);
    if (send(fd, head, (size_t)hl, MSG_NOSIGNAL) == hl)
        (void)!send(fd, body, blen, MSG_NOSIGNAL);
}

static void *metrics_main(void *arg)
{
    metrics_http_t *m = arg;
    while (!atomic_load(&m->stop)) {
        struct pollfd p = {.fd = m->fd, .events = POLLIN};
        int n = poll(&p, 1, 200);
        if (n <= 0)
            continue;
        int c = accept4(m->fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            continue;
        metrics_serve(m, c);
        close(c);
    }
    return NULL;
}

metrics_http_t *metrics_http_start(const addr_t *a, metrics_render_fn render, void *ctx, char *err,
                                   size_t errlen)
{
    metrics_http_t *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->render = render;
    m->ctx = ctx;
    m->fd = net_tcp_listen(a, 0);
    if (m->fd < 0) {
        char s[ADDR_STRLEN];
        snprintf(err, errlen, "cannot listen for metrics on %s: %s", addr_format(a, s, sizeof s),
                 strerror(-m->fd));
        free(m);
        return NULL;
    }
    addr_t got;
    net_local_addr(m->fd, &got);
    m->port = got.port;
    if (pthread_create(&m->thread, NULL, metrics_main, m) != 0) {
        snprintf(err, errlen, "cannot start the metrics thread");
        close(m->fd);
        free(m);
        return NULL;
    }
    return m;
}

uint16_t metrics_http_port(const metrics_http_t *m)
{
    return m->port;
}

void metrics_http_stop(metrics_http_t *m)
{
    if (!m)
        return;
    atomic_store(&m->stop, 1);
    pthread_join(m->thread, NULL);
    close(m->fd);
    free(m);
}
