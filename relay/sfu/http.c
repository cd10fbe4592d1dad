/* http.c — see http.h. */
#include "http.h"

#include <gio/gio.h>
#include <stdio.h>
#include <string.h>

#define HTTP_HEAD_MAX 4096
#define HTTP_CONN_TIMEOUT_MS 2000

struct http {
    GSocketService *service;
    uint16_t port;
    http_handler_fn fn;
    void *ctx;
    GList *conns; /* http_conn_t, so that http_free can close what is still open */
};

typedef struct {
    http_t *http;
    GSocketConnection *conn;
    GCancellable *cancel;
    guint timer;
    char head[HTTP_HEAD_MAX + 1];
    size_t len;
    char *reply;
} http_conn_t;

static void conn_free(http_conn_t *c)
{
    if (c->http)
        c->http->conns = g_list_remove(c->http->conns, c);
    if (c->timer)
        g_source_remove(c->timer);
    g_io_stream_close(G_IO_STREAM(c->conn), NULL, NULL);
    g_object_unref(c->conn);
    g_object_unref(c->cancel);
    g_free(c->reply);
    g_free(c);
}

static gboolean on_timeout(gpointer data)
{
    http_conn_t *c = data;
    c->timer = 0;
    /* Cancelling makes the pending read or write complete with G_IO_ERROR_CANCELLED, which frees. */
    g_cancellable_cancel(c->cancel);
    return G_SOURCE_REMOVE;
}

static void on_written(GObject *src, GAsyncResult *res, gpointer data)
{
    g_output_stream_write_all_finish(G_OUTPUT_STREAM(src), res, NULL, NULL);
    conn_free(data);
}

static void respond(http_conn_t *c)
{
    char path[256] = "";
    int status = 400;
    const char *type = "text/plain";
    char *body = NULL;
    if (c->http && sscanf(c->head, "GET %255s HTTP/1.", path) == 1) {
        char *q = strchr(path, '?');
        if (q)
            *q = 0;
        body = c->http->fn(c->http->ctx, path, &status, &type);
    }
    if (!body)
        body = g_strdup(status == 400 ? "bad request\n" : "");
    const char *reason = status == 200 ? "OK" : status == 404 ? "Not Found" : status == 503 ? "Service Unavailable"
                                                                                           : "Bad Request";
    c->reply = g_strdup_printf("HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                               status, reason, type, strlen(body), body);
    g_free(body);
    GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(c->conn));
    g_output_stream_write_all_async(out, c->reply, strlen(c->reply), G_PRIORITY_DEFAULT, c->cancel, on_written, c);
}

static void read_more(http_conn_t *c);

static void on_read(GObject *src, GAsyncResult *res, gpointer data)
{
    http_conn_t *c = data;
    gssize n = g_input_stream_read_finish(G_INPUT_STREAM(src), res, NULL);
    if (n <= 0) {
        conn_free(c);
        return;
    }
    c->len += (size_t)n;
    c->head[c->len] = 0;
    if (strstr(c->head, "\r\n\r\n") || strstr(c->head, "\n\n") || c->len >= HTTP_HEAD_MAX)
        respond(c);
    else
        read_more(c);
}

static void read_more(http_conn_t *c)
{
    GInputStream *in = g_io_stream_get_input_stream(G_IO_STREAM(c->conn));
    g_input_stream_read_async(in, c->head + c->len, HTTP_HEAD_MAX - c->len, G_PRIORITY_DEFAULT, c->cancel, on_read, c);
}

static gboolean on_incoming(GSocketService *service, GSocketConnection *conn, GObject *source, gpointer data)
{
    (void)service;
    (void)source;
    http_t *h = data;
    http_conn_t *c = g_new0(http_conn_t, 1);
    c->http = h;
    c->conn = g_object_ref(conn);
    c->cancel = g_cancellable_new();
    c->timer = g_timeout_add(HTTP_CONN_TIMEOUT_MS, on_timeout, c);
    h->conns = g_list_prepend(h->conns, c);
    read_more(c);
    return TRUE;
}

http_t *http_new(const char *address, uint16_t port, http_handler_fn fn, void *ctx, char *err, size_t errlen)
{
    http_t *h = g_new0(http_t, 1);
    h->fn = fn;
    h->ctx = ctx;
    h->service = g_socket_service_new();
    GInetAddress *ia = g_inet_address_new_from_string(address);
    GError *e = NULL;
    if (!ia) {
        snprintf(err, errlen, "http-address '%s' is not an IP address", address);
        goto fail;
    }
    GSocketAddress *sa = g_inet_socket_address_new(ia, port);
    GSocketAddress *eff = NULL;
    gboolean ok = g_socket_listener_add_address(G_SOCKET_LISTENER(h->service), sa, G_SOCKET_TYPE_STREAM,
                                                G_SOCKET_PROTOCOL_TCP, NULL, &eff, &e);
    g_object_unref(sa);
    g_object_unref(ia);
    if (!ok) {
        snprintf(err, errlen, "http listen %s:%u: %s", address, port, e->message);
        g_error_free(e);
        goto fail;
    }
    h->port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(eff));
    g_object_unref(eff);
    g_signal_connect(h->service, "incoming", G_CALLBACK(on_incoming), h);
    g_socket_service_start(h->service);
    return h;
fail:
    g_object_unref(h->service);
    g_free(h);
    return NULL;
}

uint16_t http_port(const http_t *h) { return h->port; }

void http_free(http_t *h)
{
    if (!h)
        return;
    g_socket_service_stop(h->service);
    g_socket_listener_close(G_SOCKET_LISTENER(h->service));
    /* The pending read or write of each open connection completes as cancelled on a later loop
     * iteration and frees it then; it must no longer find h. */
    for (GList *l = h->conns; l; l = l->next) {
        http_conn_t *c = l->data;
        c->http = NULL;
        g_cancellable_cancel(c->cancel);
    }
    g_list_free(h->conns);
    g_object_unref(h->service);
    g_free(h);
}
